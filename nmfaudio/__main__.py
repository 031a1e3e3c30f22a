"""``python -m nmfaudio``: the same as the ``nmfaudio`` command."""

from .cli import main

raise SystemExit(main())
