"""The README's Python blocks run as written, and the examples leave nothing in the checkout."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import REPO

BLOCKS = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)


def test_the_readme_has_python_blocks():
    assert len(BLOCKS) >= 3


def test_every_readme_python_block_runs_in_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").symlink_to(REPO / "data")  # the README's paths are the checkout's
    namespace: dict = {}
    for number, block in enumerate(BLOCKS, 1):
        try:
            exec(compile(block, f"README.md python block {number}", "exec"), namespace)
        except Exception as exc:  # name the block that failed
            pytest.fail(f"README python block {number} failed: {exc!r}\n{block}")
    assert sorted(p.name for p in (tmp_path / "example_sources").glob("*.wav")) == [
        "source_00.wav", "source_01.wav", "source_02.wav"
    ]  # fmt: skip


def test_instruments_example_writes_outside_the_working_folder(tmp_path):
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "instruments.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Blind" in done.stdout and "Learnt templates" in done.stdout
    assert list(tmp_path.iterdir()) == []
