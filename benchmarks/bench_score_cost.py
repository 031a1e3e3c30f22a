"""Cost of separating with a score: a 3-minute stereo recording with a four-instrument score,
``--score`` beside ``--sources 4`` on the same file, each in its own process.

    python benchmarks/bench_score_cost.py [--case case_004] [--minutes 3]

The recording is a rendered development piece with four parts, looped (a different offset in
each channel), and its score repeated to match; wall time and peak resident memory of each
run, and their ratio.
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from bench_score import DATA, load

from nmfaudio import Score


def measure(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (GB) of a command, from GNU time."""
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", *argv], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    peak = next(line for line in done.stderr.splitlines() if "Maximum resident" in line)
    return seconds, int(peak.split()[-1]) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="case_004")
    parser.add_argument("--minutes", type=float, default=3)
    args = parser.parse_args()
    y, sr, names, _, score = load(DATA / args.case)
    piece = y[0].size / sr
    repeats = int(np.ceil(args.minutes * 60 / piece))
    mono = np.tile(y[0], repeats)[: int(args.minutes * 60 * sr)]
    stereo = np.stack([mono, np.roll(mono, sr // 3)]).T
    notes = [dataclasses.replace(n, start=n.start + r * piece, end=n.end + r * piece)
             for r in range(repeats) for n in score.notes]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        audio, midi = Path(tmp) / "long.wav", Path(tmp) / "long.mid"
        sf.write(audio, stereo, sr, subtype="FLOAT")
        Score(tuple(notes)).to_midi(midi)
        base = [sys.executable, "-m", "nmfaudio", "separate", str(audio), "-q"]
        print(f"input: {args.minutes:g} min, stereo, {sr} Hz, {len(names)} parts ({args.case})")
        ours = measure([*base, "--score", str(midi), "-o", f"{tmp}/score"])
        blind = measure([*base, "--sources", str(len(names)), "-o", f"{tmp}/blind"])
    print(f"  --score      {ours[0]:7.1f} s   peak RSS {ours[1]:5.2f} GB")
    print(f"  --sources {len(names)}  {blind[0]:7.1f} s   peak RSS {blind[1]:5.2f} GB")
    print(
        f"  ratio        {blind[0] / ours[0]:.2f} x faster, {blind[1] / ours[1]:.2f} x less memory"
    )


if __name__ == "__main__":
    main()
