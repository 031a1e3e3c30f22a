"""What ``--plot`` and ``--report`` cost: the same separation with and without them.

    python benchmarks/bench_plot.py [--minutes 3] [--sources S] [--report]

Makes the stereo 44.1 kHz recording of ``bench_end_to_end.py`` (3 minutes by
default), runs ``nmfaudio separate INPUT`` (8 components, or ``--sources S``)
with and without ``--plot`` (and ``--report`` with ``--report``), each in its
own process, and prints wall time and peak resident memory of each, and their
ratios. Issue 22's target: at most 1.2 x time and memory on 10 minutes
(``--minutes 10 --report``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench_end_to_end import long_recording, measure, print_measures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3)
    parser.add_argument("--sources", type=int, default=None)
    parser.add_argument("--report", action="store_true", help="the report beside the pictures")
    args = parser.parse_args()
    mode = ["--sources", str(args.sources)] if args.sources else []
    extras = ["--plot", "--report"] if args.report else ["--plot"]
    with tempfile.TemporaryDirectory() as tmp:
        audio = Path(tmp) / "long.wav"
        long_recording(audio, args.minutes)
        print(f"input: {args.minutes:g} min, stereo; separate {' '.join(mode) or '(8 components)'}")
        command = [sys.executable, "-m", "nmfaudio", "separate", str(audio), *mode, "-q"]
        plain = measure([*command, "-o", f"{tmp}/plain"])
        pictures = measure([*command, "-o", f"{tmp}/plot", *extras])
    print_measures({"without": plain, f"with {' '.join(extras)}": pictures})
    time_ratio, memory_ratio = pictures[0] / plain[0], pictures[1] / plain[1]
    print(f"  ratio           {time_ratio:7.2f} x time, {memory_ratio:.2f} x memory")


if __name__ == "__main__":
    main()
