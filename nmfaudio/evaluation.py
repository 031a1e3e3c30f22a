"""Separation quality: BSS Eval (SDR, SIR, SAR, from mir_eval) and SI-SDR per source."""

from __future__ import annotations

import os
import textwrap
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio_io import load
from .defaults import METRICS_EXPLAINED
from .exceptions import AudioFileError, ParameterError
from .outputs import audio_files

#: Metrics reported per source, in table order.
METRICS = ("sdr", "sir", "sar", "si_sdr")


@dataclass
class Evaluation:
    """Scores of estimated sources against references, in dB.

    Attributes
    ----------
    names : list of str
        The reference sources, in order.
    matched : list of str
        The estimate matched to each reference.
    sdr, sir, sar, si_sdr : np.ndarray [shape=(n_sources,)]
        Per reference source.

    Examples
    --------
    >>> import numpy as np, nmfaudio
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.standard_normal((2, 8000))
    >>> scores = nmfaudio.evaluate(truth, truth[::-1] + 0.01 * rng.standard_normal((2, 8000)))
    >>> scores.matched  # the second estimate is the first part
    ['estimate_01', 'estimate_00']
    >>> bool(scores.mean()["sdr"] > 30)
    True
    """

    names: list[str]
    matched: list[str]
    sdr: np.ndarray
    sir: np.ndarray
    sar: np.ndarray
    si_sdr: np.ndarray

    def mean(self) -> dict[str, float]:
        """Mean of each metric over the sources."""
        return {metric: float(np.mean(getattr(self, metric))) for metric in METRICS}

    def to_dict(self) -> dict:
        """Plain data for JSON: per-source scores and their means (a silent estimate's
        -inf as None, which JSON can hold)."""
        sources = [
            {"reference": name, "estimate": est}
            | {metric: _finite(getattr(self, metric)[i]) for metric in METRICS}
            for i, (name, est) in enumerate(zip(self.names, self.matched, strict=True))
        ]
        return {"sources": sources, "mean": {m: _finite(v) for m, v in self.mean().items()}}

    def table(self) -> str:
        """A text table, one row per source and a mean row, then what the scores measure."""
        width = max(len(n) for n in [*self.names, *self.matched, "reference", "estimate"])
        head = f"{'reference':<{width}}  {'estimate':<{width}}" + "".join(
            f"{m.upper().replace('_', '-'):>9}" for m in METRICS
        )
        rows = [head]
        for i, (name, est) in enumerate(zip(self.names, self.matched, strict=True)):
            scores = "".join(f"{getattr(self, m)[i]:9.2f}" for m in METRICS)
            rows.append(f"{name:<{width}}  {est:<{width}}{scores}")
        rows.append(
            f"{'mean':<{width}}  {'':<{width}}" + "".join(f"{v:9.2f}" for v in self.mean().values())
        )
        footer = textwrap.fill(METRICS_EXPLAINED, width=max(len(head), 60))
        return "\n".join(rows) + "\n\n" + footer


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant SDR in dB (Le Roux et al., 2019) of one mono estimate.

    Examples
    --------
    >>> import numpy as np
    >>> from nmfaudio.evaluation import si_sdr
    >>> x = np.random.default_rng(0).standard_normal(8000)
    >>> round(si_sdr(x, 0.5 * x + 0.01 * x[::-1]), 1)  # a gain is forgiven, the rest is not
    34.0
    """
    reference = np.asarray(reference, dtype=np.float64)
    estimate = np.asarray(estimate, dtype=np.float64)
    scale = np.dot(estimate, reference) / np.dot(reference, reference)
    target = scale * reference
    noise = estimate - target
    return float(10 * np.log10(np.dot(target, target) / max(np.dot(noise, noise), 1e-20)))


def evaluate(
    references: np.ndarray,
    estimates: np.ndarray,
    *,
    reference_names: list[str] | None = None,
    estimate_names: list[str] | None = None,
) -> Evaluation:
    """Score estimated sources against the true ones.

    SDR, SIR and SAR are BSS Eval v3 (``mir_eval.separation.bss_eval_sources``,
    512-tap distortion filters); SI-SDR is scale-invariant SDR. Multichannel
    signals are scored on the mean of their channels.

    Estimates are matched to references by name when both name lists are
    given and every reference name is among the estimates; otherwise by the
    assignment with the best mean SIR (as BSS Eval does), which needs as
    many estimates as references. That assignment is found from the SIR of
    every pair with the Hungarian algorithm
    (``scipy.optimize.linear_sum_assignment``, as museval does), not by trying
    every permutation: ten sources take seconds, not hours.

    Parameters
    ----------
    references : np.ndarray [shape=(n_sources, n_samples) or (n_sources, n_channels, n_samples)]
    estimates : np.ndarray [shape=(n_estimates, ...)], the same length as the references
    reference_names, estimate_names : list of str or None
        Labels, and the basis of matching by name.

    Returns
    -------
    Evaluation
        SDR, SIR, SAR and SI-SDR of each reference, with the estimate matched to it.

    Raises
    ------
    ParameterError
        For lengths that differ, a silent reference, or estimates that cannot
        be matched.

    Examples
    --------
    >>> import numpy as np, nmfaudio
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.standard_normal((2, 8000))
    >>> estimates = truth + 0.1 * rng.standard_normal((2, 8000))
    >>> scores = nmfaudio.evaluate(truth, estimates, reference_names=["bass", "drums"])
    >>> round(scores.mean()["sdr"])
    20
    """
    import mir_eval

    bss_eval = _quietly(mir_eval.separation.bss_eval_sources)
    references, estimates = _as_mono(references, "references"), _as_mono(estimates, "estimates")
    reference_names = _names(reference_names, references, "reference", "source")
    estimate_names = _names(estimate_names, estimates, "estimate", "estimate")
    if references.shape[1] != estimates.shape[1]:
        raise ParameterError(
            f"references are {references.shape[1]} samples long but estimates"
            f" {estimates.shape[1]}: they must have the same length"
        )
    silent = [n for n, r in zip(reference_names, references, strict=True) if not r.any()]
    if silent:
        raise ParameterError(f"reference {silent[0]} is silent: BSS Eval needs every source")

    # A silent estimate is a result too, one that recovers nothing: it scores -inf.
    # BSS Eval cannot decompose it, so noise stands in while the others are scored
    # (each estimate's scores depend on it and the references alone; noise is
    # matched to no source, so the matching of the others is its own).
    silent_estimates = ~estimates.any(axis=1)
    if silent_estimates.any():
        noise = np.random.default_rng(0).standard_normal(estimates.shape)
        estimates = np.where(silent_estimates[:, None], noise * references.std(), estimates)
    by_name = {name: i for i, name in enumerate(estimate_names)}
    if all(name in by_name for name in reference_names):
        order = [by_name[name] for name in reference_names]
        sdr, sir, sar, _ = bss_eval(references, estimates[order], compute_permutation=False)
    else:
        if len(estimates) != len(references):
            raise ParameterError(
                f"{len(references)} references but {len(estimates)} estimates, and their names"
                " do not match: name the estimates like the references, or give as many"
            )
        sdr, sir, sar, order = _best_assignment(bss_eval, references, estimates)
    scale_invariant = np.array(
        [si_sdr(ref, estimates[j]) for ref, j in zip(references, order, strict=True)]
    )
    unheard = silent_estimates[np.asarray(order)]
    for scores in (sdr, sir, sar, scale_invariant):
        scores[unheard] = -np.inf
    return Evaluation(
        names=list(reference_names),
        matched=[estimate_names[j] for j in order],
        sdr=sdr,
        sir=sir,
        sar=sar,
        si_sdr=scale_invariant,
    )


def _names(names, signals: np.ndarray, what: str, prefix: str) -> list[str]:
    if names is None:
        return [f"{prefix}_{i:02d}" for i in range(len(signals))]
    names = [str(name) for name in names]
    if len(names) != len(signals):
        raise ParameterError(f"{len(names)} {what} names for {len(signals)} {what}s")
    return names


def _best_assignment(bss_eval, references: np.ndarray, estimates: np.ndarray):
    """BSS Eval's scores under the assignment of estimates to references with the best
    mean SIR. Each estimate's scores against a reference depend on the two and the
    references alone, so ``n`` cyclic shifts of the estimates give every pair's."""
    from scipy.optimize import linear_sum_assignment

    n = len(references)
    pairs = np.empty((3, n, n))  # sdr, sir, sar of reference i against estimate j
    for shift in range(n):
        order = (np.arange(n) + shift) % n
        scores = bss_eval(references, estimates[order], compute_permutation=False)[:3]
        pairs[:, np.arange(n), order] = scores
    _, order = linear_sum_assignment(pairs[1], maximize=True)
    sdr, sir, sar = (pairs[m, np.arange(n), order] for m in range(3))
    return sdr, sir, sar, order


