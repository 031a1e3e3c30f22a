"""β-NMF beside scikit-learn's ``solver="mu"``, from the same start, in one run.

    python benchmarks/bench_nmf.py [--frames 15500] [--components 16] [--iterations 20]
                                   [--agreement-frames 1500] [--no-scaling]

Prints:
1. agreement: for β in {0, 0.5, 1, 1.5, 2}, without and with penalties on H
   (scikit-learn's alpha_H with l1_ratio 1 and 0), the divergence after 200
   iterations of each from the same start, and their relative difference
   (target: within 1e-3), on V of shape (1025, agreement frames);
2. speed: milliseconds per iteration of each at V (1025, frames), float32,
   K components, the same β, and the speed-up; for β = 1 also the GFLOP/s
   and the floor a large sgemm sets on this machine;
3. the cost of penalties: ms per iteration with L1, L2 and continuity
   against the same β without them;
4. a scaling table of nmfaudio's time per iteration over T and K, per β.
Needs scikit-learn (pip install '.[test]').
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.decomposition import non_negative_factorization

from nmfaudio import Cost, Fit, divergence, nmf
from nmfaudio.nmf import initialize

N_FREQ = 1025
BETAS = (0.0, 0.5, 1.0, 1.5, 2.0)
#: Penalties on H as scikit-learn spells them, and as nmfaudio does.
PENALTIES = {
    "none": ({}, {}),
    "L1 on H": ({"alpha_W": 0.0, "alpha_H": 1e-4, "l1_ratio": 1.0}, {"sparsity_H": 1e-4}),
    "L2 on H": ({"alpha_W": 0.0, "alpha_H": 1e-4, "l1_ratio": 0.0}, {"l2_H": 1e-4}),
}


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


def time_nmf(V, k, W0, H0, n_iter, **cost) -> float:
    """nmfaudio's seconds per iteration from the start (W0, H0), under ``Cost(**cost)``."""
    return per_iteration(
        lambda n: nmf(V, k, W=W0, H=H0, cost=Cost(**cost), fit=Fit(n_iter=n, tol=0)), n_iter
    )


def sgemm_gflops() -> float:
    a = np.random.default_rng(0).random((3000, 3000), dtype=np.float32)
    a @ a
    start = time.perf_counter()
    for _ in range(5):
        a @ a
    return 5 * 2 * 3000**3 / (time.perf_counter() - start) / 1e9


def sklearn_mu(V, W0, H0, k, beta, n_iter, **penalty):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "maximum number of iterations reached"
        W, H, _ = non_negative_factorization(
            V, W=W0.astype(V.dtype), H=H0.astype(V.dtype), n_components=k, init="custom",
            beta_loss=beta, solver="mu", max_iter=n_iter, tol=0, **penalty,
        )  # fmt: skip
    return W, H


def agreement(n_frames: int, k: int) -> None:
    V = spectrogram(n_frames, seed=2)
    W0, H0 = initialize(V, k)
    V64 = V.astype(np.float64)
    print(f"\nagreement after 200 iterations, V {V.shape} float32, K={k}, same start")
    print(f"  {'beta':>5} {'penalty':<9} {'nmfaudio':>14} {'scikit-learn':>14} {'rel. diff':>10}")
    worst = 0.0
    for beta in BETAS:
        for name, (theirs_penalty, ours_penalty) in PENALTIES.items():
            ours = nmf(
                V, k, W=W0, H=H0, cost=Cost(beta=beta, **ours_penalty),
                fit=Fit(n_iter=200, tol=0),
            )  # fmt: skip
            W, H = sklearn_mu(V, W0, H0, k, beta, 200, **theirs_penalty)
            d_ours = divergence(V64, ours.W.astype(np.float64), ours.H.astype(np.float64), beta)
            d_theirs = divergence(V64, W.astype(np.float64), H.astype(np.float64), beta)
            diff = abs(d_ours - d_theirs) / d_theirs
            worst = max(worst, diff)
            print(f"  {beta:5.1f} {name:<9} {d_ours:14.7g} {d_theirs:14.7g} {diff:10.1e}")
    print(f"  largest relative difference: {worst:.1e} (target 1e-3)")


