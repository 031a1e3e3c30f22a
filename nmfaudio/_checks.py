"""Argument checks shared by the stages; each raises ParameterError naming the value."""

from __future__ import annotations

import numbers

from .exceptions import ParameterError


def positive_int(name: str, value: object) -> int:
    """Return ``value`` as an int if it is a whole number >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ParameterError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def non_negative_int(name: str, value: object) -> int:
    """Return ``value`` as an int if it is a whole number >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ParameterError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def non_negative_float(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a finite real number >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ParameterError(f"{name} must be a non-negative number, got {value!r}")
    if value == float("inf"):
        raise ParameterError(f"{name} must be finite, got {value!r}")
    return float(value)


def positive_float(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a finite real number > 0."""
    value = non_negative_float(name, value)
    if value == 0:
        raise ParameterError(f"{name} must be greater than 0, got {value!r}")
    return value
