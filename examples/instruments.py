"""From components to instruments on the example: blind grouping, then learnt templates.

    python examples/instruments.py [OUTDIR]

1. Blind: ``separate_sources`` into 3 sources (what ``--sources 3`` runs).
2. Supervised: templates of each part learnt from its isolated file (here the
   example's own stems; in practice other recordings of the same instruments),
   then ``separate_with_templates`` on the mixture.
Both are scored against the true parts with BSS Eval (``nmfaudio.evaluate``)
and written under OUTDIR (default: a new temporary folder, named at the end,
so that running the example leaves nothing in the checkout).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

import nmfaudio

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "example"
PARTS = ("bass", "drums", "melody")


def main() -> None:
    if len(sys.argv) > 1:
        outdir = Path(sys.argv[1])
    else:
        outdir = Path(tempfile.mkdtemp(prefix="nmfaudio-instruments-"))
    y, sr = nmfaudio.load(EXAMPLE / "mixture.wav")
    truth = np.stack([nmfaudio.load(EXAMPLE / f"{part}.wav")[0] for part in PARTS])

    blind = nmfaudio.separate_sources(y, sr, len(PARTS))
    nmfaudio.save(blind, outdir / "blind")
    print(f"Blind grouping -> {outdir / 'blind'}/\n{score(blind, truth)}\n")

    templates = [nmfaudio.learn([truth[i]], sr, 4, name=part) for i, part in enumerate(PARTS)]
    supervised = nmfaudio.separate_with_templates(y, sr, templates)
    nmfaudio.save(supervised, outdir / "templates")
    print(f"Learnt templates -> {outdir / 'templates'}/\n{score(supervised, truth)}")


def score(result: nmfaudio.Separation, truth: np.ndarray) -> str:
    """BSS Eval table of the sources against the true parts (matched by name, else permutation)."""
    estimates = np.stack(list(result.iter_sources()))
    return nmfaudio.evaluate(
        truth, estimates, reference_names=list(PARTS), estimate_names=list(result.sources)
    ).table()


if __name__ == "__main__":
    main()
