"""
Learnt templates
================

Learn templates of each instrument from an isolated recording of it, then
separate the mixture with them kept fixed: each set gives one part, named after
it. (Here the example's own stems; in practice, other recordings of the same
instruments.)
"""

# %%
from pathlib import Path

import nmfaudio
from nmfaudio import plot

# The checkout's data/example/ (the gallery runs this from examples/)
EXAMPLE = next(p for p in (Path("data/example"), Path("../data/example")) if p.is_dir())
y, sr = nmfaudio.load(EXAMPLE / "mixture.wav")
templates = [
    nmfaudio.learn([nmfaudio.load(EXAMPLE / f"{part}.wav")[0]], sr, 4, name=part)
    for part in ("melody", "bass", "drums")
]
print([(t.name, t.W.shape) for t in templates])

# %%
# Separate with the three sets, plus two free components for anything they
# do not describe (the part ``rest``):
result = nmfaudio.separate_with_templates(y, sr, templates, n_extra=2)
result

# %%
figure = plot.decomposition(result)
