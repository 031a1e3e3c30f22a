"""Byte-flipped WAV files through the command line: a result or one line, never a traceback."""

from __future__ import annotations

import signal

import numpy as np
import soundfile as sf
from conftest import music_like
from test_cli import run

N_MUTANTS = 300
SECONDS_PER_CASE = 20


class _TooSlow(Exception):
    pass


def _alarm(signum, frame):
    raise _TooSlow


def test_byte_flipped_wavs(capsys, tmp_path):
    original = tmp_path / "original.wav"
    sf.write(original, music_like(1, seconds=0.6).T, 8000, subtype="PCM_16")
    data = original.read_bytes()
    rng = np.random.default_rng(20261129)
    previous = signal.signal(signal.SIGALRM, _alarm)
    failures = []
    try:
        for case in range(N_MUTANTS):
            mutant = bytearray(data)
            # Most flips in the header (where parsers go wrong), some in the samples.
            for _ in range(rng.integers(1, 9)):
                at = int(rng.integers(0, 64) if rng.random() < 0.7 else rng.integers(0, len(data)))
                mutant[at] ^= 1 << int(rng.integers(0, 8))
            folder = tmp_path / f"case{case}"
            folder.mkdir()
            source = folder / "in.wav"
            source.write_bytes(bytes(mutant))
            signal.alarm(SECONDS_PER_CASE)
            try:
                status, _, err = run(capsys, "separate", source, "-k", "2", "-o", folder / "o",
                                     "--n-fft", "512", "--hop", "128", "--iterations", "5",
                                     "-q")  # fmt: skip
            except _TooSlow:
                failures.append((case, "took too long"))
                continue
            finally:
                signal.alarm(0)
            names = sorted(p.name for p in folder.iterdir())
            if "Traceback" in err:
                failures.append((case, err))
            elif status not in (0, 1):
                failures.append((case, f"exit {status}: {err}"))
            elif status == 1 and err.count("\n") != 1:
                failures.append((case, f"not one line: {err!r}"))
            elif names != (["in.wav", "o"] if status == 0 else ["in.wav"]):
                failures.append((case, f"left {names}"))
            elif status == 0 and any(p.name.startswith(".") for p in (folder / "o").iterdir()):
                failures.append((case, "staging left behind"))
            if source.read_bytes() != bytes(mutant):
                failures.append((case, "input changed"))
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert not failures, failures[:5]
