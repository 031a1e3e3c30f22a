"""Argument checks shared by the stages; each raises ParameterError naming the value."""

from __future__ import annotations

import numbers

from .defaults import (
    FORMATS,
    HOP_LENGTH,
    MAX_MASK_POWER,
    MAX_N_FFT,
    MAX_SAMPLE_RATE,
    MIN_HOP,
    MIN_SAMPLE_RATE,
    SUBTYPES,
)
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


def one_of(name: str, value: object, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``."""
    if value not in choices:
        raise ParameterError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def plain_name(what: str, value: object) -> str:
    """``value`` if it can name a file inside an output folder: a non-empty printable string,
    no path separator, not hidden (``../x`` would be written outside the folder)."""
    if (
        not isinstance(value, str) or not value or value.startswith(".") or "/" in value
        or "\\" in value or not value.isprintable()
    ):  # fmt: skip
        raise ParameterError(f"{what} must be a plain file name, got {value!r}")
    return value


def usable_rate(value: int) -> bool:
    """Whether nmfaudio reads, resamples to and writes at ``value`` Hz."""
    return MIN_SAMPLE_RATE <= value <= MAX_SAMPLE_RATE


def sample_rate(name: str, value: object) -> int:
    """Return ``value`` as an int if it is a whole number of Hz nmfaudio works at."""
    value = positive_int(name, value)
    if not usable_rate(value):
        raise ParameterError(
            f"{name} must be from {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz, got {value}"
        )
    return value


def random_seed(value: object):
    """A seed: ``None``, a whole number >= 0 or a ``numpy.random.Generator``, returned as is."""
    whole = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if value is None or (whole and value >= 0):
        return value
    import numpy as np  # only here: the command line checks its seed without numpy

    if not isinstance(value, np.random.Generator):
        raise ParameterError(
            f"seed must be a whole number >= 0, None or a numpy Generator, got {value!r}"
        )
    return value


def frame_length(value: object) -> int:
    """An STFT frame length ``n_fft``: a whole number from 1 to :data:`MAX_N_FFT`."""
    value = positive_int("n_fft", value)
    if value > MAX_N_FFT:
        raise ParameterError(f"n_fft must be at most {MAX_N_FFT} samples, got {value}")
    return value


def hop(value: object) -> int:
    """An STFT hop: a whole number of at least :data:`MIN_HOP` samples."""
    value = positive_int("hop_length", value)
    if value < MIN_HOP:
        raise ParameterError(
            f"hop_length {value} would make {HOP_LENGTH / value:.0f} times the frames of the"
            f" default hop {HOP_LENGTH}, and memory and time with them: use {MIN_HOP} or more"
        )
    return value


def mask_power(value: object, name: str = "mask_power") -> float:
    """A soft-mask exponent: a number > 0, at most :data:`MAX_MASK_POWER`."""
    value = positive_float(name, value)
    if value > MAX_MASK_POWER:
        raise ParameterError(
            f"{name} must be at most {MAX_MASK_POWER:g} (masks are binary in effect by then,"
            f" and float32 cannot hold higher powers of quiet points), got {value:g}"
        )
    return value


def subtype(value: object) -> str:
    """A sample encoding from :data:`SUBTYPES`, in any case; returned upper-cased."""
    upper = str(value).upper()
    if upper not in SUBTYPES:
        raise ParameterError(f"subtype must be one of {', '.join(SUBTYPES)}, got {value!r}")
    return upper


def audio_format(value: object) -> str:
    """An output format from :data:`FORMATS`, in any case; returned lower-cased."""
    lower = str(value).lower().removeprefix(".")
    if lower not in FORMATS:
        raise ParameterError(f"format must be one of {', '.join(FORMATS)}, got {value!r}")
    return lower


def subtype_of(format_: str, value: object | None) -> str:
    """The sample encoding ``value`` (``None``: the format's default) if ``format_`` takes it."""
    if value is None:
        return FORMATS[format_][0]
    upper = subtype(value)
    if upper not in FORMATS[format_]:
        raise ParameterError(
            f"{format_} files cannot hold subtype {upper}: {format_} takes"
            f" {', '.join(FORMATS[format_])}"
        )
    return upper
