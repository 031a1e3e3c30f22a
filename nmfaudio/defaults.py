"""The package's defaults, in one place.

Light to import (no numpy), so the command line can show them in its help
without loading the pipeline.
"""

#: STFT frame length and hop, in samples (Hann window).
N_FFT = 2048
HOP_LENGTH = 512

#: Components per source when only the number of sources is given. Chosen by
#: measurement: 4, 6, 8 and 12 per source on the four real recordings (8 best),
#: and 4 against 8 over five seeds on the 20 development cases (8 better on both halves).
COMPONENTS_PER_SOURCE = 8

#: Random starts whose sources are averaged by :func:`nmfaudio.separate_sources`.
#: Chosen by cross-validation among 1, 3, 5 and 8 on the 20 development cases
#: (benchmarks/bench_quality.py; both halves chose 8) and checked once on 16
#: held-out pieces: see the README's "Separation quality".
N_RESTARTS = 8

#: Sample encodings of the files written.
SUBTYPES = ("FLOAT", "PCM_16", "PCM_24")

#: Names accepted for the common β-divergences (``beta=`` and ``--beta``).
BETA_NAMES = {
    "is": 0.0, "itakura-saito": 0.0,
    "kl": 1.0, "kullback-leibler": 1.0,
    "euclidean": 2.0, "frobenius": 2.0,
}  # fmt: skip
