"""Stand-ins for hardware: instrument simulators, pseudo-terminal instruments, an SPS30 SHDLC emulator
and an emulated I2C bus with chip emulators. Used by ``--simulate``, the tests, the benchmark and diag."""
