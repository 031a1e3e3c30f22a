"""Collections: throughput of ``nmfaudio separate FOLDER`` with 1 and 2 jobs and on a Dask cluster.

    python benchmarks/bench_batch.py [--files 8] [--minutes 1] [-k 16] [--iterations 200]

Makes a folder of stereo 44.1 kHz files of real music (each from another
offset), then separates it three times, each in its own process, into a fresh
folder: ``--jobs 1``, ``--jobs 2``, and ``separate_files(client=...)`` on a
``dask.distributed.LocalCluster`` of 2 worker processes (1 thread each; skipped
if dask[distributed] is absent). Prints wall time, files per minute and the
ratio to ``--jobs 1``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from bench_end_to_end import long_recording, measure

DASK = """
import sys
from dask.distributed import Client, LocalCluster
import nmfaudio
if __name__ == "__main__":
    folder, out, k, iterations = sys.argv[1:]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        result = nmfaudio.separate_files([folder], out, client=client, n_components=int(k),
                                         n_iter=int(iterations), tol=0)
    assert not result.failed, result.failed
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--minutes", type=float, default=1)
    parser.add_argument("-k", type=int, default=16)
    parser.add_argument("--iterations", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "album"
        folder.mkdir()
        long_recording(Path(tmp) / "all.wav", args.minutes * args.files)
        music, sr = sf.read(Path(tmp) / "all.wav")
        for i, piece in enumerate(np.array_split(music, args.files)):
            sf.write(folder / f"track{i:02d}.wav", piece, sr, subtype="PCM_16")
        common = ["-k", str(args.k), "--iterations", str(args.iterations), "--tol", "0", "-q"]
        runs = {}
        for jobs in (1, 2):
            runs[f"--jobs {jobs}"] = measure([
                sys.executable, "-m", "nmfaudio", "separate", str(folder), "-o",
                f"{tmp}/jobs{jobs}", "--jobs", str(jobs), *common,
            ])  # fmt: skip
        try:
            import dask.distributed  # noqa: F401

            script = Path(tmp) / "dask_run.py"
            script.write_text(DASK)
            command = [sys.executable, str(script), str(folder), f"{tmp}/dask", str(args.k),
                       str(args.iterations)]  # fmt: skip
            runs["Dask, 2 workers"] = measure(command)
        except ImportError:
            print("(dask[distributed] is not installed: no cluster run)")
    print(f"{args.files} files of {args.minutes:g} min, stereo 44.1 kHz, K={args.k},"
          f" {args.iterations} iterations")  # fmt: skip
    base = runs["--jobs 1"][0]
    for label, (seconds, gigabytes) in runs.items():
        print(f"  {label:<16} {seconds:7.1f} s  {args.files / seconds * 60:6.2f} files/min"
              f"  x{base / seconds:4.2f} vs --jobs 1  (parent RSS {gigabytes:.2f} GB)")  # fmt: skip


if __name__ == "__main__":
    main()