def _quietly(bss_eval_sources):
    """mir_eval 0.8 flags its separation module as deprecated (kept until 0.9, which
    pyproject excludes); the notice is for mir_eval's users, not ours."""

    def call(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"(?s).*Deprecated as of mir_eval")
            return bss_eval_sources(*args, **kwargs)

    return call


def evaluate_dirs(
    reference_dir: str | os.PathLike,
    estimate_dir: str | os.PathLike,
    *,
    estimates: Sequence[str] | None = None,
) -> Evaluation:
    """Score the audio files (WAV, FLAC, OGG, MP3) of ``estimate_dir`` against those of
    ``reference_dir``.

    ``mixture.wav`` is not a source and is skipped in both. Sources are named by
    file stem; see :func:`evaluate` for the matching. ``estimates`` names the
    files of ``estimate_dir`` to score (default: every WAV file there).
    References at another rate than the estimates are resampled to the
    estimates' rate (that of the separated input) and scored there.

    Examples
    --------
    >>> import os, tempfile, numpy as np, nmfaudio
    >>> from nmfaudio.evaluation import evaluate_dirs
    >>> truth, estimates = tempfile.mkdtemp(), tempfile.mkdtemp()
    >>> rng = np.random.default_rng(0)
    >>> for name in ("bass", "drums"):
    ...     part = 0.1 * rng.standard_normal(8000).astype(np.float32)
    ...     nmfaudio.write_audio(os.path.join(truth, f"{name}.wav"), part, 8000)
    ...     nmfaudio.write_audio(os.path.join(estimates, f"{name}.wav"), 0.9 * part, 8000)
    >>> scores = evaluate_dirs(truth, estimates)
    >>> scores.names, scores.matched
    (['bass', 'drums'], ['bass', 'drums'])
    """
    references, reference_names, sr = _load_dir(reference_dir)
    estimates, estimate_names, estimate_sr = _load_dir(estimate_dir, estimates)
    if sr != estimate_sr:
        seconds, estimate_seconds = references.shape[-1] / sr, estimates.shape[-1] / estimate_sr
        if abs(seconds - estimate_seconds) > 1 / min(sr, estimate_sr) + 1e-9:
            raise ParameterError(
                f"references are {seconds:.3f} s long (at {sr} Hz) but estimates"
                f" {estimate_seconds:.3f} s (at {estimate_sr} Hz): they must be as long"
            )
        references = _resampled(references, sr, estimate_sr, estimates.shape[-1])
    return evaluate(
        references, estimates, reference_names=reference_names, estimate_names=estimate_names
    )


