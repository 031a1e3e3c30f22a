"""
Blind sources
=============

Split the example into three sources with no reference (what ``--sources 3``
runs): 8 components per source, grouped by timbre, over 8 random starts whose
groupings are averaged.
"""

# %%
from pathlib import Path

import nmfaudio
from nmfaudio import plot

# The checkout's data/example/ (the gallery runs this from examples/)
EXAMPLE = next(p for p in (Path("data/example"), Path("../data/example")) if p.is_dir())
y, sr = nmfaudio.load(EXAMPLE / "mixture.wav")
result = nmfaudio.separate_sources(y, sr, 3)
result

# %%
# Each source is a group of the components of every fit (its model is the mean
# of its matches); its spectrum in the figure is its components' templates
# weighted by their activations, and its activation their sum.
print(result.describe())
for name, members in result.sources.items():
    print(f"{name}: {len(members)} of the {result.n_components} components of the 8 fits")
figure = plot.decomposition(result)
