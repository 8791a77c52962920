"""One backend per bus kind (``device_type``): Serial, FTDI, Sensirion (SPS30 over UART), I2C.

Simulation opens the same backends on ``sim://`` ports and the emulated I2C bus factory.
"""
