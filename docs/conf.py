"""Sphinx configuration: the API reference from the docstrings (numpydoc), the command
line from the parser, and the gallery from ``examples/`` (sphinx-gallery).

Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html``. Nothing is
fetched from the network: no intersphinx, and the gallery uses ``data/example/`` and
audio its scripts synthesize.
"""

from __future__ import annotations

import io
from pathlib import Path

from matplotlib.figure import Figure

import nmfaudio
from nmfaudio.cli import build_parser

DOCS = Path(__file__).resolve().parent

project = "nmfaudio"
author = "the nmfaudio developers"
copyright = "the nmfaudio developers"
release = version = nmfaudio.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
exclude_patterns = ["_build", "_generated", "auto_examples/*.ipynb", "auto_examples/*.py"]
html_theme = "alabaster"
html_static_path = []
html_theme_options = {"description": "NMF source separation for music", "fixed_sidebar": True}
html_sidebars = {"**": ["about.html", "navigation.html", "searchbox.html"]}

# The stubs of the API page (made from nmfaudio.__all__ at builder-inited, see setup).
# The gallery's scraper is a function, so Sphinx cannot pickle the configuration for
# incremental builds; it says so on every build, which -W would make an error.
suppress_warnings = ["config.cache"]
autosummary_generate = ["api.rst"]
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
# numpydoc's validation of the sections that a reference needs, as errors under -W.
numpydoc_validation_checks = {"GL06", "GL07", "SA02", "SA03", "SA04", "RT03"}


def _figures(block, block_vars, gallery_conf):
    """sphinx-gallery's image scraper for the figures nmfaudio.plot makes: they are
    matplotlib Figures made without pyplot, which its matplotlib scraper never sees. Each
    new Figure in the example's namespace is saved once, in the order it was made."""
    from sphinx_gallery.scrapers import figure_rst

    namespace = block_vars["example_globals"]
    seen = namespace.setdefault("__scraped_figures__", set())
    paths = []
    for value in list(namespace.values()):
        if isinstance(value, Figure) and id(value) not in seen:
            seen.add(id(value))
            path = next(block_vars["image_path_iterator"])
            value.savefig(path, dpi=80)
            paths.append(path)
    return figure_rst(paths, gallery_conf["src_dir"])


sphinx_gallery_conf = {
    "examples_dirs": str(DOCS.parent / "examples"),
    "gallery_dirs": str(DOCS / "auto_examples"),
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"report_screenshot\.py|__init__\.py",
    "image_scrapers": (_figures,),
    "capture_repr": ("_repr_html_", "__repr__"),
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "show_memory": False,
    "write_computation_times": False,  # its page loads scripts from CDNs
    "plot_gallery": "True",
}


def _cli_reference() -> str:
    """Every command's --help, as the parser prints it, under a heading each."""
    parser = build_parser()
    out = io.StringIO()
    out.write("nmfaudio\n--------\n\n.. code-block:: text\n\n")
    out.write(_indented(parser.format_help()))
    commands = next(a for a in parser._actions if a.dest == "command")  # the subparsers
    for name, sub in commands.choices.items():
        title = f"nmfaudio {name}"
        out.write(f"{title}\n{'-' * len(title)}\n\n.. code-block:: text\n\n")
        out.write(_indented(sub.format_help()))
    return out.getvalue()


def _indented(text: str) -> str:
    return "".join(f"   {line}\n" if line else "\n" for line in text.splitlines()) + "\n"


API_PAGE = """API reference
=============

Every name ``nmfaudio`` exports (``nmfaudio.__all__``; this page is made from it
when the documentation is built), from its docstring, and below them the
stages' functions that are useful on their own.

.. currentmodule:: nmfaudio

.. autosummary::
   :toctree: generated

"""


#: The stages' functions, callable on their own (each has a runnable example).
STAGES = [
    "frontend.stft", "frontend.magnitude", "frontend.spectrogram",
    "backend.soft_mask", "backend.istft",
    "plot.spectrogram", "plot.decomposition", "plot.components",
    "report.write", "alignment.alignments",
    "score.pitch_hz", "score.parse_spans", "evaluation.si_sdr", "evaluation.evaluate_dirs",
]  # fmt: skip


def _write_generated(app) -> None:
    """The command line's page from the parser and the API page from ``__all__``, before
    autosummary reads the pages for the stubs it writes."""
    generated = DOCS / "_generated"
    generated.mkdir(exist_ok=True)
    _write_if_changed(generated / "cli.rst", _cli_reference())
    names = "".join(f"   {n}\n" for n in nmfaudio.__all__ if n != "__version__")
    stages = "".join(f"   {n}\n" for n in STAGES)
    _write_if_changed(DOCS / "api.rst", API_PAGE + names + STAGES_PAGE + stages)


STAGES_PAGE = """
The stages on their own
-----------------------

.. autosummary::
   :toctree: generated

"""


def _write_if_changed(path: Path, text: str) -> None:
    """Written only when new, so that Sphinx does not rebuild every page each time."""
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def setup(app):
    app.connect("builder-inited", _write_generated, priority=100)