def _resampled(references: np.ndarray, sr: int, target_sr: int, length: int) -> np.ndarray:
    """References at the estimates' rate, cut or padded to their ``length`` (they are as
    long in seconds: only resampling's rounding tells them apart)."""
    import librosa

    resampled = librosa.resample(references, orig_sr=sr, target_sr=target_sr, axis=-1)
    return librosa.util.fix_length(resampled, size=length, axis=-1)


def _load_dir(
    folder: str | os.PathLike, names: Sequence[str] | None = None
) -> tuple[np.ndarray, list[str], int]:
    folder = Path(folder)
    if not folder.is_dir():
        raise AudioFileError(f"{folder}: not a directory")
    if names is None:
        paths = [path for path in audio_files(folder) if path.stem != "mixture"]
    else:
        paths = [folder / name for name in names]
    if not paths:
        raise AudioFileError(f"{folder}: no audio files to evaluate")
    signals, rates = [], set()
    for path in paths:
        y, sr = load(path)
        signals.append(y.mean(axis=0))
        rates.add(sr)
    if len(rates) > 1:
        raise ParameterError(f"{folder}: files at different sample rates {sorted(rates)}")
    lengths = {len(s) for s in signals}
    if len(lengths) > 1:
        raise ParameterError(f"{folder}: files of different lengths {sorted(lengths)} samples")
    return np.array(signals), [p.stem for p in paths], rates.pop()


def _as_mono(signals: np.ndarray, what: str) -> np.ndarray:
    signals = np.asarray(signals, dtype=np.float64)
    if signals.ndim == 3:
        signals = signals.mean(axis=1)
    if signals.ndim != 2 or signals.shape[0] == 0:
        raise ParameterError(
            f"{what} must have shape (n_sources, n_samples) or (n_sources, n_channels,"
            f" n_samples), got {signals.shape}"
        )
    if not np.isfinite(signals).all():
        raise ParameterError(f"{what} contain NaN or infinite values")
    return signals
