"""How a separation shows in Jupyter and the gallery: a player per part, with its audio
inside the page, and the decomposition figure; nothing written, nothing fetched."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
import soundfile as sf
from conftest import SR, settings_of, tones

import nmfaudio
from nmfaudio.notebook import PREVIEW_SECONDS
from nmfaudio.pipeline import BatchResult

FAST = settings_of(n_iter=30)


def _players(page: str) -> list[np.ndarray]:
    """The samples of each <audio> player, decoded from its data URL."""
    urls = re.findall(r'<audio controls preload="none" src="data:audio/wav;base64,([^"]+)"', page)
    return [sf.read(io.BytesIO(base64.b64decode(url)), always_2d=True)[0].T for url in urls]


def test_a_separation_shows_a_player_per_part_holding_that_part(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    y = tones([220.0, 330.0]) + tones([55.0, 82.5], seed=1)
    result = nmfaudio.separate_sources(y, SR, 2, n_restarts=2, settings=FAST)
    page = result._repr_html_()
    players = _players(page)
    assert len(players) == page.count("<audio") == 2
    for name, signal, played in zip(result.sources, result.iter_sources(), players, strict=True):
        assert name in page
        np.testing.assert_allclose(played, np.atleast_2d(signal), atol=2 / 2**15)  # 16-bit
    assert page.count('<img alt="templates and activations" src="data:image/png;base64,') == 1
    assert "http" not in page and 'src="/' not in page  # nothing to fetch
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_components_show_when_not_grouped_and_a_long_part_is_cut_to_its_preview():
    seconds = PREVIEW_SECONDS + 2
    y = np.random.default_rng(0).standard_normal((2, int(seconds * 8000))).astype(np.float32)
    result = nmfaudio.separate(0.1 * y, 8000, 3, settings=FAST)
    page = result._repr_html_()
    players = _players(page)
    assert len(players) == 3 and all(p.shape == (2, int(PREVIEW_SECONDS * 8000)) for p in players)
    assert f"the first {PREVIEW_SECONDS:g} s" in page
    for k in range(3):
        assert f"component_0{k}" in page


def test_a_batch_shows_each_input_and_what_became_of_it():
    batch = BatchResult(
        done=[(Path("a.wav"), Path("out/a"))], failed=[(Path("b.wav"), "b.wav: <not audio>")]
    )
    page = batch._repr_html_()
    assert "1 done, 0 skipped, 1 failed" in page
    assert "a.wav</td><td>done</td><td>out/a" in page
    assert "b.wav: &lt;not audio&gt;" in page  # escaped


def test_a_separation_streamed_from_a_file_shows_its_figure_and_says_where_its_parts_are(
    tmp_path,
):
    path = tmp_path / "song.wav"
    nmfaudio.write_audio(path, tones([220.0, 330.0]), SR)
    result = nmfaudio.separate_file(path, tmp_path / "parts", mode=nmfaudio.Components(2),
                                    settings=FAST)  # fmt: skip
    page = result._repr_html_()
    assert "<audio" not in page and "streamed from song.wav" in page
    assert "component_00" in page and "component_01" in page
    assert page.count("data:image/png;base64,") == 1
