"""The ``rpi-ess`` command: one module per sub-command, each with ``register(subparsers)``."""
