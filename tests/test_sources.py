"""From components to sources: partly fixed W, blind grouping, learnt templates, their CLI."""

from __future__ import annotations

import dataclasses
import json
import zipfile

import numpy as np
import pytest
import soundfile as sf
from conftest import settings_of
from test_cli import run

import nmfaudio
from nmfaudio import AudioFileError, ParameterError, Templates
from nmfaudio.defaults import N_RESTARTS
from nmfaudio.frontend import STFTConfig
from nmfaudio.grouping import cluster_components, consensus, restarts, source_names
from nmfaudio.modes import Sources
from nmfaudio.nmf import EPSILON, NMFResult
from nmfaudio.separation import analyse
from nmfaudio.settings import Fit
from nmfaudio.templates import stack_frames, unstack_components

SR = 8000
FAST = {"n_fft": 512, "hop_length": 128}


def tones(notes, seconds=2.0, seed=0) -> np.ndarray:
    """A harmonic instrument playing ``notes`` (Hz) one after another, mono."""
    t = np.arange(int(seconds * SR)) / SR
    f0 = np.repeat(notes, -(-t.size // len(notes)))[: t.size]
    phase = 2 * np.pi * np.cumsum(f0) / SR
    envelope = np.exp(-(t % (seconds / len(notes))) * 3)
    return (0.3 * envelope * sum(np.sin(h * phase) / h for h in range(1, 6))).astype(np.float32)


def clicks(seconds=2.0, period=0.25, seed=0) -> np.ndarray:
    """A percussive instrument: high-passed noise bursts, mono."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    noise = np.diff(rng.standard_normal(t.size + 1))
    return (0.2 * noise * np.exp(-(t % period) / 0.01)).astype(np.float32)


def snr(reference, estimate) -> float:
    return 10 * np.log10(np.sum(reference**2) / np.sum((reference - estimate) ** 2))


# -- nmf with some templates kept --------------------------------------------------------------


def reference_update(V, W, H, fixed, n_iter, frozen=None):
    """Plain float64 multiplicative updates, only the free columns of W and rows of H learnt."""
    W, H = W.copy(), H.copy()
    frozen = np.zeros(W.shape[1], bool) if frozen is None else frozen
    for _ in range(n_iter):
        R = V / np.maximum(W @ H, EPSILON)
        W_new = W * (R @ H.T) / H.sum(axis=1)
        W[:, ~fixed] = W_new[:, ~fixed]
        R = V / np.maximum(W @ H, EPSILON)
        H_new = H * (W.T @ R) / W.sum(axis=0)[:, None]
        H[~frozen] = H_new[~frozen]
    return W, H


def test_partly_fixed_W_keeps_those_columns_and_matches_the_reference_update():
    rng = np.random.default_rng(0)
    V = rng.random((40, 70)) ** 3
    W0, H0 = rng.random((40, 5)) + 0.1, rng.random((5, 70)) + 0.1
    fixed = np.array([True, False, True, False, False])
    result = nmf_fixed(V, W0, H0, fixed, n_iter=15)
    np.testing.assert_array_equal(result.W[:, fixed], W0[:, fixed])  # kept as given, unscaled
    np.testing.assert_allclose(result.W[:, ~fixed].sum(axis=0), 1)  # learnt: unit sum
    W, H = reference_update(V, W0, H0, fixed, 15)
    np.testing.assert_allclose(result.W @ result.H, W @ H, rtol=1e-9)
    assert np.all(np.diff(result.losses) <= 1e-12 * result.losses[0])  # MU never goes up


def test_fixed_part_of_the_model_stays_and_the_rest_fits_around_it():
    rng = np.random.default_rng(1)
    V = rng.random((40, 70)) ** 3
    W0, H0 = rng.random((40, 5)) + 0.1, rng.random((5, 70)) + 0.1
    kept = np.array([True, True, False, False, True])
    result = nmfaudio.nmf(
        V, 5, W=W0, H=H0, fix_W=kept, fix_H=kept, dtype=np.float64, fit=Fit(n_iter=15, tol=0)
    )
    np.testing.assert_array_equal(result.H[kept], H0[kept])  # as given, unscaled
    np.testing.assert_array_equal(result.W[:, kept], W0[:, kept])
    W, H = reference_update(V, W0, H0, kept, 15, frozen=kept)
    np.testing.assert_allclose(result.W @ result.H, W @ H, rtol=1e-9)
    assert np.all(np.diff(result.losses) <= 1e-12 * result.losses[0])
    frozen_only = nmfaudio.nmf(V, 5, H=H0, fix_H=True, dtype=np.float64, fit=Fit(n_iter=10, tol=0))
    np.testing.assert_array_equal(frozen_only.H, H0)  # W learnt, H as given
    with pytest.raises(ParameterError, match="fix_H needs the activations H"):
        nmfaudio.nmf(V, 5, fix_H=kept)
    with pytest.raises(ParameterError, match="fix_H must be a bool or a boolean array"):
        nmfaudio.nmf(V, 5, H=H0, fix_H=[1, 0, 1, 0, 1])


def nmf_fixed(V, W0, H0, fixed, n_iter):
    return nmfaudio.nmf(
        V, 5, W=W0, H=H0, fix_W=fixed, dtype=np.float64, fit=Fit(n_iter=n_iter, tol=0)
    )


@pytest.mark.parametrize("mask", [np.ones(4, bool), np.array([1, 0, 1, 0, 1]), [True] * 3])
def test_fix_W_mask_must_be_boolean_of_length_K(mask):
    V = np.ones((10, 12))
    with pytest.raises(ParameterError, match="fix_W must be a bool or a boolean array"):
        nmfaudio.nmf(V, 5, W=np.ones((10, 5)), fix_W=mask)


# -- blind grouping -----------------------------------------------------------------------------


def test_clustering_finds_obvious_groups_numbered_by_first_component():
    features = np.array([[5.0, 0], [0, 0], [5.1, 0], [0.1, 0], [0, 9], [0, 9.2]])
    np.testing.assert_array_equal(cluster_components(features, 3), [0, 1, 0, 1, 2, 2])
    np.testing.assert_array_equal(cluster_components(features, 6), np.arange(6))
    np.testing.assert_array_equal(cluster_components(features, 1), np.zeros(6))


def test_group_separates_a_tone_from_clicks_and_sources_sum_to_the_input():
    harmonic, percussive = tones([220, 330, 262, 392]), clicks()
    mix = np.stack([harmonic + percussive, 0.5 * harmonic + percussive])  # stereo
    result = nmfaudio.separate(mix, SR, 8, settings=settings_of(seed=0, **FAST))
    grouped = nmfaudio.group(result, 2)
    assert list(grouped.sources) == ["source_00", "source_01"]
    members = sorted(k for group in grouped.sources.values() for k in group)
    assert members == list(range(8))  # a partition of the components
    sources = np.stack(list(grouped.iter_sources()))
    assert sources.shape == (2, 2, mix.shape[1])
    np.testing.assert_allclose(sources.sum(axis=0), mix, atol=1e-5)
    # Each reference is recovered by one source, well above chance.
    references = [harmonic, percussive]
    best = [max(snr(ref, src[0]) for src in sources) for ref in references]
    assert min(best) > 8, best


def test_grouping_is_deterministic_for_a_seed():
    mix = tones([220, 330, 262]) + clicks()
    first = nmfaudio.group(nmfaudio.separate(mix, SR, 6, settings=settings_of(seed=3, **FAST)), 2)
    again = nmfaudio.group(nmfaudio.separate(mix, SR, 6, settings=settings_of(seed=3, **FAST)), 2)
    assert first.sources == again.sources
    np.testing.assert_array_equal(list(first.iter_sources()), list(again.iter_sources()))


def test_group_needs_at_least_as_many_components_as_sources():
    result = nmfaudio.separate(clicks(), SR, 2, settings=settings_of(**FAST))
    with pytest.raises(ParameterError, match="cannot group 2 components into 3 sources"):
        nmfaudio.group(result, 3)
    with pytest.raises(ParameterError, match="n_sources must be a positive integer"):
        nmfaudio.group(result, 0)
    with pytest.raises(ParameterError, match="group the components first"):
        result.iter_sources()


def test_separate_sources_is_deterministic_for_a_seed_and_one_restart_is_group():
    mix = tones([220, 330, 262]) + clicks()
    options = dict(n_iter=60, seed=3, **FAST)
    first = nmfaudio.separate_sources(
        mix, SR, 2, n_components=6, n_restarts=3, settings=settings_of(**options)
    )
    again = nmfaudio.separate_sources(
        mix, SR, 2, n_components=6, n_restarts=3, settings=settings_of(**options)
    )
    assert first.sources == again.sources
    np.testing.assert_array_equal(list(first.iter_sources()), list(again.iter_sources()))
    other = nmfaudio.separate_sources(
        mix, SR, 2, n_components=6, n_restarts=3, settings=settings_of(**options | {"seed": 4})
    )
    assert not np.array_equal(first.W, other.W)
    # One restart is the plain pipeline: separate, then group, from the same seed.
    single = nmfaudio.separate_sources(
        mix, SR, 2, n_components=6, n_restarts=1, settings=settings_of(**options)
    )
    grouped = nmfaudio.group(
        nmfaudio.separate(mix, SR, 6, settings=settings_of(n_iter=60, seed=3, **FAST)), 2
    )
    assert single.sources == grouped.sources
    np.testing.assert_array_equal(single.W, grouped.W)


def test_fewer_restarts_are_the_first_of_more_drawn_from_the_same_seed():
    mix = tones([220, 330, 262]) + clicks()
    settings = settings_of(n_iter=40, seed=5, **FAST)
    three = nmfaudio.separate_sources(mix, SR, 2, n_components=6, n_restarts=3, settings=settings)
    spectrogram = analyse(mix, SR, STFTConfig(**FAST), Sources(2, 6))
    runs = restarts(spectrogram, 2, 6, 5, settings=settings)
    fit, groups = consensus(runs[:3])
    np.testing.assert_array_equal(three.W, fit.W)
    np.testing.assert_array_equal(three.H, fit.H)
    assert three.sources == source_names(groups)
    # Drawn one at a time from one generator: the same restarts again.
    rng = np.random.default_rng(5)
    by_one = dataclasses.replace(settings, fit=dataclasses.replace(settings.fit, seed=rng))
    singles = [restarts(spectrogram, 2, 6, 1, settings=by_one)[0] for _ in range(5)]
    for (a, a_groups), (b, b_groups) in zip(runs, singles, strict=True):
        np.testing.assert_array_equal(a.W, b.W)
        assert [g.tolist() for g in a_groups] == [g.tolist() for g in b_groups]


def test_consensus_matches_sources_across_restarts_and_averages_their_models():
    rng = np.random.default_rng(0)
    fit = NMFResult(W=rng.random((30, 6)), H=rng.random((6, 40)), losses=np.ones(3))
    groups = [np.array([0, 3]), np.array([1, 4, 5]), np.array([2])]
    # The same factorization again, its sources listed in another order.
    fit2 = NMFResult(W=fit.W[:, ::-1].copy(), H=fit.H[::-1].copy(), losses=np.ones(3))
    groups2 = [5 - g for g in groups[::-1]]
    merged, merged_groups = consensus([(fit, groups), (fit2, groups2)])
    assert merged.W.shape == (30, 12) and merged.H.shape == (12, 40)
    # Either run may be the reference (they agree equally): the pairs are what counts.
    expected = {frozenset([*g, *(6 + groups2[2 - s])]) for s, g in enumerate(groups)}
    assert {frozenset(g) for g in merged_groups} == expected
    for merged_group in merged_groups:
        g = [k for k in merged_group if k < 6]
        model = merged.W[:, merged_group] @ merged.H[merged_group]
        np.testing.assert_allclose(model, fit.W[:, g] @ fit.H[g])  # mean of two equal models


def test_consensus_takes_the_restart_that_agrees_most_as_reference():
    rng = np.random.default_rng(2)
    W, H = rng.random((30, 4)), rng.random((4, 40))
    split, other = [np.array([0, 1]), np.array([2, 3])], [np.array([0, 2]), np.array([1, 3])]
    runs = [(NMFResult(W, H, np.full(1, i)), g) for i, g in enumerate((other, split, split))]
    merged, groups = consensus(runs)
    assert merged.losses[0] == 1  # the reference's
    # Run 1 leads (first of the two that agree): its first source is source 0.
    assert sorted(k for k in groups[0] if k >= 4) == [4, 5, 8, 9]
    assert sorted(k for k in groups[1] if k >= 4) == [6, 7, 10, 11]


def test_separate_sources_sum_to_the_input_and_find_the_tone_and_the_clicks():
    harmonic, percussive = tones([220, 330, 262, 392]), clicks()
    mix = np.stack([harmonic + percussive, 0.5 * harmonic + percussive])
    result = nmfaudio.separate_sources(
        mix, SR, 2, n_components=8, settings=settings_of(seed=0, **FAST)
    )
    assert result.n_components == 8 * N_RESTARTS
    assert sorted(k for g in result.sources.values() for k in g) == list(range(result.n_components))
    sources = np.stack(list(result.iter_sources()))
    np.testing.assert_allclose(sources.sum(axis=0), mix, atol=1e-5)
    best = [max(snr(ref, src[0]) for src in sources) for ref in (harmonic, percussive)]
    assert min(best) > 8, best


def test_separate_sources_checks_its_counts():
    with pytest.raises(ParameterError, match="3 components cannot make 4 sources"):
        nmfaudio.separate_sources(clicks(), SR, 4, n_components=3, settings=settings_of(**FAST))
    with pytest.raises(ParameterError, match="n_restarts must be a positive integer"):
        nmfaudio.separate_sources(clicks(), SR, 2, n_restarts=0, settings=settings_of(**FAST))


def test_real_music_blind_grouping_scores(separation_case):
    folder = separation_case("drums808")
    y, sr = nmfaudio.load(folder / "mixture.wav")
    names = ["hihat", "kick", "snare"]
    references = np.stack([nmfaudio.load(folder / f"{n}.wav")[0][0] for n in names])
    result = nmfaudio.separate_sources(
        y, sr, 3, settings=settings_of(seed=0)
    )  # what --sources 3 runs
    scores = nmfaudio.evaluate(references, np.stack([s[0] for s in result.iter_sources()]))
    assert np.mean(scores.sdr) > 12, scores.table()  # 15.6 dB measured; K = S gives 3.6


# -- learnt templates ---------------------------------------------------------------------------


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


@pytest.fixture
def drum_kit():
    """Templates of a tone and of clicks, learnt from recordings other than the mix.

    Harmonic templates are pitch-specific: the tone's are learnt on its notes.
    """
    notes = tones([220, 330, 262, 392], seconds=1.5)
    tone = nmfaudio.learn([notes], SR, 4, name="tone", settings=settings_of(seed=0, **FAST))
    click = nmfaudio.learn(
        [clicks(period=0.3, seed=5)], SR, 2, name="click", settings=settings_of(seed=0, **FAST)
    )
    return tone, click


def test_templates_round_trip_through_a_file(tmp_path, drum_kit):
    tone, _ = drum_kit
    path = tone.save(tmp_path / "tone.npz")
    loaded = Templates.load(path)
    assert (loaded.name, loaded.sr, loaded.config) == ("tone", SR, STFTConfig(512, 128))
    assert loaded.context == tone.context == 2
    np.testing.assert_array_equal(loaded.W, tone.W)
    assert tone.W.shape == (2 * 257, 4)  # two frames per template, stacked
    np.testing.assert_allclose(tone.W.sum(axis=0), 1, rtol=1e-5)


def test_separation_with_templates_recovers_each_instrument(drum_kit):
    harmonic, percussive = tones([220, 330, 262, 392]), clicks(seed=9)
    result = nmfaudio.separate_with_templates(
        harmonic + percussive, SR, drum_kit, settings=settings_of(seed=0)
    )
    assert list(result.sources) == ["tone", "click"]
    # Each two-frame template became two components: frame 0 at k, frame 1 at 6 + k.
    assert result.sources == {"tone": [0, 1, 2, 3, 6, 7, 8, 9], "click": [4, 5, 10, 11]}
    np.testing.assert_array_equal(result.W[:, :4], drum_kit[0].W[:257])  # kept fixed
    np.testing.assert_array_equal(result.W[:, 6:10], drum_kit[0].W[257:])
    tone, click = (s[0] for s in result.iter_sources())
    assert snr(harmonic, tone) > 15 and snr(percussive, click) > 8  # 24.5 and 14.0 measured
    np.testing.assert_allclose(tone + click, harmonic + percussive, atol=1e-5)


def test_adapted_templates_start_from_the_learnt_ones_and_fit_better(drum_kit):
    harmonic, percussive = tones([247, 370, 294]), clicks(seed=4, period=0.2)
    mix = harmonic + percussive
    fixed = nmfaudio.separate_with_templates(mix, SR, drum_kit, settings=settings_of(seed=0, tol=0))
    adapted = nmfaudio.separate_with_templates(
        mix, SR, drum_kit, adapt=True, settings=settings_of(seed=0, tol=0)
    )
    assert adapted.sources == fixed.sources  # sources follow the sets the templates came from
    assert not np.allclose(adapted.W[:, :4], drum_kit[0].W[:257])  # learnt, not kept
    np.testing.assert_allclose(adapted.W[:, :6].sum(axis=0) + adapted.W[:, 6:].sum(axis=0), 1,
                               rtol=1e-5)  # fmt: skip
    assert adapted.losses[-1] < 0.9 * fixed.losses[-1]
    np.testing.assert_allclose(sum(s[0] for s in adapted.iter_sources()), mix, atol=1e-5)


def test_extra_components_make_a_rest_source(drum_kit):
    other = 0.2 * np.sin(2 * np.pi * 1500 * np.arange(2 * SR) / SR).astype(np.float32)
    harmonic, percussive = tones([220, 330, 262, 392]), clicks(seed=9)
    mix = harmonic + percussive + other
    alone = nmfaudio.separate_with_templates(mix, SR, drum_kit, settings=settings_of(seed=0))
    result = nmfaudio.separate_with_templates(
        mix, SR, drum_kit, n_extra=1, settings=settings_of(seed=0)
    )
    assert list(alone.sources) == ["tone", "click"]
    assert list(result.sources) == ["tone", "click", "rest"]
    _, click_alone = (s[0] for s in alone.iter_sources())
    _, click, rest = (s[0] for s in result.iter_sources())
    # The free component takes what no template describes, instead of the clicks' templates.
    assert snr(other, rest) > 15 and snr(percussive, click) > snr(percussive, click_alone) + 10


def test_extra_components_do_not_swallow_what_the_templates_describe(drum_kit):
    # Only the two instruments, played differently from the learning recordings:
    # free components must not take over either of them.
    harmonic, percussive = tones([392, 262, 330, 220], seconds=2.4), clicks(2.4, 0.2, seed=11)
    mix = harmonic + percussive
    alone = nmfaudio.separate_with_templates(mix, SR, drum_kit, settings=settings_of(seed=0))
    extra = nmfaudio.separate_with_templates(
        mix, SR, drum_kit, n_extra=2, settings=settings_of(seed=0)
    )
    for before, after, reference in zip(
        alone.iter_sources(), extra.iter_sources(), (harmonic, percussive), strict=False
    ):
        assert snr(reference, after[0]) > snr(reference, before[0]) - 3  # jointly: 20.4 < 24.6 - 3


def test_templates_must_fit_the_recording_and_each_other(drum_kit):
    tone, click = drum_kit
    y = tones([220])
    with pytest.raises(ParameterError, match="no templates given"):
        nmfaudio.separate_with_templates(y, SR, [])
    with pytest.raises(ParameterError, match="learnt at 8000 Hz but the recording is at 16000"):
        nmfaudio.separate_with_templates(y, 16000, [tone])
    other_rate = dataclasses.replace(click, name="fast", sr=16000)
    with pytest.raises(ParameterError, match="learn them at one sample rate"):
        nmfaudio.separate_with_templates(y, SR, [tone, other_rate])
    wide = nmfaudio.learn(
        [clicks()], SR, 2, name="wide", settings=settings_of(n_fft=1024, hop_length=256)
    )
    with pytest.raises(ParameterError, match="learn them with the same settings"):
        nmfaudio.separate_with_templates(y, SR, [tone, wide])
    with pytest.raises(ParameterError, match="distinct names"):
        nmfaudio.separate_with_templates(y, SR, [tone, tone])
    with pytest.raises(ParameterError, match="distinct names other than 'rest'"):
        nmfaudio.separate_with_templates(y, SR, [dataclasses.replace(tone, name="rest")])
    with pytest.raises(ParameterError, match="plain file name"):
        dataclasses.replace(tone, name="../up")
    with pytest.raises(ParameterError, match=r"W must have shape \(2050, K\)"):
        Templates("x", tone.W, SR, STFTConfig(), context=2)
    one_frame = nmfaudio.learn(
        [clicks()], SR, 2, name="one", context=1, settings=settings_of(**FAST)
    )
    with pytest.raises(ParameterError, match="learn them with the same context"):
        nmfaudio.separate_with_templates(y, SR, [tone, one_frame])


def test_learn_refuses_nothing_and_silence():
    with pytest.raises(ParameterError, match="no recordings"):
        nmfaudio.learn([], SR, 2)
    with pytest.raises(ParameterError, match="silent"):
        nmfaudio.learn([np.zeros(SR)], SR, 2)


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


# -- the command line ---------------------------------------------------------------------------

CLI_FAST = ["--iterations", "60", "-q"]


def test_cli_sources_and_kept_components(capsys, tmp_path, write_wav):
    source = write_wav("mix.wav", tones([220, 330, 262]) + clicks())
    status, _, err = run(
        capsys, "separate", source, "--sources", "2", "-k", "6", "-o", tmp_path / "o",
        "--restarts", "2", "--keep-components", "--n-fft", "512", "--hop", "128", *CLI_FAST,
    )  # fmt: skip
    assert status == 0, err
    names = sorted(p.name for p in (tmp_path / "o").iterdir())
    # The components of both restarts: they too sum to the input.
    components = sum(sf.read(tmp_path / "o" / f"component_{k:02d}.wav")[0] for k in range(12))
    np.testing.assert_allclose(components, sf.read(source)[0], atol=1e-5)
    assert names == [f"component_{k:02d}.wav" for k in range(12)] + [
        "nmfaudio.json",
        "source_00.wav",
        "source_01.wav",
    ]
    total = sum(sf.read(tmp_path / "o" / f"source_0{s}.wav")[0] for s in range(2))
    np.testing.assert_allclose(total, sf.read(source)[0], atol=1e-5)


def test_cli_learn_then_separate_with_templates(capsys, tmp_path, write_wav):
    tone_file = write_wav("tone.wav", tones([196, 294]))
    click_file = write_wav("click.wav", clicks(period=0.3))
    for name, file, k in (("kick", click_file, "2"), ("piano", tone_file, "3")):
        status, _, err = run(
            capsys, "learn", file, "-k", k, "-o", tmp_path / f"{name}.npz",
            "--n-fft", "512", "--hop", "128", *CLI_FAST,
        )  # fmt: skip
        assert status == 0, err
    mix = write_wav("mix.wav", tones([220, 330]) + clicks(), sr=16000)  # resampled to 8 kHz
    status, out, err = run(
        capsys, "separate", mix, "--templates", tmp_path / "kick.npz", tmp_path / "piano.npz",
        "--extra", "1", "-o", tmp_path / "o", "--iterations", "60",
    )  # fmt: skip
    assert status == 0, err
    assert "wrote 3 sources" in out
    names = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert names == ["kick.wav", "nmfaudio.json", "piano.wav", "rest.wav"]
    assert sf.info(tmp_path / "o" / "kick.wav").samplerate == 8000


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--extra", "2"], "--extra needs --templates"),
        (["--adapt"], "--adapt needs --templates"),
        (["--restarts", "2"], "--restarts needs --sources"),
        (["--sources", "2", "--restarts", "0"], "must be a positive integer"),
        (["--keep-components"], "--keep-components needs --sources or --templates"),
        (["--sources", "3", "-k", "2"], "2 components cannot make 3 sources"),
        (["--templates", "t.npz", "-k", "4"], "-k cannot be used with --templates"),
        (["--templates", "t.npz", "--n-fft", "1024"], "--n-fft cannot be used with --templates"),
        (["--templates"], "expected at least one argument"),
        (["--sources", "0"], "must be a positive integer"),
    ],
)
def test_cli_contradicting_options_are_usage_errors(
    capsys, tmp_path, example_mixture, argv, message
):
    status, _, err = run(capsys, "separate", example_mixture, "-o", tmp_path / "o", *argv)
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_cli_bad_template_files(capsys, tmp_path, example_mixture, write_wav):
    (tmp_path / "junk.npz").write_text("junk")
    status, _, err = run(capsys, "separate", example_mixture, "--templates", tmp_path / "junk.npz",
                         "-o", tmp_path / "o")  # fmt: skip
    assert status == 1 and "not an nmfaudio template file" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "o").exists()
    source = write_wav("x.wav", clicks())
    status, _, err = run(capsys, "learn", source, "-k", "2", "-o", tmp_path / "x.txt")
    assert status == 1 and "give it a .npz name" in err
    status, _, err = run(capsys, "learn", source, "-o", tmp_path / "x.npz")
    assert status == 2 and "-k/--components" in err


def test_cli_refuses_a_rate_other_than_the_templates(capsys, tmp_path, write_wav):
    source = write_wav("click.wav", clicks())
    status, _, err = run(capsys, "learn", source, "-k", "2", "-o", tmp_path / "c.npz", "-q")
    assert status == 0, err
    mix = write_wav("mix.wav", clicks(seed=3))
    before = mix.read_bytes()
    status, _, err = run(
        capsys, "separate", mix, "--templates", tmp_path / "c.npz", "--sr", "16000",
        "-o", tmp_path / "o",
    )  # fmt: skip
    assert status == 1 and "learnt at 8000 Hz but the recording is at 16000 Hz" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "o").exists()
    assert mix.read_bytes() == before


def test_cli_learn_and_separate_record_the_cost(capsys, tmp_path, write_wav):
    click_file = write_wav("click.wav", clicks(period=0.3))
    templates = tmp_path / "kick.npz"
    status, _, err = run(
        capsys, "learn", click_file, "-k", "2", "-o", templates, "--n-fft", "512",
        "--hop", "128", "--beta", "is", "--sparsity", "0.001", *CLI_FAST,
    )  # fmt: skip
    assert status == 0, err
    learnt = Templates.load(templates)
    assert learnt.cost.beta == 0.0
    assert learnt.cost.penalties == {"sparsity_W": 0.001, "sparsity_H": 0.001}
    np.testing.assert_allclose(learnt.W.sum(axis=0), 1, rtol=1e-5)  # still unit sums
    mix = write_wav("mix.wav", tones([220, 330]) + clicks())
    status, out, err = run(
        capsys, "separate", mix, "-k", "3", "--beta", "0.5", "--continuity", "0.01",
        "-o", tmp_path / "o", "--n-fft", "512", "--hop", "128", "--iterations", "20",
    )  # fmt: skip
    assert status == 0, err
    assert "(β-divergence (β = 0.5) + continuity_H 0.01" in out
    manifest = json.loads((tmp_path / "o" / "nmfaudio.json").read_text())
    assert manifest["beta"] == 0.5 and manifest["penalties"] == {"continuity_H": 0.01}


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


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--beta", "-1"], "beta must be a finite number >= 0 or one of is, itakura-saito"),
        (["--beta", "banana"], "got 'banana'"),
        (["--beta", "nan"], "beta must be a finite number >= 0"),
        (["--sparsity", "-0.1"], "must be a non-negative number"),
        (["--continuity", "x"], "expected a number"),
    ],
)
def test_cli_bad_cost_options_are_usage_errors(capsys, tmp_path, example_mixture, argv, message):
    status, _, err = run(capsys, "separate", example_mixture, "-o", tmp_path / "o", *argv)
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
