"""From components to sources, blind: cluster components by the timbre of their templates.

Each template W[:, k] is a spectrum; its mel-frequency cepstral coefficients
(without the 0th, which is only level) describe its envelope, the timbre.
Components of one instrument have similar envelopes even where they play
different notes, so Ward clustering of the MFCCs gathers them (the approach
of Spiertz & Gnann, 2009, and of nussl's TimbreClustering, here with a
deterministic agglomerative clustering instead of k-means).

The mel bands are few and wide (40, as in the classic MFCC front ends):
narrow low bands would resolve single harmonics, and the coefficients would
then tell notes apart rather than instruments. Measured on the four real
recordings beside the project, over three seeds: 6.9 dB mean SDR with 40
bands against 5.0 dB with librosa's default of 128.
"""

from __future__ import annotations

import dataclasses

import librosa
import numpy as np
import scipy.cluster.hierarchy

from ._checks import positive_int
from .exceptions import ParameterError
from .separation import Separation

#: Components per source when only the number of sources is given.
COMPONENTS_PER_SOURCE = 8

N_MELS = 40
N_MFCC = 13


def template_mfcc(W: np.ndarray, sr: int, *, n_fft: int) -> np.ndarray:
    """Timbre features of templates: MFCCs 1..N_MFCC of each column's mel power spectrum.

    Parameters
    ----------
    W : np.ndarray [shape=(n_freq, n_components)]
        Magnitude templates, ``n_freq = 1 + n_fft // 2``.
    sr : int
    n_fft : int

    Returns
    -------
    np.ndarray [shape=(n_components, N_MFCC)]
    """
    mel = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=N_MELS) @ W.astype(np.float64)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel**2), n_mfcc=N_MFCC + 1)
    return mfcc[1:].T


def cluster_components(features: np.ndarray, n_sources: int) -> np.ndarray:
    """Ward clustering of components into ``n_sources`` groups.

    Parameters
    ----------
    features : np.ndarray [shape=(n_components, n_features)]
    n_sources : int, 1 <= n_sources <= n_components

    Returns
    -------
    np.ndarray [shape=(n_components,), dtype=int]
        Group of each component, numbered in order of each group's first
        component: the same input always gives the same labels.
    """
    n_components = len(features)
    if n_sources == n_components:
        return np.arange(n_components)
    tree = scipy.cluster.hierarchy.linkage(features, method="ward")
    # cut_tree, unlike fcluster, gives exactly n_sources clusters even where heights tie.
    labels = scipy.cluster.hierarchy.cut_tree(tree, n_clusters=n_sources).ravel()
    _, first = np.unique(labels, return_index=True)
    return np.argsort(np.argsort(first))[labels]  # renumber by first appearance


def group(result: Separation, n_sources: int) -> Separation:
    """Group the components of a separation into ``n_sources`` sources, with no reference.

    Parameters
    ----------
    result : Separation
        From :func:`nmfaudio.separate`, ideally with several components per
        source (:data:`COMPONENTS_PER_SOURCE` is what ``--sources`` uses).
    n_sources : int, 1 <= n_sources <= result.n_components

    Returns
    -------
    Separation
        The same decomposition with ``sources`` named ``source_00``,
        ``source_01``, ...; sources are numbered by their first component.
    """
    n_sources = positive_int("n_sources", n_sources)
    if n_sources > result.n_components:
        raise ParameterError(
            f"cannot group {result.n_components} components into {n_sources} sources:"
            " ask for more components than sources"
        )
    features = template_mfcc(result.W, result.sr, n_fft=result.config.n_fft)
    labels = cluster_components(features, n_sources)
    width = max(2, len(str(n_sources - 1)))
    sources = {
        f"source_{s:0{width}d}": np.flatnonzero(labels == s).tolist() for s in range(n_sources)
    }
    return dataclasses.replace(result, sources=sources)