def speed(V: np.ndarray, k: int, n_iter: int, floor_gflops: float) -> None:
    W0, H0 = initialize(V, k)
    print(f"\nspeed, V {V.shape} float32, K={k}, ms per iteration, same start, {n_iter} timed")
    print(f"  {'beta':>5} {'nmfaudio':>10} {'scikit-learn':>13} {'speed-up':>9}")
    for beta in BETAS:
        t_ours = time_nmf(V, k, W0, H0, n_iter, beta=beta)
        t_theirs = per_iteration(lambda n, b=beta: sklearn_mu(V, W0, H0, k, b, n), n_iter)
        ratio = t_theirs / t_ours
        print(f"  {beta:5.1f} {t_ours * 1e3:10.1f} {t_theirs * 1e3:13.1f} {ratio:8.2f}x")
        if beta == 1:
            flops = 8 * V.shape[0] * V.shape[1] * k
            floor_ms = flops / floor_gflops / 1e6
            print(f"        KL: {flops / t_ours / 1e9:.0f} GFLOP/s; floor {floor_ms:.1f} ms at"
                  f" {floor_gflops:.0f} GFLOP/s (large sgemm), nmfaudio"
                  f" {t_ours * 1e3 / floor_ms:.2f}x the floor")  # fmt: skip


def penalty_cost(V: np.ndarray, k: int, n_iter: int) -> None:
    W0, H0 = initialize(V, k)
    n_iter *= 3  # the differences are a few percent: time long enough to see them
    options = {
        "L1 W+H": {"sparsity_W": 1e-5, "sparsity_H": 1e-5},
        "L2 W+H": {"l2_W": 1e-5, "l2_H": 1e-5},
        "continuity": {"continuity_H": 1e-4},
    }
    print(f"\npenalties, V {V.shape} float32, K={k}: ms per iteration and ratio to none")
    print(f"  {'beta':>5} {'none':>8}" + "".join(f"{name:>20}" for name in options))
    for beta in (0.0, 1.0, 2.0):
        plain = time_nmf(V, k, W0, H0, n_iter, beta=beta)
        cells = "".join(
            f"{t * 1e3:12.1f} ({t / plain:4.2f}x)"
            for t in (time_nmf(V, k, W0, H0, n_iter, beta=beta, **p) for p in options.values())
        )
        print(f"  {beta:5.1f} {plain * 1e3:8.1f}{cells}")


def scaling(n_iter: int) -> None:
    ks = (4, 16, 64)
    for beta in (0.0, 1.0, 2.0):
        print(f"\nnmfaudio ms per iteration, beta={beta:g} (float32); rows: frames T, columns: K")
        print("  T \\ K " + "".join(f"{k:>10d}" for k in ks) + "   ms per 1000 frames at K=16")
        for n_frames in (4000, 16000, 64000):
            V = spectrogram(n_frames, seed=1)
            row = [time_nmf(V, k, *initialize(V, k), n_iter, beta=beta) for k in ks]
            cells = "".join(f"{t * 1e3:10.1f}" for t in row)
            print(f"  {n_frames:6d}{cells}   {row[1] * 1e3 / n_frames * 1000:8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=15500)
    parser.add_argument("--components", type=int, default=16)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--agreement-frames", type=int, default=1500)
    parser.add_argument("--no-scaling", action="store_true")
    args = parser.parse_args()
    floor = sgemm_gflops()
    agreement(args.agreement_frames, args.components)
    V = spectrogram(args.frames)
    speed(V, args.components, args.iterations, floor)
    penalty_cost(V, args.components, args.iterations)
    if not args.no_scaling:
        scaling(max(3, args.iterations // 2))


if __name__ == "__main__":
    main()
