"""Time per KL-NMF iteration: nmfaudio beside scikit-learn, from the same start, in one run.

    python benchmarks/bench_nmf.py [--frames 15500] [--components 16] [--iterations 20]
                                   [--no-scaling]

Prints, for float32 and float64 input of shape (1025, frames): milliseconds per
iteration of each, the speed-up, the loss of each after the same number of
iterations (they must agree within 1e-3), nmfaudio's GFLOP/s (8 F T K flops per
iteration) and its ratio to the floor set by a large sgemm on this machine.
Then a scaling table of nmfaudio's time per iteration over T and K.
Needs scikit-learn (pip install '.[test]').
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.decomposition import non_negative_factorization

from nmfaudio import kl_divergence, nmf
from nmfaudio.nmf import initialize

N_FREQ = 1025


def spectrogram(n_frames: int, seed: int = 0) -> np.ndarray:
    """A music-like magnitude spectrogram: harmonic templates, sparse activations, noise floor."""
    rng = np.random.default_rng(seed)
    freqs = np.arange(N_FREQ)
    templates = []
    for f0 in rng.uniform(8, 60, size=24):
        partials = np.arange(1, 16) * f0
        templates.append(
            sum(np.exp(-0.5 * ((freqs - p) / 1.5) ** 2) / h for h, p in enumerate(partials, 1))
        )
    W = np.array(templates).T + 1e-3
    H = rng.exponential(size=(24, n_frames)) * (rng.random((24, n_frames)) < 0.15)
    return (W @ H + 1e-4 * rng.random((N_FREQ, n_frames))).astype(np.float32)


def per_iteration(run, n_iter: int) -> float:
    """Seconds per iteration: (time of n_iter + 2) - (time of 2), so setup cancels out."""
    run(2)  # warm up: first-call costs, page faults
    start = time.perf_counter()
    run(2)
    short = time.perf_counter() - start
    start = time.perf_counter()
    run(n_iter + 2)
    return (time.perf_counter() - start - short) / n_iter


def sgemm_gflops() -> float:
    a = np.random.default_rng(0).random((3000, 3000), dtype=np.float32)
    a @ a
    start = time.perf_counter()
    for _ in range(5):
        a @ a
    return 5 * 2 * 3000**3 / (time.perf_counter() - start) / 1e9


def compare(V: np.ndarray, k: int, n_iter: int, floor_gflops: float) -> None:
    W0, H0 = initialize(V, k, seed=0)
    flops = 8 * V.shape[0] * V.shape[1] * k

    def ours(n):
        return nmf(V, k, W=W0, H=H0, n_iter=n, tol=0)  # float32 compute, whatever the input

    def theirs(n):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "maximum number of iterations reached"
            return non_negative_factorization(
                V, W=W0.astype(V.dtype), H=H0.astype(V.dtype), n_components=k, init="custom",
                beta_loss="kullback-leibler", solver="mu", max_iter=n, tol=0,
            )  # fmt: skip

    t_ours = per_iteration(ours, n_iter)
    t_theirs = per_iteration(theirs, n_iter)
    ours_fit = ours(n_iter)
    W_sk, H_sk, _ = theirs(n_iter)
    V64 = V.astype(np.float64)
    loss_ours = ours_fit.losses[-1]
    loss_theirs = kl_divergence(V64, W_sk.astype(np.float64), H_sk.astype(np.float64))
    gflops = flops / t_ours / 1e9
    print(f"\n{V.dtype} input, V {V.shape}, K={k}, {n_iter} iterations timed")
    print(f"  nmfaudio      {t_ours * 1e3:8.1f} ms/iter   {gflops:6.1f} GFLOP/s")
    print(f"  scikit-learn  {t_theirs * 1e3:8.1f} ms/iter")
    print(f"  speed-up      {t_theirs / t_ours:8.2f} x")
    floor_ms = flops / floor_gflops / 1e6
    print(f"  floor         {floor_ms:8.1f} ms/iter at {floor_gflops:.0f} GFLOP/s (large sgemm);"
          f" nmfaudio is {t_ours * 1e3 / floor_ms:.2f} x the floor")  # fmt: skip
    print(f"  loss after {n_iter}: nmfaudio {loss_ours:.6g}, scikit-learn {loss_theirs:.6g},"
          f" relative difference {abs(loss_ours - loss_theirs) / loss_theirs:.1e}")  # fmt: skip


def time_ours(V: np.ndarray, k: int, n_iter: int) -> float:
    W0, H0 = initialize(V, k, seed=0)
    return per_iteration(lambda n: nmf(V, k, W=W0, H=H0, n_iter=n, tol=0), n_iter)


def scaling(n_iter: int) -> None:
    print("\nnmfaudio ms per iteration (float32); rows: frames T, columns: components K")
    ks = (4, 16, 64)
    print("  T \\ K " + "".join(f"{k:>10d}" for k in ks) + "   ms per 1000 frames at K=16")
    for n_frames in (4000, 16000, 64000):
        V = spectrogram(n_frames, seed=1)
        row = [time_ours(V, k, n_iter) for k in ks]
        cells = "".join(f"{t * 1e3:10.1f}" for t in row)
        print(f"  {n_frames:6d}{cells}   {row[1] * 1e3 / n_frames * 1000:8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=15500)
    parser.add_argument("--components", type=int, default=16)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--no-scaling", action="store_true")
    args = parser.parse_args()
    floor = sgemm_gflops()
    V = spectrogram(args.frames)
    for dtype in (np.float32, np.float64):
        compare(V.astype(dtype), args.components, args.iterations, floor)
    if not args.no_scaling:
        scaling(max(5, args.iterations // 4))


if __name__ == "__main__":
    main()
