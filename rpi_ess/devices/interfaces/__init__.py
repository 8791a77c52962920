"""One backend per bus kind (``device_type``): Serial, FTDI, I2C, and Simulated for ``--simulate``."""
