"""Progress on stderr: lines in a log, bars where someone watches, stages inside stages."""

from __future__ import annotations

import pytest

from nmfaudio import _progress
from nmfaudio._progress import stage


def test_a_log_gets_one_line_per_finished_stage(capsys):
    with stage("NMF", 200, "iterations", enabled=True) as bar:
        for _ in range(40):
            bar.update(loss="1.0")
        bar.finish("converged after 40")
        bar.update()  # after the finish: not counted
    err = capsys.readouterr().err
    assert err.startswith("nmfaudio: NMF: 40 iterations, converged after 40 (") and "\r" not in err
    with stage("reading, STFT", 44100, "s of audio", enabled=True, scale=1 / 22050) as bar:
        bar.update(44100)
    assert capsys.readouterr().err.startswith("nmfaudio: reading, STFT: 2 s of audio (")


def test_stages_inside_a_stage_count_in_its_total(capsys):
    with stage("NMF, 2 restarts", 20, "iterations", enabled=True) as outer:
        for restart in range(2):
            outer.label(f"NMF, restart {restart + 1}/2")
            with stage("NMF", 10, "iterations", enabled=True) as inner:
                inner.update(3)
                inner.finish("converged after 3")  # the rest of its share is done
                inner.update()
    assert outer.count == 20
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("nmfaudio: NMF, 2 restarts: 20 iterations (")


def test_files_of_a_batch_keep_their_own_stages(capsys):
    with stage("files", 2, "files", enabled=True, gathers=False) as files:
        with stage("NMF", 5, "iterations", enabled=True) as nmf:
            nmf.update(5)
        files.update()
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(":")[1].strip() for line in lines] == ["NMF", "files"]


def test_nothing_unless_asked_and_nothing_for_a_stage_that_failed(capsys):
    with stage("NMF", 5, "iterations", enabled=False) as bar:
        bar.update(5)
    with pytest.raises(KeyboardInterrupt), stage("NMF", 5, "iterations", enabled=True) as bar:
        bar.update(2)
        raise KeyboardInterrupt
    assert capsys.readouterr().err == ""


def test_bars_where_someone_watches(monkeypatch):
    assert not _progress.watched()  # pytest's stderr is no terminal
    notebook_bar = type("tqdm_notebook", (), {"__module__": "tqdm.notebook"})
    monkeypatch.setattr(_progress, "tqdm", type("tqdm", (notebook_bar,), {}))
    assert _progress.watched()
