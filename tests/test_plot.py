"""Pictures: each figure renders to a PNG of the expected size that is not blank."""

from __future__ import annotations

import matplotlib.image
import numpy as np
import pytest
from conftest import music_like, settings_of
from matplotlib.collections import QuadMesh

import nmfaudio
from nmfaudio import ParameterError
from nmfaudio import plot as nplot
from nmfaudio.backend import soft_mask
from nmfaudio.cli import main
from nmfaudio.frontend import STFTConfig, magnitude, stft


def rendered(figure, path):
    """Save at 100 dpi; return the image read back and the size the figure asked for."""
    figure.savefig(path, dpi=100)
    width, height = figure.get_size_inches() * 100
    return matplotlib.image.imread(path), (round(height), round(width))


def assert_picture(image, size):
    assert image.shape[:2] == size
    assert image.shape[2] in (3, 4)
    rgb = image[..., :3]
    assert rgb.std() > 0.05  # not blank
    assert (rgb < 0.2).mean() > 0.05  # dark spectrogram pixels are there, not only axes


@pytest.fixture(scope="module")
def separation():
    y = music_like(2, seconds=2.0)
    return nmfaudio.separate(
        y, 8000, 4, settings=settings_of(n_fft=512, hop_length=128, n_iter=30, seed=0)
    )


def test_spectrogram_of_audio_stft_and_magnitude_agree(tmp_path):
    y = music_like(2)
    config = STFTConfig(n_fft=512, hop_length=128)
    X = stft(y, config)
    for i, data in enumerate((y, X, magnitude(X), y[0])):
        figure = nplot.spectrogram(
            data, 8000, config=STFTConfig(n_fft=512, hop_length=128), title="t"
        )
        assert_picture(*rendered(figure, tmp_path / f"s{i}.png"))
    ax = figure.axes[0]
    assert ax.get_yscale() == "symlog"  # librosa's log-frequency axis
    assert ax.get_xlabel() == "Time (s)" and ax.get_ylabel() == "Hz"
    assert ax.get_title() == "t"
    assert "dB" in figure.axes[1].get_ylabel()  # the colour bar


def test_spectrogram_draws_into_a_given_axes_and_limits_frequency():
    from matplotlib.figure import Figure

    figure = Figure()
    ax = figure.add_subplot()
    assert (
        nplot.spectrogram(
            music_like(1), 8000, ax=ax, config=STFTConfig(n_fft=512, hop_length=128), max_freq=1000
        )
        is figure
    )
    assert ax.get_ylim()[1] == pytest.approx(1000)


def test_spectrogram_rejects_other_arrays():
    with pytest.raises(ParameterError, match="expected audio or a spectrogram"):
        nplot.spectrogram(np.zeros((2, 3, 4, 5)), 8000)
    with pytest.raises(ParameterError, match="non-negative"):
        nplot.spectrogram(-np.ones((257, 10)), 8000, config=STFTConfig(n_fft=512, hop_length=128))


def test_decomposition_aligns_activations_with_the_spectrogram(separation, tmp_path):
    figure = nplot.decomposition(separation, title="example")
    assert_picture(*rendered(figure, tmp_path / "d.png"))
    ax_spec, ax_w, ax_h, ax_names = figure.axes[:4]
    assert ax_spec.get_shared_y_axes().joined(ax_spec, ax_w)  # same frequency axis
    assert ax_spec.get_shared_x_axes().joined(ax_spec, ax_h)  # same time axis
    duration = separation.length / separation.sr
    line = ax_h.get_lines()[0]
    assert line.get_xdata()[-1] == pytest.approx(duration, abs=2 * 128 / 8000)
    # Few parts: each spectrum a curve in its activation's colour, named beside it.
    assert [w.get_color() for w in ax_w.get_lines()] == [h.get_color() for h in ax_h.get_lines()]
    assert [t.get_text() for t in ax_names.texts] == separation.part_names()
    # Panels in words; octave ticks, no "0" on the log-frequency axis.
    assert (ax_w.get_title(), ax_h.get_title(loc="left")) == (
        "spectrum of each part", "when each part plays",
    )  # fmt: skip
    assert min(ax_spec.get_yticks()) == 32
    iterations = len(separation.losses)
    assert figure.get_suptitle() == (
        f"4 components; fitted by KL divergence, {iterations} iterations"
    )


