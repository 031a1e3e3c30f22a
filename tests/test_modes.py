"""The ways of separating: blind sources and learnt templates find their parts, and refuse
what they cannot separate."""

from __future__ import annotations

import dataclasses

import librosa
import numpy as np
import pytest
import soundfile as sf
from conftest import FAST, SR, clicks, settings_of, snr, tones

import nmfaudio
from nmfaudio import ParameterError, Settings, STFTConfig, Templates
from nmfaudio.defaults import COMPONENTS_PER_SOURCE, N_RESTARTS
from nmfaudio.frontend import read_spectrogram
from nmfaudio.grouping import percussive_share
from nmfaudio.modes import Sources, percussive_share_of
from nmfaudio.separation import analyse


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


def test_sources_over_windows_share_the_restarts_longest_window_first():
    mode = Sources(2, windows=(0.023, 0.046, 0.093))
    assert mode.windows == (0.093, 0.046, 0.023)
    analyses = mode.analyses(Settings(), 44100)
    assert [(part.n_restarts, part.windows, stft.n_fft, stft.hop_length)
            for part, stft in analyses] == [(3, None, 4096, 1024), (3, None, 2048, 512),
                                            (2, None, 1024, 256)]  # fmt: skip
    assert mode.describe() == (
        "2 sources, the mean over windows of 93, 46 and 23 ms of consensuses of 3 or 2 fits of"
        " 16 components"
    )
    # STFT settings given, or no windows: one analysis, all the restarts, the settings' STFT
    given = Settings(stft=STFTConfig(n_fft=1024, hop_length=256))
    for asked, settings in ((mode, given), (Sources(2, windows=None), Settings())):
        ((part, stft),) = asked.analyses(settings, 44100)
        assert (part.n_restarts, part.windows, stft) == (N_RESTARTS, None, settings.stft)
    assert mode.to_manifest()["windows"] == [0.093, 0.046, 0.023]


@pytest.mark.parametrize(
    ("windows", "n_restarts", "message"),
    [
        ((0.023, 0.04), 8, "windows of 0.04 and 0.023 s are too alike: make each at least twice"),
        ((), 8, "windows must give at least one window"),
        ((0.05, 0), 8, "windows must be greater than 0, got 0"),
        ("0.05", 8, "windows must be a sequence of seconds, got '0.05'"),
        ((0.01, 0.1, 1.0), 2, "2 restarts cannot be shared among 3 windows"),
    ],
)
def test_sources_refuse_windows_they_cannot_analyse(windows, n_restarts, message):
    with pytest.raises(ParameterError, match=message):
        Sources(2, n_restarts=n_restarts, windows=windows)


