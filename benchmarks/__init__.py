"""End-to-end performance benchmark of ``rpi-ess serve``, measured as a black box.

The server runs as a separate process; instruments are pseudo-terminals written by a
separate writer process; a CSC-like client in this process reads the telemetry. Nothing
here imports the server: it is measured exactly as a Pi would run it. See
docs/benchmarks.md for what each figure means and how it is taken.
"""
