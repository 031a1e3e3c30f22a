"""Whole separations of a long recording: nmfaudio's CLI beside the scikit-learn recipe.

    python benchmarks/bench_end_to_end.py [--minutes 10] [-k 16] [--iterations 200]
                                          [--sources S [--restarts R]
                                           [--windows SECONDS ... [--windows-restarts R]]]
                                          [--baseline CHECKOUT]
                                          [--loop FILE ...]

Makes a stereo 44.1 kHz recording of the given length (real music from
../shared/data/separation when present, else the synthesized example, looped
with a different offset in each channel), then runs
``nmfaudio separate INPUT -k K --iterations N --tol 0`` and
``benchmarks/sklearn_recipe.py`` on it, each in its own process, and prints
wall time and peak resident memory of each, and their ratios.

``--loop FILE ...``: loop these recordings instead (a drum kit, say, to time
``--sources`` where the recording is mostly percussive and each restart is
also grouped by its standardised MFCCs).

``--sources S``: nmfaudio separates S sources (``--sources S``, its default
components per restart unless ``-k`` is given) and the recipe factorizes
K = S; ``--restarts R`` its restarts (``--restarts 1``, the fast way, is never
regrouped, so it takes no percussive share since 0.7.1); ``--windows SECONDS ...``
also runs it with those STFT windows, beside the same command without, with
``--windows-restarts`` restarts (of all the windows together; default: as the
other). ``--baseline
CHECKOUT``: also runs nmfaudio from another checkout's source (a previous
release, say), the same command, and prints this one's ratios to it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED = Path(os.environ.get("NMFAUDIO_SHARED_DATA", REPO.parent / "shared" / "data"))
SR = 44100


def long_recording(path: Path, minutes: float, channels: int = 2, sources=None) -> None:
    """Real music (``sources``, else the shared recordings) looped to ``minutes``, 16-bit,
    stereo (the right channel a third of a second ahead) or mono."""
    sources = (
        sources
        or sorted(SHARED.glob("separation/*/mixture.wav"))
        or [REPO / "data" / "example" / "mixture.wav"]
    )
    pieces = []
    for source in sources:
        y, _ = librosa.load(source, sr=SR, mono=True)
        pieces.append(y / max(np.abs(y).max(), 1e-9) * 0.5)
    music = np.concatenate(pieces)
    n = int(minutes * 60 * SR)
    reps = -(-n // music.size) + 1
    looped = np.tile(music, reps)
    shift = SR // 3  # the right channel runs a third of a second ahead
    signal = np.stack([looped[:n], 0.8 * looped[shift : shift + n]][:channels])
    sf.write(path, signal.T, SR, subtype="PCM_16")


def measure(command: list[str], pythonpath: str | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (GB) of one child process (with ``PYTHONPATH``, if given).

    The peak is the child's own high-water mark (``VmHWM`` in /proc), read
    until it exits: the ``ru_maxrss`` that ``wait4`` reports counts what the
    child inherited from this process at the fork (measured here: 0.65 GB too
    much for a 30-minute input, 2.2 GB for a 60-minute one).
    """
    start = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=pythonpath) if pythonpath else None
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=env)
    status_file = Path(f"/proc/{process.pid}/status")
    peak_kb = 0
    while process.poll() is None:
        try:
            for line in status_file.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak_kb = max(peak_kb, int(line.split()[1]))
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"failed ({process.returncode}): {' '.join(command)}")
    return elapsed, peak_kb * 1024 / 1e9


def print_measures(rows: dict[str, tuple[float, float]]) -> None:
    """One line per run: wall time and peak RSS, as :func:`measure` gives them."""
    for label, (seconds, gigabytes) in rows.items():
        print(f"  {label:<16}  {seconds:7.1f} s   peak RSS {gigabytes:5.2f} GB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("-k", type=int)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--sources", type=int)
    parser.add_argument("--restarts", type=int, help="with --sources: its restarts")
    parser.add_argument("--windows", nargs="+", help="with --sources: also with these windows")
    parser.add_argument("--windows-restarts", type=int, help="with --windows: their restarts")
    parser.add_argument("--baseline", type=Path, help="another checkout of nmfaudio to time")
    parser.add_argument("--loop", type=Path, nargs="+", help="recordings to loop instead")
    args = parser.parse_args()
    k = args.k or (None if args.sources else 16)
    with tempfile.TemporaryDirectory() as tmp:
        audio = Path(tmp) / "long.wav"
        long_recording(audio, args.minutes, sources=args.loop)
        print(f"input: {args.minutes:g} min, stereo, {SR} Hz;", end=" ")
        asked = [*(["--sources", str(args.sources)] if args.sources else []),
                 *(["--restarts", str(args.restarts)] if args.restarts else []),
                 *(["-k", str(k)] if k else [])]  # fmt: skip
        print(" ".join(asked), f"{args.iterations} iterations")

        def ours(out: str) -> list[str]:
            return [sys.executable, "-m", "nmfaudio", "separate", str(audio), "-o", out,
                    "--tol", "0", "-q", *asked, "--iterations", str(args.iterations)]  # fmt: skip

        rows = {"nmfaudio": measure(ours(f"{tmp}/ours"))}
        if args.windows:
            restarts = ["--restarts", str(args.windows_restarts)] if args.windows_restarts else []
            windowed = [*ours(f"{tmp}/windows"), "--windows", *args.windows, *restarts]
            rows["with --windows"] = measure(windowed)
        if args.baseline:
            rows["baseline"] = measure(ours(f"{tmp}/baseline"), str(args.baseline.resolve()))
        rows["scikit-learn"] = measure([sys.executable, str(HERE / "sklearn_recipe.py"),
                                        str(audio), f"{tmp}/theirs", "-k", str(args.sources or k),
                                        "--iterations", str(args.iterations)])  # fmt: skip
    print_measures(rows)
    for peer in ("with --windows", "baseline", "scikit-learn"):
        if peer in rows:
            speed, memory = rows[peer][0] / rows["nmfaudio"][0], rows[peer][1] / rows["nmfaudio"][1]
            print(f"  ratio to {peer:<12}{speed:7.2f} x faster, {memory:.2f} x less memory")


if __name__ == "__main__":
    main()
