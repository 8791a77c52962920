"""Dew point from relative humidity and air temperature (Magnus formula, PROTOCOL 4.3)."""

from __future__ import annotations

import math

__all__ = ["BETA", "LAMBDA", "dew_point", "relative_humidity"]

BETA = 17.62
LAMBDA = 243.12  # deg C


def dew_point(rh_percent: float, temperature: float) -> float:
    """Dew point in deg C; NaN where the formula is undefined.

    Unlike the reference, RH <= 0 (a sensor fault) gives NaN instead of raising.
    The operation order reproduces the reference's result to the last bit.
    """
    try:
        f = math.log(rh_percent / 100.0) + BETA * temperature / (LAMBDA + temperature)
        return LAMBDA * f / (BETA - f)
    except (ValueError, ZeroDivisionError, OverflowError):
        return math.nan


def relative_humidity(temperature: float, dew_point_c: float) -> float:
    """Inverse of :func:`dew_point` (used by the simulators to keep RH consistent)."""
    gamma_dew = BETA * dew_point_c / (LAMBDA + dew_point_c)
    gamma_air = BETA * temperature / (LAMBDA + temperature)
    return 100.0 * math.exp(gamma_dew - gamma_air)
