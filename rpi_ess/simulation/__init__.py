"""Stand-ins for hardware, at the lowest layer so that the real backends run above them.

* :mod:`.urlhandler`: ``sim://<sensor_type>?...`` pyserial ports with a simulated instrument
  behind them (:mod:`.line`: bytes at the instrument's rate and baud; faults);
* :mod:`.configs`: :func:`~.configs.simulated_device_config`, how ``--simulate`` and the demo
  point each configured device at a ``sim://`` port or at the emulated I2C bus;
* :mod:`.i2c`: an emulated I2C bus with chip emulators under the real Adafruit drivers;
* :mod:`.pty`, :mod:`.sps30_emulator`: instruments behind pseudo-terminals, for tests and
  ``diag --simulate``, which need a real tty;
* :mod:`.instruments`: the record generators all of them share.
"""