def test_figures_name_the_cost_minimised(tmp_path):
    y = music_like(1, seconds=2.0)
    result = nmfaudio.separate(
        y,
        8000,
        3,
        settings=settings_of(n_fft=512, hop_length=128, n_iter=5, beta="is", sparsity=0.01),
    )
    expected = "Itakura-Saito divergence + sparsity_W 0.01 + sparsity_H 0.01, 5 iterations"
    assert nplot.decomposition(result).get_suptitle().endswith(expected)
    assert nplot.components(result).get_suptitle() == f"3 components ({expected})"


@pytest.mark.parametrize("k", [2, 32])
def test_figures_stay_readable_from_2_to_32_components(k, tmp_path):
    y = music_like(1, seconds=3.0)
    result = nmfaudio.separate(
        y, 8000, k, settings=settings_of(n_fft=512, hop_length=128, n_iter=5, seed=0)
    )
    decomposition = nplot.decomposition(result)
    assert_picture(*rendered(decomposition, tmp_path / "d.png"))
    if k > nplot.MAX_CURVES:  # many parts: the spectra as an image, its columns numbered
        labels = [t.get_text() for t in decomposition.axes[1].get_xticklabels()]
        assert len(labels) <= 16 and labels[0] == "00"
    assert len(decomposition.axes[3].texts) <= 16  # names every second part past 16
    grid = nplot.components(result)
    assert_picture(*rendered(grid, tmp_path / "c.png"))
    titled = [ax.get_title() for ax in grid.axes if ax.get_title()]
    assert titled[:k] == result.part_names()[:k]


def test_long_inputs_are_pooled_to_a_bounded_number_of_columns():
    V = np.ones((5, 10_000))
    pooled, hop = nplot._pool_frames(V, 512)
    assert pooled.shape[1] <= nplot.MAX_COLUMNS and hop == 512 * 5


def test_cli_plot_writes_a_png(capsys, tmp_path, example_mixture):
    output = tmp_path / "spectrogram.png"
    status = main(["plot", str(example_mixture), "-o", str(output), "--max-freq", "8000", "-q"])
    assert status == 0, capsys.readouterr().err
    image = matplotlib.image.imread(output)
    assert image.shape[0] > 200 and image.shape[1] > 500 and image[..., :3].std() > 0.05
    assert [p.name for p in tmp_path.iterdir()] == ["spectrogram.png"]


@pytest.mark.parametrize(
    ("argv", "status", "message"),
    [
        (["plot", "missing.wav"], 1, "no such file"),
        (["plot", "{mix}", "-o", "{tmp}/picture.jpg"], 1, "give it a .png name"),
        (["plot", "{mix}", "--max-freq", "0"], 2, "greater than 0"),
    ],
)
def test_cli_plot_bad_input(capsys, tmp_path, example_mixture, argv, status, message):
    argv = [a.format(mix=example_mixture, tmp=tmp_path) for a in argv]
    try:
        got = main(argv)
    except SystemExit as exc:
        got = exc.code
    err = capsys.readouterr().err
    assert got == status and err.count("\n") == 1 and message in err
    assert list(tmp_path.iterdir()) == []


def test_cli_separate_plot_writes_both_pictures(capsys, tmp_path, example_mixture):
    outdir = tmp_path / "o"
    status = main(["separate", str(example_mixture), "-k", "3", "-o", str(outdir), "--plot",
                   "--iterations", "20", "-q"])  # fmt: skip
    assert status == 0, capsys.readouterr().err
    names = sorted(p.name for p in outdir.iterdir())
    assert names == ["component_00.wav", "component_01.wav", "component_02.wav",
                     "components.png", "decomposition.png", "nmfaudio.json"]  # fmt: skip
    for name in ("components.png", "decomposition.png"):
        assert matplotlib.image.imread(outdir / name)[..., :3].std() > 0.05


