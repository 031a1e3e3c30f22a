"""Mutated WAV files, manifests and template files through the command line: a result or
one line, never a traceback, and nothing of the user's lost."""

from __future__ import annotations

import json
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


def _flip_bytes(data: bytes, rng: np.random.Generator) -> bytes:
    mutant = bytearray(data)
    for _ in range(rng.integers(1, 6)):
        at = int(rng.integers(0, len(mutant)))
        mutant[at] ^= 1 << int(rng.integers(0, 8))
    return bytes(mutant)


def _mutated_manifest(manifest: dict, rng: np.random.Generator) -> str:
    """A manifest changed as a person, another tool or a crash might change it."""
    strange = [None, 7, -1, 2.5, "x", [], {}, [["deep"]], "../x.wav", "/etc/passwd",
               "thesis.docx", "notes.wav", "component_00.wav", "component_09.wav", "report.html",
               "nmfaudio.json", True]  # fmt: skip
    manifest = json.loads(json.dumps(manifest))
    for _ in range(rng.integers(1, 4)):
        kind = rng.integers(0, 6)
        key = str(rng.choice(sorted(manifest) or ["files"]))
        if kind == 0:
            manifest[key] = strange[rng.integers(len(strange))]
        elif kind == 1:
            manifest.pop(key, None)
        elif kind == 2 and isinstance(manifest.get("files"), list):
            manifest["files"].append(strange[rng.integers(len(strange))])
        elif kind == 3 and isinstance(manifest.get("sizes"), dict) and manifest["sizes"]:
            name = sorted(manifest["sizes"])[0]
            manifest["sizes"][name] = strange[rng.integers(len(strange))]
        elif kind == 4:
            return "[" * int(rng.integers(1, 300_000))
        else:
            return _flip_bytes(json.dumps(manifest).encode(), rng).decode("utf-8", "replace")
    return json.dumps(manifest)


def test_mutated_manifests_lose_nothing_and_say_one_line(capsys, tmp_path):
    source = tmp_path / "in.wav"
    sf.write(source, music_like(1, seconds=0.6).T, 8000, subtype="PCM_16")
    fast = ["--n-fft", "512", "--hop", "128", "--iterations", "3", "-q"]
    rng = np.random.default_rng(20261201)
    failures, statuses = [], []
    for case in range(40):
        folder = tmp_path / f"case{case}"
        assert run(capsys, "separate", source, "-k", "2", "-o", folder, *fast)[0] == 0
        (folder / "thesis.docx").write_text("precious")
        (folder / "notes.wav").write_bytes(b"mine")
        manifest = json.loads((folder / "nmfaudio.json").read_text())
        (folder / "nmfaudio.json").write_text(_mutated_manifest(manifest, rng))
        for argv in (["separate", source, "-k", "3", "-o", folder, *fast], ["report", folder]):
            status, _, err = run(capsys, *argv)
            if "Traceback" in err or status not in (0, 1) or (status == 1 and err.count("\n") != 1):
                failures.append((case, argv[0], status, err))
        if (folder / "thesis.docx").read_text() != "precious" or not (
            folder / "notes.wav"
        ).exists():
            failures.append((case, "lost a user's file"))
        if not source.is_file():
            failures.append((case, "lost the input"))
        statuses.append(status)
    assert not failures, failures[:5]
    assert 0 < statuses.count(1) < len(statuses)  # some reports refused, some written


def test_mutated_template_files_are_one_line(capsys, tmp_path):
    source = tmp_path / "in.wav"
    sf.write(source, music_like(1, seconds=0.6).T, 8000, subtype="PCM_16")
    good = tmp_path / "good.npz"
    assert run(capsys, "learn", source, "-k", "2", "-o", good, "--n-fft", "512", "--hop", "128",
               "--iterations", "3", "-q")[0] == 0  # fmt: skip
    members = dict(np.load(good))
    values = [np.float64(np.nan), np.int64(-1), np.int64(10**12), np.str_("x"), np.zeros((2, 2)),
              np.zeros((0, 3)), np.full((257, 2), np.inf), np.str_("{" * 5000), np.bool_(True),
              np.str_('{"sparsity_W": -1}'), np.zeros(3, np.complex64)]  # fmt: skip
    rng = np.random.default_rng(20261202)
    failures, statuses = [], []
    previous = signal.signal(signal.SIGALRM, _alarm)
    for case in range(60):
        mutant = tmp_path / f"m{case}.npz"
        if case % 3 == 0:
            mutant.write_bytes(_flip_bytes(good.read_bytes(), rng))
        else:
            changed = dict(members)
            for _ in range(rng.integers(1, 3)):
                changed[str(rng.choice(sorted(changed)))] = values[rng.integers(len(values))]
            np.savez(mutant, **changed)
        signal.alarm(SECONDS_PER_CASE)
        try:
            status, _, err = run(capsys, "separate", source, "--templates", mutant, "-o",
                                 tmp_path / f"o{case}", "--iterations", "3", "-q")  # fmt: skip
        except _TooSlow:
            failures.append((case, "took too long"))
            continue
        finally:
            signal.alarm(0)
        if "Traceback" in err or status not in (0, 1) or (status == 1 and err.count("\n") != 1):
            failures.append((case, status, err))
        if status == 1 and (tmp_path / f"o{case}").exists():
            failures.append((case, "left a folder"))
        statuses.append(status)
    signal.signal(signal.SIGALRM, previous)
    assert not failures, failures[:5]
    assert statuses.count(1) > 30  # most mutants are refused: the fuzz reaches the checks
