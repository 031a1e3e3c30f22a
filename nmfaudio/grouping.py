"""From components to sources: blind, by the timbre of their templates, or named by learnt ones.

Each template W[:, k] is a spectrum; its mel-frequency cepstral coefficients
(without the 0th, which is only level) describe its envelope, the timbre.
Components of one instrument have similar envelopes even where they play
different notes, so Ward clustering of the MFCCs gathers them (the approach
of Spiertz & Gnann, 2009, and of nussl's TimbreClustering, here with a
deterministic agglomerative clustering instead of k-means), and the
:func:`consensus` of several factorizations so grouped. Where the recording is
mostly percussive (:func:`recording_percussive_share`), each factorization may be grouped
by its MFCCs standardised per coefficient instead (:func:`better_scaled`):
:func:`blind_sources` is what blind separation makes of its restarts.

With learnt templates (:class:`~nmfaudio.modes.WithTemplates`), the templates
name what free factorizations found instead: each component goes to the set
whose templates explain its spectrum best (:func:`named_components`), or each
blind source to the set that explains its components best (:func:`named_sources`);
the mode gives them each set's spectra with their copies :func:`transposed`, so
that templates learnt on other notes explain the recording's.

The mel bands are few and wide (40, as in the classic MFCC front ends):
narrow low bands would resolve single harmonics, and the coefficients would
then tell notes apart rather than instruments. Measured on the four real
recordings beside the project, over three seeds: 6.9 dB mean SDR with 40
bands against 5.0 dB with librosa's default of 128.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence

import librosa
import numpy as np
import scipy.cluster.hierarchy
import scipy.optimize

from ._checks import non_negative_int, positive_int, random_seed
from ._kernels import median_filtered
from ._progress import stage
from .defaults import MIN_HOP, MOSTLY_PERCUSSIVE, NAMING_SEMITONES
from .exceptions import ParameterError
from .frontend import Spectrogram, frame_blocks, frame_span, segment_magnitude
from .nmf import NMFResult, nmf
from .outputs import numbered
from .settings import Settings, STFTConfig

N_MELS = 40
N_MFCC = 13
#: librosa.decompose.hpss's default median filter length (bins and frames).
HPSS_KERNEL = 31
#: Frames :func:`percussive_share` filters at once: about 10 MB a block at n_fft 2048.
HPSS_FRAMES = 1024
#: The analysis hpss's filters are made for, librosa's defaults: 2048-sample frames every
#: 512 samples at 22050 Hz (93 and 23 ms), 0 to 11025 Hz. :func:`recording_percussive_share`
#: takes frames of these durations at any rate: the same filters on 2048-sample frames at
#: 44.1 kHz span half the time and twice the band (rendered case_010: 0.39, not 0.57).
HPSS_RATE, HPSS_N_FFT, HPSS_HOP = 22050, 2048, 512


def template_log_mel(W: np.ndarray, sr: int, *, n_fft: int) -> np.ndarray:
    """Each template's mel power spectrum in dB, its level taken out: what MFCCs are of.

    Parameters
    ----------
    W : np.ndarray [shape=(n_freq, n_components)]
        Magnitude templates, ``n_freq = 1 + n_fft // 2``.
    sr : int
    n_fft : int

    Returns
    -------
    np.ndarray [shape=(N_MELS, n_components)]
    """
    W = W.astype(np.float64)
    W = W / np.maximum(W.sum(axis=0), np.finfo(np.float64).tiny)  # timbre, not level
    mel = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=N_MELS) @ W
    return librosa.power_to_db(mel**2)


def template_mfcc(W: np.ndarray, sr: int, *, n_fft: int) -> np.ndarray:
    """Timbre features of templates: MFCCs 1..N_MFCC of each :func:`template_log_mel`
    (the same parameters).

    Returns
    -------
    np.ndarray [shape=(n_components, N_MFCC)]
    """
    mfcc = librosa.feature.mfcc(S=template_log_mel(W, sr, n_fft=n_fft), n_mfcc=N_MFCC + 1)
    return mfcc[1:].T


def cluster_components(
    features: np.ndarray, n_sources: int, *, standardised: bool = False
) -> np.ndarray:
    """Ward clustering of components into ``n_sources`` groups.

    Parameters
    ----------
    features : np.ndarray [shape=(n_components, n_features)]
    n_sources : int, 1 <= n_sources <= n_components
    standardised : bool
        Cluster the features each scaled to unit variance over the components
        (as scikit-learn's ``StandardScaler`` before clustering), so that the
        most spread one does not decide alone.

    Returns
    -------
    np.ndarray [shape=(n_components,), dtype=int]
        Group of each component, numbered in order of each group's first
        component: the same input always gives the same labels.
    """
    n_components = len(features)
    if n_sources == n_components:
        return np.arange(n_components)
    if standardised:
        spread = np.maximum(features.std(axis=0), np.finfo(np.float64).tiny)
        features = (features - features.mean(axis=0)) / spread
    tree = scipy.cluster.hierarchy.linkage(features, method="ward")
    # cut_tree, unlike fcluster, gives exactly n_sources clusters even where heights tie.
    labels = scipy.cluster.hierarchy.cut_tree(tree, n_clusters=n_sources).ravel()
    _, first = np.unique(labels, return_index=True)
    return np.argsort(np.argsort(first))[labels]  # renumber by first appearance


def group(result, n_sources: int):
    """Group the components of a separation into ``n_sources`` sources, with no reference.

    Parameters
    ----------
    result : Separation
        From :func:`nmfaudio.separate`, ideally with several components per
        source (:data:`~nmfaudio.defaults.COMPONENTS_PER_SOURCE` is what ``--sources`` uses).
    n_sources : int, 1 <= n_sources <= result.n_components

    Returns
    -------
    Separation
        The same decomposition with ``sources`` named ``source_00``,
        ``source_01``, ...; sources are numbered by their first component
        (without ``resolutions``: each source is its own components').

    Examples
    --------
    >>> import numpy as np, nmfaudio
    >>> sr = 22050
    >>> t = np.arange(2 * sr) / sr
    >>> y = np.sin(2 * np.pi * 440 * t) * (t < 1) + np.sin(2 * np.pi * 110 * t) * (t >= 1)
    >>> grouped = nmfaudio.group(nmfaudio.separate(y, sr, 6), 2)
    >>> list(grouped.sources), sum(len(k) for k in grouped.sources.values())
    (['source_00', 'source_01'], 6)
    """
    n_sources = positive_int("n_sources", n_sources)
    if n_sources > result.n_components:
        raise ParameterError(
            f"cannot group {result.n_components} components into {n_sources} sources:"
            " ask for more components than sources"
        )
    groups = _timbre_groups(result.W, result.sr, result.config.n_fft, n_sources)
    # Its own components only: other analyses' sources matched the sources it had.
    return dataclasses.replace(result, sources=source_names(groups), mode=None, resolutions=())


def _timbre_groups(
    W: np.ndarray, sr: int, n_fft: int, n_sources: int, standardised: bool = False
) -> list[np.ndarray]:
    """Each source's component indices: the templates clustered by their MFCCs."""
    labels = cluster_components(
        template_mfcc(W, sr, n_fft=n_fft), n_sources, standardised=standardised
    )
    return [np.flatnonzero(labels == s) for s in range(n_sources)]


def by_timbre(
    spectrogram: Spectrogram, n_sources: int, *, standardised: bool = False
) -> Callable[[np.ndarray], list[np.ndarray]]:
    """The grouping :func:`restarts` takes for blind sources: templates clustered by timbre,
    their MFCCs as they are or ``standardised`` (see :func:`cluster_components`)."""
    return functools.partial(
        _timbre_groups, sr=spectrogram.sr, n_fft=spectrogram.config.n_fft, n_sources=n_sources,
        standardised=standardised,
    )  # fmt: skip


def percussive_share(V: np.ndarray) -> float:
    """The share of a spectrogram's energy in its percussive part.

    Harmonic-percussive separation by median filtering (Fitzgerald, 2010):
    :func:`librosa.decompose.hpss` with its defaults (31-bin and 31-frame
    median filters, soft masks), a block of frames at a time so that no
    temporary is as large as ``V``: the same masks as on the whole. The
    figure depends on the STFT ``V`` was made with: for a recording's, at any
    rate, see :func:`recording_percussive_share`.

    Parameters
    ----------
    V : np.ndarray [shape=(n_freq, n_frames)], non-negative

    Returns
    -------
    float in [0, 1]
        ``sum |P|^2 / (sum |H|^2 + sum |P|^2)``; 0 for a silent spectrogram.

    Examples
    --------
    >>> import numpy as np
    >>> steady = np.zeros((64, 100)); steady[10] = 1  # one partial, held
    >>> clicks = np.zeros((64, 100)); clicks[:, ::10] = 1  # broadband, every 10th frame
    >>> round(percussive_share(steady), 2), round(percussive_share(clicks), 2)
    (0.0, 1.0)
    """
    return _percussive_share(lambda a, b: V[:, a:b], V.shape[1])


def hpss_analysis(sr: int) -> tuple[STFTConfig, int]:
    """The STFT at ``sr`` Hz whose frames and hops last as long as at the analysis hpss is
    made for (:data:`HPSS_RATE`, :data:`HPSS_N_FFT`, :data:`HPSS_HOP`; the hop at least
    :data:`~nmfaudio.defaults.MIN_HOP`), and how many of its bins lie below HPSS_RATE / 2."""
    scale = sr / HPSS_RATE
    config = STFTConfig(
        n_fft=2 * round(HPSS_N_FFT / 2 * scale), hop_length=max(round(HPSS_HOP * scale), MIN_HOP)
    )
    return config, min(config.n_freq, HPSS_N_FFT // 2 + 1)


def recording_percussive_share(
    read: Callable[[int, int], np.ndarray], n_samples: int, sr: int
) -> float:
    """The share of a recording's energy in its percussive part, alike at every rate.

    :func:`percussive_share` of the recording's magnitude spectrogram (the
    channels' RMS, as :func:`~nmfaudio.frontend.magnitude`) at the analysis
    librosa's ``hpss`` defaults are made for, whatever the recording's rate and
    STFT settings: frames of 93 ms every 23 ms, 0 to 11025 Hz
    (:func:`hpss_analysis`), computed a block of frames at a time.

    Parameters
    ----------
    read : callable
        ``read(start, stop)``: the samples ``[start, stop)`` of every channel,
        shape ``(n_channels, stop - start)``, zeros outside the recording (as
        :class:`~nmfaudio.audio_io.BlockReader` reads a file, and
        :func:`~nmfaudio.audio_io.array_reader` an array).
    n_samples, sr : int
        Samples per channel and sample rate of the recording.

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> import numpy as np
    >>> from nmfaudio.audio_io import array_reader
    >>> sr = 44100
    >>> y = np.zeros((1, 2 * sr), np.float32)
    >>> y[0, :: sr // 8] = 1  # a click every 1/8 s
    >>> round(recording_percussive_share(array_reader(y), y.shape[1], sr), 2)
    0.98
    """
    config, n_bins = hpss_analysis(sr)

    def frames(a: int, b: int) -> np.ndarray:
        return segment_magnitude(read(*frame_span(a, b, config)), config)[:n_bins]

    return _percussive_share(frames, config.n_frames(n_samples))


def _percussive_share(frames: Callable[[int, int], np.ndarray], n_frames: int) -> float:
    """:func:`percussive_share` of the spectrogram whose frames ``a..b-1`` are ``frames(a, b)``."""
    reach = HPSS_KERNEL // 2  # frames either side that a block's filter needs
    harmonic = percussive = 0.0
    for t0, t1 in frame_blocks(n_frames, HPSS_FRAMES):
        a, b = max(t0 - reach, 0), min(t1 + reach, n_frames)
        block = np.asarray(frames(a, b), dtype=np.float64)
        across_time = median_filtered(block, HPSS_KERNEL)[:, t0 - a : t1 - a]
        across_bins = median_filtered(block[:, t0 - a : t1 - a].T, HPSS_KERNEL).T
        power = block[:, t0 - a : t1 - a] ** 2
        # librosa's soft masks (power 2): an even split where both filters give 0.
        h, p = across_time**2, across_bins**2
        both = h + p
        none = both < np.finfo(np.float64).tiny
        share = np.where(none, 0.5, p / np.where(none, 1.0, both))
        harmonic += float(np.sum(power * (1 - share) ** 2))
        percussive += float(np.sum(power * share**2))
    total = harmonic + percussive
    return percussive / total if total > 0 else 0.0


def better_scaled(
    runs: list[tuple[NMFResult, list[np.ndarray]]], spectrogram: Spectrogram, n_sources: int
) -> list[tuple[NMFResult, list[np.ndarray]]]:
    """The runs of :func:`restarts` (grouped :func:`by_timbre`), each fit grouped as given or
    by its standardised MFCCs (``standardised=True``), whichever is more like the medoid of
    all ``2 R`` groupings (the one most like the others, as :func:`consensus` takes its
    reference; the one as given where they tie): for :func:`consensus`.

    Ward on the MFCCs as they are fails where one instrument takes most of the
    components and spreads wide in the first coefficient, the spectral tilt
    (the cymbals of a kit: Ward's top cuts split them and leave kick and snare
    together); on the standardised ones, where the higher coefficients, which
    follow the partials, split a pitched part by its notes. Each fit keeps one
    grouping, so the components are the fits' own. Where the standardised
    groupings are wrong alike in every fit the medoid is one of them: see
    :func:`blind_sources` for where this is used.
    """
    again = by_timbre(spectrogram, n_sources, standardised=True)
    return more_like_medoid(runs, [(fit, again(fit.W)) for fit, _ in runs])


def more_like_medoid(
    runs: list[tuple[NMFResult, list[np.ndarray]]], others: list[tuple[NMFResult, list[np.ndarray]]]
) -> list[tuple[NMFResult, list[np.ndarray]]]:
    """Each run or its counterpart in ``others`` (the same fit grouped otherwise), whichever
    is more like the medoid of all of them (as :func:`consensus` takes its reference); the
    run where they tie, as one run and its regrouping always do."""
    both = runs + others
    match = _matcher(both)
    reference = _medoid(match, len(both))
    n = len(runs)
    return [
        both[r] if match(reference, r)[1] >= match(reference, n + r)[1] else both[n + r]
        for r in range(n)
    ]


def blind_sources(
    runs: list[tuple[NMFResult, list[np.ndarray]]],
    spectrogram: Spectrogram,
    n_sources: int,
    *,
    percussive: Callable[[], float],
) -> tuple[NMFResult, list[list[int]]]:
    """What :class:`~nmfaudio.modes.Sources` makes of its restarts (grouped :func:`by_timbre`):
    their :func:`consensus`, each fit's grouping :func:`better_scaled` first where the
    recording is mostly percussive (``percussive()``, its
    :func:`recording_percussive_share`, above
    :data:`~nmfaudio.defaults.MOSTLY_PERCUSSIVE`; asked for only where there is
    more than one restart, as taking it reads the recording again).

    Elsewhere the standardised groupings are not considered: where pitched
    parts take most of the components they split them by their notes, and can
    do so alike in every fit (the tests' tones and clicks: from 20-23 dB to
    -0.2-0.9 dB on three seeds of four). Measured in the documentation's
    "Separation quality": on 48 development cases of two or three parts 7.96
    dB mean SDR against 7.48 for the groupings as given (worst against the
    recipe -2.30 against -15.43 dB), on 32 check cases 8.60 against 8.21;
    everywhere instead of only where mostly percussive, it would lose 9.1 dB
    on a rendered piece of the quality tables. One restart is never regrouped:
    its two groupings are alike to the medoid of both.
    """
    if len(runs) > 1 and percussive() > MOSTLY_PERCUSSIVE:
        runs = better_scaled(runs, spectrogram, n_sources)
    return consensus(runs)


def transposed(spectra: np.ndarray, semitones: int = NAMING_SEMITONES) -> np.ndarray:
    """Template spectra and their copies transposed by each whole semitone up to ``semitones``.

    A note's harmonics at a pitch ``r`` times higher lie at ``r`` times their
    frequencies: the spectrum stretched along frequency by ``r = 2 ** (s / 12)``
    (linear interpolation between bins; what is stretched past the top bin is
    dropped, bins below the spectrum's lowest stay zero).

    Parameters
    ----------
    spectra : np.ndarray [shape=(n_freq, n_templates)]
        A set's spectra (:attr:`nmfaudio.Templates.spectra`).
    semitones : int >= 0

    Returns
    -------
    np.ndarray [shape=(n_freq, n_templates * (2 * semitones + 1))]
        The spectra as given first, then transposed by -semitones ... -1, 1 ... semitones.

    Examples
    --------
    >>> import numpy as np
    >>> T = np.zeros((16, 1)); T[4] = 1  # one partial, at bin 4
    >>> transposed(T, 12)[:, [0, 1, 24]].argmax(axis=0).tolist()  # as given, an octave down, up
    [4, 2, 8]
    """
    semitones = non_negative_int("semitones", semitones)
    spectra = np.asarray(spectra, dtype=np.float64)
    if spectra.ndim != 2:
        raise ParameterError(f"spectra must be (n_freq, n_templates), got shape {spectra.shape}")
    bins = np.arange(spectra.shape[0], dtype=np.float64)
    shifts = [0, *range(-semitones, 0), *range(1, semitones + 1)]
    return np.concatenate(
        [
            np.stack([np.interp(bins / 2 ** (s / 12), bins, t, right=0.0) for t in spectra.T], 1)
            for s in shifts
        ],
        axis=1,
    )


def template_misfit(W: np.ndarray, spectra: Sequence[np.ndarray]) -> np.ndarray:
    """How badly each set of template spectra explains each component's spectrum.

    The relative residual ``||W_k - T x|| / ||W_k||`` of the non-negative
    least-squares fit of each column of ``W`` (scaled to sum 1) by each set's
    spectra ``T``: 0 when the component is a mixture of the set's templates,
    1 when no non-negative mixture of them overlaps it.

    Parameters
    ----------
    W : np.ndarray [shape=(n_freq, n_components)]
    spectra : sequence of np.ndarray [shape=(n_freq, n_templates)]
        One array per set (:attr:`nmfaudio.Templates.spectra`, or those
        and their copies :func:`transposed`, as :class:`~nmfaudio.WithTemplates` names).

    Returns
    -------
    np.ndarray [shape=(n_components, n_sets)]
    """
    W = W.astype(np.float64)
    W = W / np.maximum(W.sum(axis=0), np.finfo(np.float64).tiny)
    norms = np.maximum(np.linalg.norm(W, axis=0), np.finfo(np.float64).tiny)
    sets = [np.asarray(T, dtype=np.float64) for T in spectra]
    return (
        np.array(
            [[scipy.optimize.nnls(T, W[:, k])[1] for T in sets] for k in range(W.shape[1])]
        ).reshape(W.shape[1], len(sets))
        / norms[:, None]
    )


def named_components(W: np.ndarray, spectra: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Each set's components: those its templates explain best (:func:`template_misfit`).

    Every set gets at least one component (the instruments of the templates
    are taken to be in the recording): a set no component chose takes the one
    whose move costs least misfit, from a set that keeps one; every other
    component stays with its best set. (Assigning one component to each set
    first, by the smallest summed misfit, took large components from the sets
    that explain them: drums808 with another kit's templates, 7.3 dB SDR
    against 17.5.)

    Returns
    -------
    list of np.ndarray
        One index array per set, in the order of ``spectra``.
    """
    misfit = template_misfit(W, spectra)
    if misfit.shape[0] < misfit.shape[1]:
        raise ParameterError(
            f"{misfit.shape[0]} components cannot be named by {misfit.shape[1]} template sets"
        )
    n_sets = misfit.shape[1]
    best = misfit.argmin(axis=1)
    for s in range(n_sets):
        if not np.any(best == s):
            spare = np.flatnonzero(np.bincount(best, minlength=n_sets)[best] > 1)
            cost = misfit[spare, s] - misfit[spare, best[spare]]
            best[spare[np.argmin(cost)]] = s
    return [np.flatnonzero(best == s) for s in range(n_sets)]


def named_sources(
    result: NMFResult, groups: Sequence[Sequence[int]], spectra: Sequence[np.ndarray]
) -> list[int]:
    """Which of the sources ``groups`` each template set names, one each.

    A source's misfit to a set is its components' :func:`template_misfit`,
    weighted by their activations' sums (what each contributes); sets and
    sources are matched one to one with the smallest summed misfit.

    Returns
    -------
    list of int
        The group of each set, in the order of ``spectra``; the groups left
        over are what no set names (the rest).
    """
    misfit = template_misfit(result.W, spectra)
    energy = result.H.astype(np.float64).sum(axis=1) + np.finfo(np.float64).tiny
    weighted = np.array(
        [np.average(misfit[list(g)], axis=0, weights=energy[list(g)]) for g in groups]
    )
    sources, sets = scipy.optimize.linear_sum_assignment(weighted)
    return [int(g) for g in sources[np.argsort(sets)]]


def by_templates(
    runs: list[tuple[NMFResult, list[np.ndarray]]], spectra: Sequence[np.ndarray], *, rest: bool
) -> tuple[NMFResult, list[list[int]]]:
    """Factorizations of one recording as one, its sources named by template sets.

    Without a rest, each run's components are named (:func:`named_components`)
    and the runs averaged by name (:func:`by_name`). With one, the runs' own
    groups (one per set and one more, by timbre) are averaged
    (:func:`consensus`) and each set names one (:func:`named_sources`); the
    group left is the rest, last. (Per-component naming with a rest gave the
    drums' components to the rest wherever another kit's templates explained
    them less well than what the templates left: six cross-kit pairs, 1.81 dB
    against blind's 4.43.)

    Parameters
    ----------
    runs : list of (NMFResult, list of index arrays)
        From :func:`restarts`, grouped by timbre into one source per set, and
        one more with a rest.
    spectra : sequence of np.ndarray [shape=(n_freq, n_templates)]
        One array per set, as :func:`template_misfit` takes them.
    rest : bool

    Returns
    -------
    NMFResult, list of list of int
        As :func:`by_name`: each set's components in the order of ``spectra``,
        then the rest's.
    """
    if not rest:
        return by_name([(fit, named_components(fit.W, spectra)) for fit, _ in runs])
    result, groups = consensus(runs)
    named = named_sources(result, groups, spectra)
    named += [g for g in range(len(groups)) if g not in named]  # the rest last
    return result, [groups[g] for g in named]


def restarts(
    spectrogram: Spectrogram,
    n_components: int,
    n_restarts: int,
    *,
    group: Callable[[np.ndarray], list[np.ndarray]],
    settings: Settings,
    progress: bool = False,
) -> list[tuple[NMFResult, list[np.ndarray]]]:
    """Factorizations of one spectrogram from ``n_restarts`` random starts, each grouped.

    The starts are drawn one after another from one generator seeded by
    ``settings.fit.seed``, so the first R restarts of a longer list are exactly
    those of ``n_restarts=R``: what :class:`~nmfaudio.modes.Sources` averages for R
    restarts is ``consensus(restarts(...)[:R])``.

    Parameters
    ----------
    spectrogram : Spectrogram
        Its magnitude ``V`` is factorized.
    n_components, n_restarts : int >= 1
        Components of each factorization, factorizations.
    group : callable
        Each source's component indices from a factorization's templates ``W``:
        :func:`by_timbre`, or :func:`named_components` with the templates' spectra.
    settings : Settings
        The cost and the fit of every factorization.
    progress : bool

    Returns
    -------
    list of (NMFResult, list of np.ndarray)
        Each factorization with its components' indices for each source.
    """
    rng = np.random.default_rng(random_seed(settings.fit.seed))
    fit = dataclasses.replace(settings.fit, seed=rng)
    runs = []
    n_restarts = positive_int("n_restarts", n_restarts)
    # One bar over every restart's iterations: its ETA is the whole stage's.
    title = f"NMF, {n_restarts} restarts"
    with stage(title, n_restarts * fit.n_iter, "iterations", enabled=progress) as bar:
        for r in range(n_restarts):
            bar.label(f"NMF, restart {r + 1}/{n_restarts}")
            result = nmf(
                spectrogram.V, n_components, cost=settings.cost, fit=fit, progress=progress
            )
            runs.append((result, group(result.W)))
    return runs


def consensus(runs: list[tuple[NMFResult, list[np.ndarray]]]) -> tuple[NMFResult, list[list[int]]]:
    """The mean of several groupings' source models, as one factorization with groups.

    Sources of two runs are compared by the cosine similarity of their models
    ``W_g H_g`` and matched one to one (Hungarian algorithm). The reference is
    the run whose sources agree most with the others' (the medoid, so that no
    single unlucky start decides what the sources are); every run's sources
    are matched to it. The factorizations are then put side by side,
    activations divided by the number of runs, so that the model of a source
    is the mean of its matches.

    Parameters
    ----------
    runs : list of (NMFResult, list of index arrays)
        Factorizations of one spectrogram, each with its components grouped
        into the same number of sources.

    Returns
    -------
    NMFResult
        ``W`` of shape ``(n_freq, sum of K)``, ``H`` of shape ``(sum of K, n_frames)``
        and the reference run's losses and cost settings.
    list of list of int
        Each source's components in that factorization, in the reference's order.
    """
    match = _matcher(runs)
    reference = _medoid(match, len(runs))
    matched = [
        (fit, [groups[g] for g in match(reference, j)[0]]) for j, (fit, groups) in enumerate(runs)
    ]
    return by_name(matched, losses_of=reference)


def agreement(runs: list[tuple[NMFResult, list[np.ndarray]]]) -> float:
    """How alike several groupings' sources are: the mean over pairs of groupings of
    the mean cosine similarity of their models, matched one to one as by :func:`consensus`.

    1 where every grouping finds the same sources; lower the more the groupings
    differ (Brunet et al., 2004, choose an NMF's rank by how reproducible its
    restarts are).
    """
    match, n = _matcher(runs), len(runs)
    pairs = [match(i, j)[1] for i in range(n) for j in range(i + 1, n)]
    return float(np.mean(pairs)) / len(runs[0][1]) if pairs else 1.0


def _medoid(match, n: int) -> int:
    """The run whose sources agree most with all the others' (``match`` from :func:`_matcher`)."""
    return int(np.argmax([sum(match(i, j)[1] for j in range(n) if j != i) for i in range(n)]))


def _matcher(runs: list[tuple[NMFResult, list[np.ndarray]]]):
    """``match(i, j)``: run j's group for each source of run i (Hungarian algorithm on the
    cosine similarity of the sources' models) and the summed similarity of the pairs.

    Symmetric to the last bit (``match(i, j)[1] == match(j, i)[1]``): each pair's
    overlaps are computed once and the similarities summed exactly, so that a
    choice between runs that tie (one fit and its regrouping, as
    :func:`better_scaled` has them with one restart) never falls to rounding.
    """
    n = len(runs)
    overlaps = {(i, j): _model_overlap(*runs[i], *runs[j]) for i in range(n) for j in range(i, n)}
    overlaps |= {(j, i): pair.T for (i, j), pair in overlaps.items()}
    norms = [np.sqrt(np.diag(overlaps[i, i])) for i in range(n)]

    def match(i: int, j: int) -> tuple[np.ndarray, float]:
        return _cosine_match(overlaps[i, j], norms[i], norms[j])

    return match


def by_name(
    runs: list[tuple[NMFResult, list[np.ndarray]]], *, losses_of: int = 0
) -> tuple[NMFResult, list[list[int]]]:
    """Factorizations whose groups are already matched (group s is source s in every run),
    as one: side by side, activations divided by their number, so that the model of
    each source is the mean of the runs'. Losses and cost settings: run ``losses_of``'s."""
    groups: list[list[int]] = [[] for _ in runs[0][1]]
    offset = 0
    for fit, fit_groups in runs:
        for s, members in enumerate(fit_groups):
            groups[s] += (offset + np.asarray(members, dtype=int)).tolist()
        offset += fit.W.shape[1]
    W = np.concatenate([fit.W for fit, _ in runs], axis=1)
    H = np.concatenate([fit.H for fit, _ in runs], axis=0) / len(runs)
    return dataclasses.replace(runs[losses_of][0], W=W, H=H), groups


def matched_sources(reference, other) -> dict[str, list[int]]:
    """``other``'s sources renamed as the sources of ``reference`` they match one to one:
    two separations of one recording (:class:`~nmfaudio.Separation`, their sources named)
    analysed with different STFTs.

    Matched as :func:`consensus` matches restarts, by the cosine similarity of the
    sources' models (Hungarian algorithm), on the coarser of the two frequency
    grids and of the two time grids: each model's bins summed into the nearest
    bin of the shorter frame, its frames into the nearest frame of the longer
    hop, without forming any model.

    Examples
    --------
    >>> import numpy as np, nmfaudio
    >>> from nmfaudio.grouping import matched_sources
    >>> sr, t = 22050, np.arange(2 * 22050) / 22050
    >>> y = np.sin(2 * np.pi * 440 * t) * (t < 1) + np.sin(2 * np.pi * 110 * t) * (t >= 1)
    >>> def separated(n_fft):
    ...     stft = nmfaudio.STFTConfig(n_fft=n_fft, hop_length=n_fft // 4)
    ...     return nmfaudio.separate_sources(y, sr, 2, settings=nmfaudio.Settings(stft=stft))
    >>> long, short = separated(2048), separated(512)
    >>> matched = matched_sources(long, short)
    >>> def early(result, members):  # 1 for the source of the first second, the 440 Hz tone
    ...     h = result.H[members].sum(axis=0)
    ...     return round(h[: sr // result.config.hop_length].sum() / h.sum())
    >>> [early(long, long.sources[name]) == early(short, matched[name]) for name in long.sources]
    [True, True]
    """
    n_fft = min(reference.config.n_fft, other.config.n_fft)
    hop = max(reference.config.hop_length, other.config.hop_length)
    n_frames = 1 + reference.length // hop
    a, b = (
        dataclasses.replace(
            x.fit,
            W=_pooled(x.config.n_freq, 1 + n_fft // 2, n_fft / x.config.n_fft).T @ x.W,
            H=(_pooled(x.H.shape[1], n_frames, x.config.hop_length / hop).T @ x.H.T).T,
        )
        for x in (reference, other)
    )
    groups_a, groups_b = list(reference.sources.values()), list(other.sources.values())
    norm_a, norm_b = (
        np.sqrt(np.diag(_model_overlap(x, groups, x, groups)))
        for x, groups in ((a, groups_a), (b, groups_b))
    )
    columns, _ = _cosine_match(_model_overlap(a, groups_a, b, groups_b), norm_a, norm_b)
    return {name: list(groups_b[c]) for name, c in zip(reference.sources, columns, strict=True)}


def _cosine_match(overlap: np.ndarray, norm_a: np.ndarray, norm_b: np.ndarray):
    """The group of b for each group of a (Hungarian algorithm on the cosine similarity of
    their models, from their ``overlap`` and norms) and the summed similarity of the pairs."""
    similarity = overlap / np.maximum(np.outer(norm_a, norm_b), np.finfo(np.float64).tiny)
    rows, columns = scipy.optimize.linear_sum_assignment(similarity, maximize=True)
    return columns, math.fsum(similarity[rows, columns])


def _pooled(n_from: int, n_to: int, ratio: float):
    """The sparse ``(n_from, n_to)`` matrix that sums point ``i`` of a grid into point
    ``round(i * ratio)`` (at most the last) of a grid ``1 / ratio`` times coarser."""
    import scipy.sparse

    to = np.minimum(np.rint(np.arange(n_from) * ratio).astype(int), n_to - 1)
    return scipy.sparse.csr_array((np.ones(n_from), (np.arange(n_from), to)), shape=(n_from, n_to))


def _model_overlap(a: NMFResult, groups_a, b: NMFResult, groups_b) -> np.ndarray:
    """``<W_g H_g, W_h H_h>`` for every group g of ``a`` and h of ``b``, without forming W H."""
    products = (a.W.T.astype(np.float64) @ b.W) * (a.H.astype(np.float64) @ b.H.T)
    return np.array([[products[np.ix_(g, h)].sum() for h in groups_b] for g in groups_a])


def source_names(groups) -> dict[str, list[int]]:
    """``{"source_00": indices, ...}``: the names blind sources get, in order of ``groups``."""
    return {
        name: list(map(int, g))
        for name, g in zip(numbered("source", len(groups)), groups, strict=True)
    }
