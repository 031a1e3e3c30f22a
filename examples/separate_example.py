"""Separate the example mixture in data/example/ and compare components with the true parts.

    python examples/separate_example.py [OUTDIR]

Writes one WAV file per component (default OUTDIR: example_separated/) and
prints, for each true part, the component that resembles it most.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import nmfaudio

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "example"


def main() -> None:
    outdir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("example_separated")
    y, sr = nmfaudio.load(EXAMPLE / "mixture.wav")
    result = nmfaudio.separate(y, sr, n_components=6, progress=True)
    paths = nmfaudio.save(result, outdir)
    print(f"{result.n_components} components in {outdir}/, KL divergence {result.losses[-1]:.1f}")

    components = result.components
    for part in ("melody", "bass", "drums"):
        truth, _ = nmfaudio.load(EXAMPLE / f"{part}.wav")
        similarity = [abs(np.corrcoef(c.ravel(), truth.ravel())[0, 1]) for c in components]
        best = int(np.argmax(similarity))
        print(f"{part:>6}: most like {paths[best].name} (correlation {similarity[best]:.2f})")


if __name__ == "__main__":
    main()
