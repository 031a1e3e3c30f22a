"""What ``--plot`` costs: the same separation with and without the pictures.

    python benchmarks/bench_plot.py [--minutes 3] [--sources 3]

Makes the stereo 44.1 kHz recording of ``bench_end_to_end.py`` (3 minutes by
default), runs ``nmfaudio separate INPUT --sources S`` with and without
``--plot``, each in its own process, and prints wall time and peak resident
memory of each, and their ratios.
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
    parser.add_argument("--sources", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        audio = Path(tmp) / "long.wav"
        long_recording(audio, args.minutes)
        print(f"input: {args.minutes:g} min, stereo; separate --sources {args.sources}")
        command = [sys.executable, "-m", "nmfaudio", "separate", str(audio), "--sources",
                   str(args.sources), "-q"]  # fmt: skip
        plain = measure([*command, "-o", f"{tmp}/plain"])
        pictures = measure([*command, "-o", f"{tmp}/plot", "--plot"])
    print_measures({"without --plot": plain, "with --plot": pictures})
    time_ratio, memory_ratio = pictures[0] / plain[0], pictures[1] / plain[1]
    print(f"  ratio           {time_ratio:7.2f} x time, {memory_ratio:.2f} x memory")


if __name__ == "__main__":
    main()
