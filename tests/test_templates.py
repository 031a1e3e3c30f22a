"""Learnt templates: stacked frames, files that round-trip, and what is not a template file."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
from conftest import FAST, SR, clicks, settings_of

import nmfaudio
from nmfaudio import AudioFileError, ParameterError, Templates
from nmfaudio.frontend import STFTConfig
from nmfaudio.templates import stack_frames, unstack_components


def test_stacked_frames_unstack_into_the_convolutive_model():
    rng = np.random.default_rng(0)
    V = rng.random((5, 7))
    stacked = stack_frames(V, 3)
    assert stacked.shape == (15, 7)
    np.testing.assert_array_equal(stacked[5:10, :6], V[:, 1:])
    np.testing.assert_array_equal(stacked[10:, 5:], 0)
    W, H = rng.random((15, 2)), rng.random((2, 7))
    W_flat, H_flat = unstack_components(W, H, 3)
    assert W_flat.shape == (5, 6) and H_flat.shape == (6, 7)
    # Frame t is the sum of each template's frame j, started at t - j (NMFD's model).
    expected = np.zeros((5, 7))
    for t in range(7):
        for j in range(3):
            if t - j >= 0:
                expected[:, t] += W[5 * j : 5 * (j + 1)] @ H[:, t - j]
    np.testing.assert_allclose(W_flat @ H_flat, expected)


def test_one_frame_templates_are_plain_nmf_templates():
    y = clicks()
    one = nmfaudio.learn([y], SR, 2, context=1, settings=settings_of(seed=0, **FAST))
    plain = nmfaudio.separate(y, SR, 2, settings=settings_of(seed=0, **FAST))
    assert one.W.shape == (257, 2)
    np.testing.assert_allclose(one.W, plain.W)


def test_templates_round_trip_through_a_file(tmp_path, drum_kit):
    tone, _ = drum_kit
    path = tone.save(tmp_path / "tone.npz")
    loaded = Templates.load(path)
    assert (loaded.name, loaded.sr, loaded.config) == ("tone", SR, STFTConfig(512, 128))
    assert loaded.context == tone.context == 2
    np.testing.assert_array_equal(loaded.W, tone.W)
    assert tone.W.shape == (2 * 257, 4)  # two frames per template, stacked
    np.testing.assert_allclose(tone.W.sum(axis=0), 1, rtol=1e-5)


def test_learn_refuses_nothing_and_silence():
    with pytest.raises(ParameterError, match="no recordings"):
        nmfaudio.learn([], SR, 2)
    with pytest.raises(ParameterError, match="silent"):
        nmfaudio.learn([np.zeros(SR)], SR, 2)


def test_loading_what_is_not_a_template_file(tmp_path):
    np.savez(tmp_path / "other.npz", W=np.ones((3, 3)))
    (tmp_path / "text.npz").write_text("hello")
    np.savez(tmp_path / "good.npz", **_template_members())
    good = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "truncated.npz").write_bytes(good[: len(good) // 2])
    (tmp_path / "empty.npz").write_bytes(b"")
    np.save(tmp_path / "plain.npy", np.ones(3))
    np.savez(tmp_path / "rate.npz", **_template_members(sr=[44100, 1]))
    np.savez(tmp_path / "nul.npz", **_template_members(name="a\x00b"))
    _npz_with_huge_W(tmp_path / "bomb.npz")
    assert Templates.load(tmp_path / "good.npz").name == "kick"
    bad = ("other.npz", "text.npz", "truncated.npz", "empty.npz", "plain.npy", "rate.npz",
           "nul.npz", "bomb.npz")  # fmt: skip
    for name in bad:
        with pytest.raises(AudioFileError, match="not an nmfaudio template file"):
            Templates.load(tmp_path / name)
    with pytest.raises(AudioFileError, match="no such file"):
        Templates.load(tmp_path / "missing.npz")


def test_template_files_from_before_the_cost_was_recorded_still_load(tmp_path, drum_kit):
    tone, _ = drum_kit
    path = tmp_path / "old.npz"
    np.savez(
        path, format="nmfaudio-templates-1", name="tone", W=tone.W, sr=SR, n_fft=512,
        hop_length=128, window="hann", context=2,
    )  # fmt: skip
    loaded = Templates.load(path)
    assert (loaded.cost.beta, loaded.cost.penalties) == (1.0, {})
    bad = tmp_path / "bad.npz"
    np.savez(
        bad, format="nmfaudio-templates-1", name="tone", W=tone.W, sr=SR, n_fft=512,
        hop_length=128, window="hann", context=2, beta=1.0, penalties='{"sparsity_H": -1}',
    )  # fmt: skip
    with pytest.raises(AudioFileError, match="not an nmfaudio template file"):
        Templates.load(bad)


def _template_members(**changes) -> dict:
    members = dict(format="nmfaudio-templates-1", name="kick", W=np.ones((514, 2), np.float32),
                   sr=8000, n_fft=512, hop_length=128, window="hann", context=2)  # fmt: skip
    return members | changes


def _npz_with_huge_W(path):
    """A template file whose W header claims 2050 x 524288 floats (4.3 GB); no data follows."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, value in _template_members().items():
            if name != "W":
                with archive.open(f"{name}.npy", "w") as member:
                    np.lib.format.write_array(member, np.asarray(value))
        header = {"descr": "<f4", "fortran_order": False, "shape": (2050, 524288)}
        with archive.open("W.npy", "w") as member:
            np.lib.format.write_array_header_1_0(member, header)
            member.write(bytes(64))
