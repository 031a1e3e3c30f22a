"""Errors raised by nmfaudio.

Every error a user can cause derives from :class:`NmfaudioError`, so scripts can
catch one class and the command line can turn each into a single line on stderr.
"""


class NmfaudioError(Exception):
    """Base class of the errors nmfaudio raises for bad input.

    Examples
    --------
    >>> import nmfaudio
    >>> issubclass(nmfaudio.ParameterError, nmfaudio.NmfaudioError)
    True
    >>> issubclass(nmfaudio.AudioFileError, nmfaudio.NmfaudioError)
    True
    """


class ParameterError(NmfaudioError, ValueError):
    """An argument has a value nmfaudio cannot work with.

    Examples
    --------
    >>> import nmfaudio
    >>> try:
    ...     nmfaudio.Fit(n_iter=0)
    ... except nmfaudio.ParameterError as error:
    ...     print(error)
    n_iter must be a positive integer, got 0
    """


class AudioFileError(NmfaudioError, OSError):
    """An audio file cannot be read, or its content cannot be separated.

    Examples
    --------
    >>> import nmfaudio
    >>> try:
    ...     nmfaudio.load("no-such-file.wav")
    ... except nmfaudio.AudioFileError as error:
    ...     print(error)
    no-such-file.wav: no such file
    """
