"""The Python blocks of the README and of the documentation's pages run as written, in
the order a reader meets them; the gallery's scripts leave nothing in the checkout."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest
from conftest import REPO

DOCS = REPO / "docs"
#: The pages in the order of the documentation's table of contents.
PAGES = re.findall(r"^   (\w+)$", (DOCS / "index.rst").read_text(), re.M)


def _blocks() -> list[tuple[str, str]]:
    """(where, code) of every Python block: the README's, then each page's."""
    readme = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    blocks = [(f"README.md python block {i}", b) for i, b in enumerate(readme, 1)]
    for page in PAGES:
        path = DOCS / f"{page}.rst"
        if not path.exists():  # generated (api) or the gallery's
            continue
        found = re.findall(
            r"^\.\. code-block:: python\n\n((?:   .*\n|\n)+)", path.read_text(), re.M
        )
        blocks += [(f"docs/{page}.rst python block {i}", textwrap.dedent(b))
                   for i, b in enumerate(found, 1)]  # fmt: skip
    return blocks


BLOCKS = _blocks()


def test_the_readme_and_the_pages_have_python_blocks():
    where = {w.split(" python")[0] for w, _ in BLOCKS}
    assert {"README.md", "docs/getting_started.rst", "docs/modes.rst", "docs/score.rst"} <= where


def test_every_python_block_runs_in_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").symlink_to(REPO / "data")  # the blocks' paths are the checkout's
    namespace: dict = {}
    for where, block in BLOCKS:
        try:
            exec(compile(block, where, "exec"), namespace)
        except Exception as exc:  # name the block that failed
            pytest.fail(f"{where} failed: {exc!r}\n{block}")
    assert sorted(p.name for p in (tmp_path / "example_sources").glob("*.wav")) == [
        "source_00.wav", "source_01.wav", "source_02.wav"
    ]  # fmt: skip


def test_a_gallery_script_runs_on_its_own_and_writes_outside_the_working_folder(tmp_path):
    script = REPO / "examples" / "plot_learnt_templates.py"
    (tmp_path / "data").symlink_to(REPO / "data")  # run from a checkout's root
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    assert "('melody', (2050, 4))" in done.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["data"]
