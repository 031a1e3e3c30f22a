"""Draw the decomposition of the example mixture, as shown in the README.

    python examples/plot_example.py [OUTPUT.png]

The same picture as ``nmfaudio separate data/example/mixture.wav -k 6 --plot``
writes to OUTDIR/decomposition.png (default OUTPUT: examples/decomposition.png).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nmfaudio
from nmfaudio import plot

HERE = Path(__file__).resolve().parent


def main() -> None:
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "decomposition.png"
    y, sr = nmfaudio.load(HERE.parent / "data" / "example" / "mixture.wav")
    result = nmfaudio.separate(y, sr, n_components=6)
    plot.decomposition(result, title="data/example/mixture.wav").savefig(output, dpi=80)
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
