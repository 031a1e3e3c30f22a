"""
Separate and listen
===================

Split the example mixture into six NMF components, listen to each, and find
the component most like each true part.
"""

# %%
# Load the mixture (every channel, at its own rate) and factorize it into six
# components. A :class:`~nmfaudio.Separation` shows as players in a notebook:
import tempfile
from pathlib import Path

import numpy as np

import nmfaudio

# The checkout's data/example/ (the gallery runs this from examples/)
EXAMPLE = next(p for p in (Path("data/example"), Path("../data/example")) if p.is_dir())
y, sr = nmfaudio.load(EXAMPLE / "mixture.wav")  # (n_channels, n_samples), float32
result = nmfaudio.separate(y, sr, n_components=6)
result

# %%
# The components add up to the mixture: the soft masks sum to one.
components = result.components  # (6, n_channels, n_samples)
print(f"largest deviation from the mixture: {np.abs(components.sum(axis=0) - y).max():.1e}")

# %%
# Which component is most like each true part? (A component is rarely a whole
# instrument: see the blind sources and the learnt templates for that.)
for part in ("melody", "bass", "drums"):
    truth, _ = nmfaudio.load(EXAMPLE / f"{part}.wav")
    similarity = [abs(np.corrcoef(c.ravel(), truth.ravel())[0, 1]) for c in components]
    best = int(np.argmax(similarity))
    print(f"{part:>6}: most like component {best} (correlation {similarity[best]:.2f})")

# %%
# Write them, one audio file each and the manifest ``nmfaudio.json``:
outdir = Path(tempfile.mkdtemp(prefix="nmfaudio-example-"))
paths = nmfaudio.save(result, outdir)
print([p.name for p in paths])