def test_sources_over_windows_sum_to_the_input_and_find_the_tone_and_the_clicks():
    harmonic, percussive = tones([220, 330, 262, 392]), clicks()
    mix = np.stack([harmonic + percussive, 0.5 * harmonic + percussive])
    result = nmfaudio.separate_sources(
        mix, SR, 2, n_components=8, windows=(0.023, 0.093), settings=settings_of(seed=0)
    )
    analysed = [(r.config.n_fft, r.n_components) for r in (result, *result.resolutions)]
    assert analysed == [(1024, 8 * N_RESTARTS // 2), (256, 8 * N_RESTARTS // 2)]
    assert all(sorted(r.sources) == sorted(result.sources) for r in result.resolutions)
    sources = np.stack(list(result.iter_sources()))
    np.testing.assert_allclose(sources.sum(axis=0), mix, atol=1e-5)
    best = [max(snr(ref, src[0]) for src in sources) for ref in (harmonic, percussive)]
    assert min(best) > 8, best
    # each source the mean of its matches: the windows' own separations, averaged
    members = [dataclasses.replace(result, resolutions=()), *result.resolutions]
    each = [dict(zip(m.sources, m.iter_sources(), strict=True)) for m in members]
    for name, source in zip(result.sources, sources, strict=True):
        np.testing.assert_allclose(source, np.mean([e[name] for e in each], axis=0), atol=1e-6)
    regrouped = nmfaudio.group(result, 2)  # its own components: the others' matches are gone
    assert regrouped.resolutions == ()
    np.testing.assert_allclose(sum(regrouped.iter_sources()), mix, atol=1e-5)


def test_separate_sources_checks_its_counts():
    with pytest.raises(ParameterError, match="3 components cannot make 4 sources"):
        nmfaudio.separate_sources(clicks(), SR, 4, n_components=3, settings=settings_of(**FAST))
    with pytest.raises(ParameterError, match="n_restarts must be a positive integer"):
        nmfaudio.separate_sources(clicks(), SR, 2, n_restarts=0, settings=settings_of(**FAST))


def test_the_percussive_share_is_the_recordings_from_memory_or_its_file(tmp_path):
    sr = 22050  # the analysis the share is taken at: V itself at the default STFT
    y = librosa.resample(np.stack([tones([110, 147]) + clicks(seed=2), clicks(seed=4)]),
                         orig_sr=SR, target_sr=sr)  # fmt: skip
    path = tmp_path / "mix.wav"
    sf.write(path, y.T, sr, subtype="FLOAT")
    before = path.read_bytes()
    configs = (STFTConfig(), STFTConfig(**FAST))
    in_memory = [analyse(y, sr, config, Sources(2)) for config in configs]
    streamed = read_spectrogram(path, STFTConfig(**FAST))
    shares = [percussive_share_of(spectrogram) for spectrogram in (*in_memory, streamed)]
    assert shares == pytest.approx([shares[0]] * 3, abs=1e-4), shares
    assert shares[0] == percussive_share(in_memory[0].V)
    assert 0.2 < shares[0] < 0.9  # neither all harmonic nor all percussive: a real test
    assert path.read_bytes() == before


def test_templates_name_the_components_of_free_fits(drum_kit):
    harmonic, percussive = tones([220, 330, 262, 392]), clicks(seed=9)
    mix = harmonic + percussive
    result = nmfaudio.separate_with_templates(mix, SR, drum_kit, settings=settings_of(seed=0))
    assert list(result.sources) == ["tone", "click"]
    # Every component of the 8 fits of 8 per set is named, once; each set names some of each fit.
    K = COMPONENTS_PER_SOURCE * 2
    assert result.n_components == N_RESTARTS * K
    named = sorted(k for g in result.sources.values() for k in g)
    assert named == list(range(result.n_components))
    for members in result.sources.values():
        assert len({k // K for k in members}) == N_RESTARTS
    tone, click = result.iter_sources()  # 1-D, as the mix
    assert snr(harmonic, tone) > 15 and snr(percussive, click) > 8  # 24.7 and 14.1 measured
    np.testing.assert_allclose(tone + click, mix, atol=1e-5)


def test_named_templates_survive_other_notes_where_fixed_ones_do_not(drum_kit):
    # The tone's templates were learnt on other notes: fixed, they explain these poorly.
    harmonic, percussive = tones([247, 370, 294]), clicks(seed=4, period=0.2)
    mix = harmonic + percussive
    by = {
        use: nmfaudio.separate_with_templates(mix, SR, drum_kit, use=use,
                                              settings=settings_of(seed=0))
        for use in ("names", "fixed")
    }  # fmt: skip
    (tone, click), (fixed_tone, fixed_click) = (r.iter_sources() for r in by.values())
    assert snr(harmonic, tone) > 20 and snr(percussive, click) > 12  # 24.8 and 15.9 measured
    assert snr(percussive, click) > snr(percussive, fixed_click) + 8  # fixed: 2.8
    assert snr(harmonic, tone) > snr(harmonic, fixed_tone) + 8  # fixed: 11.7


def test_templates_learnt_on_other_notes_name_these_transposed(monkeypatch):
    # Two instruments that differ only in timbre (every harmonic, odd ones), both learnt a
    # whole tone below what they play here, together: as learnt, no template explains these
    # notes' harmonics, and the names are a toss-up.
    options = settings_of(seed=0, n_fft=1024, hop_length=256)
    sets = [
        nmfaudio.learn([tones([220, 262], 1.5)], SR, 4, name="full", settings=options),
        nmfaudio.learn([tones([233, 277], 1.5, harmonics=(1, 3, 5))], SR, 4, name="odd",
                       settings=options),
    ]  # fmt: skip
    full, odd = tones([247, 294, 247]), tones([262, 311, 262, 311, 262], harmonics=(1, 3, 5))
    result = nmfaudio.separate_with_templates(full + odd, SR, sets, settings=options)
    a, b = result.iter_sources()
    assert snr(full, a) > 12 and snr(odd, b) > 12  # 16.7 and 17.6 measured
    monkeypatch.setattr(nmfaudio.modes, "transposed", lambda spectra: spectra)
    as_learnt = nmfaudio.separate_with_templates(full + odd, SR, sets, settings=options)
    a, b = as_learnt.iter_sources()
    assert max(snr(full, a), snr(odd, b)) < 3  # -1.6 and -0.8 measured


def test_with_a_rest_the_templates_name_blind_sources(drum_kit):
    # Only the clicks have templates: the tone is the rest, the sources are blind --sources 2's.
    harmonic, percussive = tones([220, 330, 262, 392]), clicks(seed=9)
    mix = harmonic + percussive
    settings = settings_of(seed=0)
    click_only = [drum_kit[1]]
    result = nmfaudio.separate_with_templates(mix, SR, click_only, n_extra=1, settings=settings)
    assert list(result.sources) == ["click", "rest"]
    blind = nmfaudio.separate_sources(mix, SR, 2, settings=settings_of(seed=0, **FAST))
    np.testing.assert_array_equal(result.W, blind.W)
    assert sorted(map(sorted, result.sources.values())) == sorted(
        map(sorted, blind.sources.values())
    )
    click, rest = result.iter_sources()
    assert snr(percussive, click) > 7 and snr(harmonic, rest) > 15  # 9.5 and 20.1 measured
    # Named the other way round, by the tone's templates: the same two sources.
    tone_only = nmfaudio.separate_with_templates(
        mix, SR, [drum_kit[0]], n_extra=1, settings=settings
    )
    assert tone_only.sources == {"tone": result.sources["rest"], "rest": result.sources["click"]}


def test_fixed_templates_stay_as_learnt(drum_kit):
    harmonic, percussive = tones([220, 330, 262, 392]), clicks(seed=9)
    result = nmfaudio.separate_with_templates(
        harmonic + percussive, SR, drum_kit, use="fixed", settings=settings_of(seed=0)
    )
    assert list(result.sources) == ["tone", "click"]
    # Each two-frame template became two components: frame 0 at k, frame 1 at 6 + k.
    assert result.sources == {"tone": [0, 1, 2, 3, 6, 7, 8, 9], "click": [4, 5, 10, 11]}
    np.testing.assert_array_equal(result.W[:, :4], drum_kit[0].W[:257])  # kept fixed
    np.testing.assert_array_equal(result.W[:, 6:10], drum_kit[0].W[257:])
    tone, click = result.iter_sources()  # 1-D, as the mix
    assert snr(harmonic, tone) > 15 and snr(percussive, click) > 8  # 24.5 and 14.0 measured
    np.testing.assert_allclose(tone + click, harmonic + percussive, atol=1e-5)


def test_adapted_templates_start_from_the_learnt_ones_and_fit_better(drum_kit):
    harmonic, percussive = tones([247, 370, 294]), clicks(seed=4, period=0.2)
    mix = harmonic + percussive
    fixed, adapted = (
        nmfaudio.separate_with_templates(mix, SR, drum_kit, use=use,
                                         settings=settings_of(seed=0, tol=0))
        for use in ("fixed", "adapted")
    )  # fmt: skip
    assert adapted.sources == fixed.sources  # sources follow the sets the templates came from
    assert not np.allclose(adapted.W[:, :4], drum_kit[0].W[:257])  # learnt, not kept
    np.testing.assert_allclose(adapted.W[:, :6].sum(axis=0) + adapted.W[:, 6:].sum(axis=0), 1,
                               rtol=1e-5)  # fmt: skip
    assert adapted.losses[-1] < 0.9 * fixed.losses[-1]
    np.testing.assert_allclose(sum(adapted.iter_sources()), mix, atol=1e-5)


def test_extra_components_beside_fixed_templates_make_a_rest_source(drum_kit):
    other = 0.2 * np.sin(2 * np.pi * 1500 * np.arange(2 * SR) / SR).astype(np.float32)
    harmonic, percussive = tones([220, 330, 262, 392]), clicks(seed=9)
    mix = harmonic + percussive + other
    settings = settings_of(seed=0)
    alone = nmfaudio.separate_with_templates(mix, SR, drum_kit, use="fixed", settings=settings)
    result = nmfaudio.separate_with_templates(
        mix, SR, drum_kit, n_extra=1, use="fixed", settings=settings
    )
    assert list(alone.sources) == ["tone", "click"]
    assert list(result.sources) == ["tone", "click", "rest"]
    _, click_alone = alone.iter_sources()
    _, click, rest = result.iter_sources()
    # The free component takes what no template describes, instead of the clicks' templates.
    assert snr(other, rest) > 15 and snr(percussive, click) > snr(percussive, click_alone) + 10


def test_extra_components_do_not_swallow_what_the_fixed_templates_describe(drum_kit):
    # Only the two instruments, played differently from the learning recordings:
    # free components must not take over either of them.
    harmonic, percussive = tones([392, 262, 330, 220], seconds=2.4), clicks(2.4, 0.2, seed=11)
    mix = harmonic + percussive
    settings = settings_of(seed=0)
    alone = nmfaudio.separate_with_templates(mix, SR, drum_kit, use="fixed", settings=settings)
    extra = nmfaudio.separate_with_templates(
        mix, SR, drum_kit, n_extra=2, use="fixed", settings=settings
    )
    for before, after, reference in zip(
        alone.iter_sources(), extra.iter_sources(), (harmonic, percussive), strict=False
    ):
        assert snr(reference, after) > snr(reference, before) - 3  # jointly: 20.4 < 24.6 - 3


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


def test_each_mode_knows_its_files_before_any_work(drum_kit):
    assert nmfaudio.Components(3).part_names() == [f"component_0{k}" for k in range(3)]
    blind = nmfaudio.Sources(2, n_restarts=2)
    assert blind.n_components == 2 * 2 * COMPONENTS_PER_SOURCE
    assert blind.part_names() == ["source_00", "source_01"]
    assert len(blind.part_names(components=True)) == 2 + blind.n_components
    tone, click = drum_kit
    supervised = nmfaudio.WithTemplates([tone, click], n_extra=1)
    assert supervised.part_names() == ["tone", "click", "rest"]
    assert supervised.n_components == N_RESTARTS * 3 * COMPONENTS_PER_SOURCE
    assert supervised.sample_rate == SR and supervised.stft(Settings()) == tone.config
    fixed = nmfaudio.WithTemplates([tone, click], n_extra=1, use="fixed")
    assert fixed.part_names() == ["tone", "click", "rest"]
    assert fixed.n_components == tone.context * (tone.n_components + click.n_components + 1)
    with pytest.raises(ParameterError, match="use must be one of names, fixed, adapted, got 'fix'"):
        nmfaudio.WithTemplates([tone], use="fix")


def test_what_a_mode_plans_is_what_it_makes(drum_kit):
    mix = tones([220, 330]) + clicks()
    settings = settings_of(n_iter=20, **FAST)
    for mode in (
        nmfaudio.Components(4),
        nmfaudio.Sources(2, n_restarts=2),
        nmfaudio.WithTemplates(drum_kit, n_extra=2),
        nmfaudio.WithTemplates(drum_kit, n_extra=2, use="fixed"),
    ):
        result = nmfaudio.separate_as(mode, mix, SR, settings=settings)
        assert result.n_components == mode.n_components
        assert result.part_names() == mode.part_names()
        assert result.settings.stft == mode.stft(settings)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda kit: nmfaudio.Components(0), "n_components must be a positive integer, got 0"),
        (lambda kit: nmfaudio.Sources(0), "n_sources must be a positive integer, got 0"),
        (lambda kit: nmfaudio.Sources(3, 2), "2 components cannot make 3 sources"),
        (lambda kit: nmfaudio.Sources(2, n_restarts=0), "n_restarts must be a positive integer"),
        (lambda kit: nmfaudio.WithTemplates([]), "no templates given"),
        (lambda kit: nmfaudio.WithTemplates(kit, n_extra=-1), "n_extra must be a non-negative"),
        (
            lambda kit: nmfaudio.separate_as(
                nmfaudio.WithTemplates(kit), clicks(), SR,
                settings=Settings(stft=STFTConfig(n_fft=1024, hop_length=256)),
            ),
            "templates bring their STFT settings",
        ),
        (lambda kit: nmfaudio.separate_as(4, clicks(), SR), "mode must be Components, Sources"),
    ],
)  # fmt: skip
def test_modes_refuse_what_they_cannot_separate(drum_kit, make, message):
    with pytest.raises(ParameterError, match=message):
        make(drum_kit)
