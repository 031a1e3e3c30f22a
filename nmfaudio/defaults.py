"""The package's defaults, in one place.

Light to import (no numpy), so the command line can show them in its help
without loading the pipeline.
"""

#: STFT frame length and hop, in samples (Hann window).
N_FFT = 2048
HOP_LENGTH = 512

#: The divergence the NMF minimises: β = 1, generalized Kullback-Leibler, the
#: cost of Lee & Seung's and of most audio NMF (any β >= 0 may be asked for).
BETA = 1.0
#: Most NMF iterations, and the relative decrease of the cost below which the fit stops.
N_ITER = 200
TOL = 1e-4
#: How the factors start, and the seed of that start: the same result every run.
INIT = "random"
SEED = 0

#: Soft-mask exponent: 2, Wiener masks (power spectra in ratio).
MASK_POWER = 2.0

#: Components when neither a number of components nor of sources is given.
N_COMPONENTS = 8

#: Frames grow as the hop shrinks, and memory and time with them: a hop that makes
#: more than ten times the default's frames is refused (hop 1 on 10 s took 9 GB).
MIN_HOP = -(-HOP_LENGTH // 10)
#: Longest STFT frame: 1.5 s at 44.1 kHz, beyond what separates notes (a frame of
#: 10**8 samples allocated 3.3 GB before anything checked it).
MAX_N_FFT = 2**16

#: Sample rates read, resampled to and written: libsndfile's highest (so whatever
#: nmfaudio writes it reads back), and a lowest below which there is no music to
#: separate (a 1 Hz or 10**9 Hz rate only costs memory: 10**9 Hz crashed at 12.5 GB).
MIN_SAMPLE_RATE = 1000
MAX_SAMPLE_RATE = 655_350

#: Highest soft-mask exponent. Masks are computed from models scaled by a power
#: of two so that no power overflows float32; beyond 8 the powers of time-frequency
#: points more than ~110 dB below the loudest underflow to zero, so those points
#: would get uniform masks. 8 is already a binary mask in effect.
MAX_MASK_POWER = 8.0

#: Components per source when only the number of sources is given. Chosen by
#: measurement: 4, 6, 8 and 12 per source on the four real recordings (8 best),
#: and 4 against 8 over five seeds on the 20 development cases (8 better on both halves).
COMPONENTS_PER_SOURCE = 8

#: Frames a learnt template spans: measured on drums808 with templates of another
#: kit, 17.0 dB mean SDR with two frames (about 46 ms at 44.1 kHz and the default
#: hop) against 15.0 dB with one.
TEMPLATE_CONTEXT = 2

#: What learnt templates do in a separation: name the components of free
#: factorizations ("names"), or be kept "fixed", or be the start of templates
#: "adapted" to the recording. Measured with another kit's templates (benchmarks/
#: bench_template_assignment.py): see the documentation's "Separation quality".
TEMPLATE_USES = ("names", "fixed", "adapted")
TEMPLATE_USE = "names"

#: Whole semitones, up and down, by which learnt templates are also transposed
#: before they name components: templates learnt on other notes than the
#: recording's still explain its notes. Chosen among 0-5, 7 and 12 on each half
#: of 22 pairs of pieces with the same instruments and 6 pairs of drum kits
#: (benchmarks/bench_template_pairs.py), among the ranges that keep drums808 at
#: 17 dB: the halves chose 2 and 1, each better on the other half than the
#: templates as learnt, so the choice of both halves together. 7 and 12 failed
#: drums808 (16.98 and 11.72 dB; 17.26 as learnt): a kick stretched up
#: explains a snare.
NAMING_SEMITONES = 3

#: Random starts whose sources are averaged by :func:`nmfaudio.separate_sources`.
#: Chosen by cross-validation among 1, 3, 5 and 8 on the 20 development cases
#: (benchmarks/bench_quality.py; both halves chose 8) and checked once on 16
#: held-out pieces: see the documentation's "Separation quality" (docs/quality.rst).
N_RESTARTS = 8

#: Above this share of its energy in the percussive part (at any sample rate:
#: :func:`nmfaudio.grouping.recording_percussive_share`), a recording is mostly percussive,
#: as a drum kit is, and :func:`nmfaudio.separate_sources` lets each restart be grouped by its
#: standardised MFCCs instead (:func:`nmfaudio.grouping.better_scaled`). A majority,
#: not a tuned value: see the documentation's "Separation quality".
MOSTLY_PERCUSSIVE = 0.5

#: Blind sources' STFT windows (Sources.windows, --windows), in seconds; None: one analysis,
#: the STFT settings'. Windows are not the default: with 8 restarts each (0.023, 0.046,
#: 0.093) they are better on both halves of the development pieces and on the check ones,
#: at three times the time, and the default's 8 restarts shared among them are not better
#: on both halves (docs/quality.rst, benchmarks/bench_window.py).
SOURCES_WINDOWS = None

#: How a score becomes templates and activations (see nmfaudio.settings.ScoreModel). Chosen
#: by coordinate ascent from the plain Ewert & Muller model (20 partials at 1/h, +-0.5
#: semitone, +-0.1 s, 100 iterations) on each half of the 16 development pieces, reported
#: on the other (benchmarks/bench_score.py --part select): where both halves agreed, their
#: choice (tolerance, release, no onset templates, iterations), else that of all 16.
SCORE_PARTIALS = 10
SCORE_ROLLOFF = 2.0
SCORE_WIDTH = 0.5
SCORE_BINS = 1
SCORE_TOLERANCE = 0.05
SCORE_RELEASE = 0.3
SCORE_DRUM_LENGTH = 0.2
SCORE_ONSETS = False
#: Iterations: 25 at the 93 ms window; the same search at SCORE_WINDOW chose 10 on both
#: halves (8.45 and 9.07 dB against 8.44 and 8.68 at 25; --part select --window 0.19).
SCORE_ITERATIONS = 10
#: The score mode's STFT window (ScoreModel.window), in seconds, with the default STFT
#: settings (nmfaudio.modes.WithScore.stft; the CLI's --n-fft or --hop say otherwise): the frame
#: length is the power of two nearest sr * SCORE_WINDOW, the hop a quarter of it (4096
#: and 1024 at 22.05 kHz, 8192 and 2048 at 44.1 kHz). The score says when each note
#: sounds; the STFT can then spend its resolution on frequency, where combs of
#: neighbouring pitches must not overlap. Chosen among 46, 93, 186 and 372 ms on the 16
#: development pieces at 22.05 kHz, both halves choosing 186 ms (+0.35 and +0.41 dB
#: over 93 ms, the 2048 samples of the other modes), and checked at 44.1 kHz, where the
#: same durations in samples measured the same (8192 samples 8.33 dB, 4096 7.91, 2048
#: 6.40): what matters is the duration (benchmarks/bench_score.py --part window).
SCORE_WINDOW = 0.19
#: Iterations of the short fits that choose between a score and its alignment.
SCORE_TRIAL_ITERATIONS = 20
#: Free templates of each part given as spans of time (``--active``).
SPAN_COMPONENTS = 4

#: Audio formats the parts can be written in, each with the sample encodings it takes
#: (libsndfile's names), its default first. FLAC at 24 bits is lossless for any input
#: of up to 24 bits and a third the size of float WAV; OGG (Vorbis) and MP3 are lossy.
FORMATS = {
    "wav": ("FLOAT", "PCM_16", "PCM_24"),
    "flac": ("PCM_24", "PCM_16"),
    "ogg": ("VORBIS",),
    "mp3": ("MPEG_LAYER_III",),
}
FORMAT = "wav"
#: Every sample encoding of :data:`FORMATS`.
SUBTYPES = tuple(dict.fromkeys(s for subtypes in FORMATS.values() for s in subtypes))

#: Names accepted for the common β-divergences (``beta=`` and ``--beta``).
BETA_NAMES = {
    "is": 0.0, "itakura-saito": 0.0,
    "kl": 1.0, "kullback-leibler": 1.0,
    "euclidean": 2.0, "frobenius": 2.0,
}  # fmt: skip

#: What the evaluation's scores measure, for its table's footer and ``evaluate --help``: they can
#: disagree by 20 dB on one pair, both correctly.
METRICS_EXPLAINED = (
    "SDR, SIR, SAR: BSS Eval v3 (mir_eval), which first fits a 512-tap filter from the true"
    " part to the estimate and counts only what no filter explains as distortion: it"
    " forgives an estimate that sounds filtered (a brighter or duller part) and is the figure"
    " papers report; SIR is the leak of the other parts, SAR the artefacts. SI-SDR forgives"
    " only a gain: it is how close the waveform is, lower than SDR when the estimate's"
    " spectrum is tilted. Compare with published results by SDR; judge how faithful a part"
    " sounds by SI-SDR beside it."
)