def test_figures_of_sources_show_the_sources_and_their_components(tmp_path):
    y = music_like(1, seconds=3.0)
    result = nmfaudio.separate_sources(
        y,
        8000,
        2,
        n_components=6,
        n_restarts=1,
        settings=settings_of(n_fft=512, hop_length=128, n_iter=10),
    )
    figure = nplot.decomposition(result)
    assert_picture(*rendered(figure, tmp_path / "d.png"))
    assert [t.get_text() for t in figure.axes[3].texts] == ["source_00", "source_01"]
    caption = figure.get_supxlabel()
    for name, members in result.sources.items():
        assert f"{name}: {' '.join(map(str, members))}" in caption
    grid = nplot.components(result)
    assert_picture(*rendered(grid, tmp_path / "c.png"))
    assert [ax.get_title() for ax in grid.axes if ax.get_title()] == ["source_00", "source_01"]
    assert grid.get_suptitle() == "2 sources (KL divergence, 10 iterations)"


def test_figures_of_templates_name_each_set_once(tmp_path):
    t = np.arange(8000 * 2) / 8000
    tone = (np.sin(2 * np.pi * 440 * t) * (t % 0.5 < 0.25)).astype(np.float32)
    noise = np.random.default_rng(0).standard_normal(t.size) * (t % 0.5 >= 0.25) * 0.1
    options = dict(n_fft=512, hop_length=128, n_iter=10)
    sets = [
        nmfaudio.learn([tone], 8000, 2, name="tone", settings=settings_of(**options)),
        nmfaudio.learn([noise], 8000, 2, name="noise", settings=settings_of(**options)),
    ]
    result = nmfaudio.separate_with_templates(
        tone + noise, 8000, sets, settings=settings_of(n_iter=10)
    )
    figure = nplot.decomposition(result)
    assert [t.get_text() for t in figure.axes[3].texts] == ["tone", "noise"]


def test_time_axes_tick_in_seconds_as_labelled(tmp_path):
    y = music_like(1, seconds=70.0, sr=1000)  # over a minute: m:ss ticks before
    figure = nplot.spectrogram(y, 1000, config=STFTConfig(n_fft=256, hop_length=128))
    figure.savefig(tmp_path / "s.png")
    ax = figure.axes[0]
    assert ax.get_xlabel() == "Time (s)"
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert ticks and all(":" not in tick for tick in ticks), ticks


def test_component_panels_draw_at_most_a_thumbnail_of_columns():
    y = music_like(1, seconds=60.0, sr=4000)  # 1876 frames at hop 128
    result = nmfaudio.separate(
        y, 4000, 3, settings=settings_of(n_fft=512, hop_length=128, n_iter=2)
    )
    grid = nplot.components(result)
    panels = [ax for ax in grid.axes if ax.get_title()]  # not the colour bar
    meshes = [c for ax in panels for c in ax.collections if isinstance(c, QuadMesh)]
    assert len(meshes) == 3
    assert all(mesh.get_array().shape[-1] <= nplot.THUMBNAIL_COLUMNS for mesh in meshes)


def test_figures_pool_block_by_block_as_the_whole_spectrogram_would():
    y = music_like(2, seconds=100.0, sr=4000)  # 3126 frames: several blocks
    result = nmfaudio.separate(
        y, 4000, 3, settings=settings_of(n_fft=256, hop_length=128, n_iter=2)
    )
    groups = [[0, 2], [1]]
    V, parts, hop = nplot._pooled(result, groups, 400, parts=True)
    whole = magnitude(result.X)
    expected, expected_hop = nplot._pool_frames(whole, 128, 400)
    np.testing.assert_allclose(V, expected, rtol=1e-5)
    assert hop == expected_hop
    for k in range(2):
        mask = soft_mask(result.W, result.H, k, power=2.0, groups=groups)
        np.testing.assert_allclose(parts[k], nplot._pool_frames(whole * mask, 128, 400)[0],
                                   rtol=1e-4, atol=1e-7)  # fmt: skip
