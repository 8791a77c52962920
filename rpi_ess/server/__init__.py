"""The ESS server: ``SocketServer`` (the reference API), commands, validation, node limits, telemetry queues."""
