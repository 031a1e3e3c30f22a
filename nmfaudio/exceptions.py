"""Errors raised by nmfaudio.

Every error a user can cause derives from :class:`NmfaudioError`, so scripts can
catch one class and the command line can turn each into a single line on stderr.
"""


class NmfaudioError(Exception):
    """Base class of the errors nmfaudio raises for bad input."""


class ParameterError(NmfaudioError, ValueError):
    """An argument has a value nmfaudio cannot work with."""


class AudioFileError(NmfaudioError, OSError):
    """An audio file cannot be read, or its content cannot be separated."""
