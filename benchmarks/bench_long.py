"""Long recordings: time and peak memory of ``nmfaudio separate`` as the duration grows.

    python benchmarks/bench_long.py [--minutes 10 30 60] [--mono-minutes 180] [-k 16]
                                    [--iterations 200]

Each run is ``nmfaudio separate INPUT -k K --iterations N --tol 0`` on real music
looped to the duration (stereo 44.1 kHz, and one long mono file), in its own
process; the outputs are deleted between runs. Prints wall time, peak RSS, the
size of the magnitude spectrogram V (the one array that grows with the
duration), and the ratios to the first duration: both must grow linearly.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench_end_to_end import SR, long_recording, measure

N_FREQ = 1025
HOP = 512


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[10, 30, 60])
    parser.add_argument("--mono-minutes", type=float, nargs="*", default=[180])
    parser.add_argument("-k", type=int, default=16)
    parser.add_argument("--iterations", type=int, default=200)
    args = parser.parse_args()
    runs = [(m, 2) for m in args.minutes] + [(m, 1) for m in args.mono_minutes]
    print(f"K={args.k}, {args.iterations} iterations, --tol 0, 44.1 kHz")
    print(f"{'minutes':>8} {'channels':>8} {'V (GB)':>7} {'wall (s)':>9} {'peak RSS (GB)':>14}"
          f" {'s per min':>10} {'time ratio':>11} {'min ratio':>10}")  # fmt: skip
    first = None
    for minutes, channels in runs:
        with tempfile.TemporaryDirectory() as tmp:
            audio = Path(tmp) / "long.wav"
            long_recording(audio, minutes, channels)
            seconds, gigabytes = measure([
                sys.executable, "-m", "nmfaudio", "separate", str(audio), "-o", f"{tmp}/out",
                "-k", str(args.k), "--iterations", str(args.iterations), "--tol", "0", "-q",
            ])  # fmt: skip
        v_gb = (1 + minutes * 60 * SR // HOP) * N_FREQ * 4 / 1e9
        first = first or (minutes, seconds)
        print(f"{minutes:8g} {channels:8d} {v_gb:7.2f} {seconds:9.1f} {gigabytes:14.2f}"
              f" {seconds / minutes:10.2f} {seconds / first[1]:11.2f}"
              f" {minutes / first[0]:10.2f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
