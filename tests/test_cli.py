"""The command line, end to end: outputs, options, and one clear line for every bad input."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import clicks, music_like, tones

from nmfaudio import Templates, __version__
from nmfaudio.cli import main
from nmfaudio.outputs import MANIFEST

FAST = ["--n-fft", "512", "--hop", "128", "--iterations", "30", "-q"]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        status = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse exits for usage errors, --help and --version
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def test_separates_the_example_into_files_that_sum_to_it(capsys, tmp_path, example_mixture):
    status, out, err = run(capsys, "separate", example_mixture, "-k", "6", "-o", tmp_path / "o")
    assert status == 0, err
    assert "wrote 6 components" in out
    files = sorted((tmp_path / "o").glob("*.wav"))
    assert [f.name for f in files] == [f"component_{k:02d}.wav" for k in range(6)]
    assert sorted(p.name for p in (tmp_path / "o").iterdir() if p.suffix != ".wav") == [MANIFEST]
    mixture, sr = sf.read(example_mixture, always_2d=True)
    total = sum(sf.read(f, always_2d=True)[0] for f in files)
    assert all(sf.info(f).samplerate == sr and sf.info(f).channels == 2 for f in files)
    assert sf.info(files[0]).subtype == "FLOAT"
    assert np.abs(total - mixture).max() <= 1e-4 * np.abs(mixture).max()


def test_a_reused_outdir_holds_only_the_latest_run(capsys, tmp_path, example_mixture):
    outdir = tmp_path / "o"
    outdir.mkdir()
    (outdir / "notes.txt").write_text("mine")  # not the tool's: never touched
    for argv in (["-k", "6"], ["-k", "3"], ["--sources", "2", "--restarts", "1"]):
        status, _, err = run(capsys, "separate", example_mixture, "-o", outdir, *argv, *FAST)
        assert status == 0, err
    names = sorted(p.name for p in outdir.iterdir())
    assert names == [MANIFEST, "notes.txt", "source_00.wav", "source_01.wav"]
    manifest = json.loads((outdir / MANIFEST).read_text())
    assert manifest["files"] == ["source_00.wav", "source_01.wav"]
    assert manifest["input"] == str(example_mixture.resolve())
    assert (
        manifest["command"][:2] == ["nmfaudio", "separate"] and "--sources" in manifest["command"]
    )
    assert manifest["nmfaudio"] == __version__ and manifest["n_fft"] == 512
    assert manifest["final_loss"] > 0 and manifest["sources"].keys() == {"source_00", "source_01"}
    total = sum(sf.read(outdir / name, always_2d=True)[0] for name in manifest["files"])
    np.testing.assert_allclose(total, sf.read(example_mixture, always_2d=True)[0], atol=1e-4)
    # A manifest nmfaudio did not write (paths outside, a file of the user's) removes
    # nothing: the run is refused, naming it.
    (outdir / MANIFEST).write_text(json.dumps({"files": ["../x.wav", "/etc/passwd", "notes.txt"]}))
    (tmp_path / "x.wav").write_text("x")
    before = {p.name: digest(p) for p in outdir.iterdir()}
    status, _, err = run(capsys, "separate", example_mixture, "-o", outdir, "-k", "2", *FAST)
    assert status == 1 and err.count("\n") == 1 and "not a manifest nmfaudio wrote" in err, err
    assert (tmp_path / "x.wav").exists() and {p.name: digest(p) for p in outdir.iterdir()} == before


def test_default_outdir_is_beside_the_input(capsys, tmp_path, example_mixture):
    song = tmp_path / "song.wav"
    shutil.copy(example_mixture, song)
    status, _, err = run(capsys, "separate", song, "-k", "2", *FAST)
    assert status == 0, err
    assert len(list((tmp_path / "song_separated").glob("component_*.wav"))) == 2


def test_six_channels_and_options(capsys, tmp_path, write_wav):
    source = write_wav("six.wav", music_like(6), sr=8000)
    outdir = tmp_path / "o"
    argv = [
        "separate",
        source,
        "-k",
        "3",
        "-o",
        outdir,
        "--mask-power",
        "2",
        "--seed",
        "4",
        "--sr",
        "16000",
        "--subtype",
        "pcm_16",
        *FAST,
    ]
    status, _, err = run(capsys, *argv)
    assert status == 0, err
    info = sf.info(outdir / "component_00.wav")
    assert (info.channels, info.samplerate, info.subtype) == (6, 16000, "PCM_16")


def test_progress_bar_unless_quiet(capsys, tmp_path, write_wav):
    source = write_wav("a.wav", music_like(1), sr=8000)
    status, out, err = run(
        capsys,
        "separate",
        source,
        "-k",
        "2",
        "-o",
        tmp_path / "o",
        "--n-fft",
        "512",
        "--hop",
        "128",
        "--iterations",
        "5",
    )
    assert status == 0 and "NMF" in err and "wrote 2 components" in out


def test_silent_input_warns_in_one_line_and_writes_silence(capsys, tmp_path, write_wav):
    source = write_wav("silent.wav", np.zeros((2, 8000)), sr=8000)
    status, _, err = run(capsys, "separate", source, "-k", "2", "-o", tmp_path / "o", *FAST)
    assert status == 0
    assert err.strip().count("\n") == 0 and "warning: the audio is silent" in err
    assert not sf.read(tmp_path / "o" / "component_01.wav")[0].any()


def _not_audio(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("not audio at all\n" * 50)
    return path


def _m4a_header(tmp_path):
    path = tmp_path / "song.m4a"
    path.write_bytes(b"\0\0\0\x20ftypM4A " + bytes(200))  # an MP4 box header, no audio
    return path


def _samples(name, samples):
    def make(tmp_path):
        path = tmp_path / name
        sf.write(path, samples, 8000, subtype="FLOAT")
        return path

    return make


BAD_INPUTS = {
    "missing file": (lambda p: p / "nope.wav", [], 1, "no such file"),
    "not audio": (_not_audio, [], 1, "not an audio file"),
    "zero length": (_samples("empty.wav", np.zeros((0, 2))), [], 1, "contains no samples"),
    "shorter than a frame": (
        _samples("short.wav", np.ones((300, 1)) * 0.1),
        [],
        1,
        "shorter than one STFT frame",
    ),
    "nan samples": (_samples("nan.wav", np.full((9000, 1), np.nan)), [], 1, "NaN"),
    "inf samples": (_samples("inf.wav", np.full((9000, 1), np.inf)), [], 1, "infinite"),
    "k < 1": (_samples("ok.wav", music_like(1).T), ["-k", "0"], 2, "must be a positive integer"),
    "k not a number": (_samples("ok.wav", music_like(1).T), ["-k", "many"], 2, "whole number"),
    "k too large": (
        _samples("ok.wav", music_like(1).T),
        ["-k", "5000"],
        1,
        "5000 components need a recording of at least 5000 STFT frames, but this one (1.00 s)"
        " has 16 frames of 512 samples: ask for at most 16 components (-k 16, or"
        " n_components=16)",
    ),
    "bad mask power": (
        _samples("ok.wav", music_like(1).T),
        ["--mask-power", "-1"],
        2,
        "non-negative",
    ),
    "bad subtype": (
        _samples("ok.wav", music_like(1).T),
        ["--subtype", "MP3"],
        2,
        "subtype must be one of",
    ),
    "too short for its sources": (
        _samples("short.wav", music_like(1, seconds=0.3).T),
        ["--sources", "2"],
        1,
        "16 components need a recording of at least 16 STFT frames, but this one (0.30 s) has"
        " 5 frames of 512 samples: ask for at most 5 components (-k 5 with --sources, or"
        " components_per_restart=5), or give a longer recording",
    ),
    "m4a without ffmpeg": (
        _m4a_header,
        [],
        1,
        "reading .m4a files needs ffmpeg",
    ),
    "tiny hop": (_samples("ok.wav", music_like(1).T), ["--hop", "1"], 2, "512 times the frames"),
    "hop larger than frame": (
        _samples("ok.wav", music_like(1).T),
        ["--hop", "4096"],
        1,
        "hop_length must be at most",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_gets_one_line_and_no_output(capsys, tmp_path, monkeypatch, case):
    monkeypatch.setenv("PATH", "")  # no ffmpeg, whatever this machine has
    make, extra, expected_status, message = BAD_INPUTS[case]
    source = make(tmp_path)
    before = digest(source) if source.exists() else None
    outdir = tmp_path / "out"
    status, _, err = run(capsys, "separate", source, "-o", outdir, "-q", *extra)
    assert status == expected_status
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert message in err and "Traceback" not in err
    assert not outdir.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ([source.name] if before else [])
    if before:
        assert digest(source) == before


def test_stages_are_lines_in_a_log_unless_quiet(capsys, tmp_path, example_mixture):
    """stderr is not a terminal here (as when redirected to a file): a line per stage, no bars."""
    fast = FAST[:-1]  # without -q
    status, out, err = run(capsys, "separate", example_mixture, "-o", tmp_path / "o", *fast)
    assert status == 0, err
    lines = err.splitlines()
    assert lines[0] == f"nmfaudio: {example_mixture}: 8 components"
    assert [line.split(":")[1].strip() for line in lines[1:]] == [
        "reading, STFT", "NMF", "masks, inverse STFT, writing the parts"
    ]  # fmt: skip
    assert lines[1].startswith("nmfaudio: reading, STFT: 4 s of audio (")
    assert lines[2].startswith("nmfaudio: NMF: 30 iterations (")
    assert "\r" not in err
    assert "wrote 8 components" in out
    status, out, err = run(capsys, "separate", example_mixture, "-o", tmp_path / "q", *FAST)
    assert status == 0 and out == "" and err == ""


def _on_a_terminal(*argv) -> str:
    """What ``nmfaudio ARGV`` shows on stderr when it is a terminal (a pseudo-terminal of
    120 columns: tqdm sizes its bars to the terminal, and draws none at 0 columns)."""
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    command = [sys.executable, "-m", "nmfaudio", *map(str, argv)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert process.wait(timeout=300) == 0
    os.close(leader)
    return b"".join(chunks).decode(errors="replace")


def test_a_terminal_gets_one_bar_per_stage_and_the_restarts_in_one(tmp_path, example_mixture):
    """On a terminal, bars with labels; the restarts of --sources share one bar; a fit
    that converges completes its bar, saying so."""
    fast = ["--n-fft", "512", "--hop", "128", "--iterations", "400"]
    shown = _on_a_terminal("separate", example_mixture, "-o", tmp_path / "s", "--sources", "2",
                           "--restarts", "2", "--report", *fast)  # fmt: skip
    assert "\r" in shown  # drawn and redrawn in place
    assert "reading, STFT" in shown and "writing report.html" in shown
    assert "NMF, restart 1/2" in shown and "NMF, restart 2/2" in shown
    assert "/800 [" in shown and "/400 [" not in shown  # one bar over both restarts
    shown = _on_a_terminal("separate", example_mixture, "-o", tmp_path / "k", "-k", "4", *fast)
    assert re.search(r"NMF: 100%\|[^|]*\| (\d+)/\1 \[.*converged after \1", shown), shown


def test_start_up_loads_no_heavy_module():
    heavy = ("numpy", "numba", "librosa", "scipy", "matplotlib", "mir_eval", "soundfile")
    check = (
        "import sys, nmfaudio.cli, nmfaudio; nmfaudio.NmfaudioError;"
        f" print([m for m in {heavy!r} if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr
    use = "import nmfaudio, nmfaudio.nmf; nmfaudio.separate;"
    use += " print(nmfaudio.plot.TOP_DB, nmfaudio.nmf)"
    done = subprocess.run([sys.executable, "-c", use], capture_output=True, text=True)
    # The lazy attributes work, and the function nmf is not replaced by its module.
    assert done.stdout.startswith("80.0 <function nmf at"), done.stdout + done.stderr


def test_no_command_prints_the_usage_and_the_commands(capsys):
    status, out, err = run(capsys)
    assert status == 2 and out == ""
    assert err.startswith("usage: nmfaudio") and "required" not in err
    for command in ("separate", "learn", "evaluate", "plot"):
        assert command in err


def test_outdir_that_is_a_file(capsys, tmp_path, example_mixture):
    target = tmp_path / "taken"
    target.write_text("keep me")
    status, _, err = run(capsys, "separate", example_mixture, "-o", target, *FAST)
    assert status == 1 and err.count("\n") == 1 and "exists and is not a directory" in err
    assert target.read_text() == "keep me"


def test_outdir_below_a_file_is_unwritable(capsys, tmp_path, example_mixture):
    (tmp_path / "file").write_text("x")
    status, _, err = run(capsys, "separate", example_mixture, "-o", tmp_path / "file" / "o", *FAST)
    assert status == 1 and err.count("\n") == 1 and "cannot write here" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only directories")
def test_outdir_in_read_only_directory(capsys, tmp_path, example_mixture):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    status, _, err = run(capsys, "separate", example_mixture, "-o", locked / "o", *FAST)
    assert status == 1 and err.count("\n") == 1 and "cannot write here" in err


def test_version_and_help(capsys):
    status, out, _ = run(capsys, "--version")
    assert status == 0 and out.strip() == f"nmfaudio {__version__}"
    for argv in (["--help"], ["separate", "--help"]):
        status, out, _ = run(capsys, *argv)
        assert status == 0 and "usage: nmfaudio" in out


@pytest.mark.parametrize(
    "command",
    [[str(Path(sys.executable).with_name("nmfaudio"))], [sys.executable, "-m", "nmfaudio"]],
    ids=["console script", "python -m"],
)
def test_real_console_script(tmp_path, command, example_mixture):
    done = subprocess.run(
        [*command, "separate", str(example_mixture), "-k", "3", "-o", str(tmp_path / "o"), *FAST],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "o").glob("component_*.wav"))) == 3
    missing = subprocess.run(
        [*command, "separate", str(tmp_path / "nope.wav")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1
    assert "Traceback" not in missing.stderr


def test_cli_on_real_music_writes_four_files_summing_to_mixture(capsys, tmp_path, separation_case):
    mixture = separation_case("piano_sax") / "mixture.wav"
    before = digest(mixture)
    status, _, err = run(capsys, "separate", mixture, "-k", "4", "-o", tmp_path / "o", "-q")
    assert status == 0, err
    y, _ = sf.read(mixture, always_2d=True)
    total = sum(sf.read(f, always_2d=True)[0] for f in (tmp_path / "o").glob("*.wav"))
    assert np.abs(total - y).max() <= 1e-4 * np.abs(y).max()
    assert digest(mixture) == before


@pytest.mark.parametrize(
    ("name", "argv"),
    [
        ("component_00.wav", ["-k", "2"]),
        ("source_01.wav", ["--sources", "2", "--restarts", "1"]),
        ("component_03.wav", ["--sources", "2", "-k", "4", "--restarts", "1", "--keep-components"]),
        ("good.wav", ["--templates", "{tmp}/good.npz"]),
    ],
)
def test_outputs_never_replace_the_input(capsys, tmp_path, example_mixture, name, argv):
    status, _, err = run(capsys, "learn", example_mixture, "-k", "2", "-o", tmp_path / "good.npz",
                         "--iterations", "5", "-q")  # fmt: skip
    assert status == 0, err
    folder = tmp_path / "dir"
    folder.mkdir()
    source = folder / name
    shutil.copy(example_mixture, source)
    before = digest(source)
    argv = [a.format(tmp=tmp_path) for a in argv]
    fast = FAST[4:] if "--templates" in argv[0] else FAST  # templates bring their STFT settings
    status, _, err = run(capsys, "separate", source, "-o", folder, *argv, *fast)
    assert status == 1 and err.count("\n") == 1, err
    assert "the outputs would replace this input" in err and "-o" in err
    assert digest(source) == before and sorted(p.name for p in folder.iterdir()) == [name]


def test_the_earlier_set_an_outdir_holds_is_checked_too(capsys, tmp_path, example_mixture):
    folder = tmp_path / "dir"
    status, _, err = run(capsys, "separate", example_mixture, "-k", "4", "-o", folder, *FAST)
    assert status == 0, err
    source = folder / "component_03.wav"  # written by the first run, listed in its manifest
    before = digest(source)
    status, _, err = run(capsys, "separate", source, "-k", "2", "-o", folder, *FAST)
    assert status == 1 and "the outputs would replace this input" in err
    assert digest(source) == before
    status, _, err = run(capsys, "separate", source, "-k", "2", "-o", tmp_path / "new", *FAST)
    assert status == 0, err  # elsewhere, fine


@pytest.mark.parametrize(
    "argv",
    [
        ["-k", "3", "--plot"],
        ["--sources", "2", "--restarts", "2", "--keep-components"],
        ["--templates", "{tmp}/good.npz", "{tmp}/bad.npz", "--extra", "1", "--keep-components"],
    ],
)
def test_the_files_planned_before_the_work_are_the_files_written(
    capsys, tmp_path, example_mixture, argv
):
    from nmfaudio.cli import _mode, build_parser
    from nmfaudio.outputs import planned_files

    for name in ("good", "bad"):
        status, _, err = run(capsys, "learn", example_mixture, "-k", "2", "-o",
                             tmp_path / f"{name}.npz", "--iterations", "5", "-q")  # fmt: skip
        assert status == 0, err
    argv = [a.format(tmp=tmp_path) for a in argv]
    if "--templates" not in argv:
        argv += FAST[:4]  # STFT settings; the templates bring their own
    argv = ["separate", str(example_mixture), "-o", str(tmp_path / "o"), *argv, "-q"]
    status, _, err = run(capsys, *argv, "--iterations", "5")
    assert status == 0, err
    args = build_parser().parse_args(argv)
    written = sorted(p.name for p in (tmp_path / "o").iterdir())
    # What the way of separating knows before any work: its file names.
    planned = planned_files(
        [f"{name}.wav" for name in _mode(args).part_names(components=args.keep_components)],
        plots=args.plot,
        report=args.report,
    )  # fmt: skip
    assert sorted(planned) == written


def _wav_with_rate_field(tmp_path, rate_field: int):
    path = tmp_path / "rate.wav"
    sf.write(path, music_like(1).T, 8000, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    data[24:28] = rate_field.to_bytes(4, "little")  # the fmt chunk's sample rate
    path.write_bytes(bytes(data))
    return path


HOSTILE = {
    "sample rate field 0x8000AC44": (lambda p: _wav_with_rate_field(p, 0x8000AC44), "sample rate"),
    "huge samples": (_samples("loud.wav", np.full((9000, 1), 1e30)), "far beyond audio levels"),
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_hostile_audio_gets_one_line(capsys, tmp_path, case):
    make, message = HOSTILE[case]
    source = make(tmp_path)
    status, _, err = run(capsys, "separate", source, "-o", tmp_path / "o", *FAST)
    assert status == 1 and err.count("\n") == 1 and message in err, err
    assert str(source) in err and not (tmp_path / "o").exists()


def test_a_fifo_is_refused_not_waited_on(capsys, tmp_path):
    fifo = tmp_path / "x.wav"
    os.mkfifo(fifo)
    status, _, err = run(capsys, "separate", fifo, "-o", tmp_path / "o", *FAST)
    assert status == 1 and "not a regular file" in err and err.count("\n") == 1


def test_a_name_that_is_not_utf8_is_said_in_one_line(capsys, tmp_path, example_mixture):
    name = os.fsdecode(b"caf\xe9.wav")  # Latin-1 bytes: a surrogate in Python's str
    status, _, err = run(capsys, "separate", tmp_path / name, "-o", tmp_path / "o", *FAST)
    assert status == 1 and err.count("\n") == 1 and "no such file" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--sr", "1000000000"], "the sample rate must be from 1000 to 655350 Hz"),
        (["--sr", "10000000"], "the sample rate must be from 1000 to 655350 Hz"),
        (["--n-fft", "100000000"], "n_fft must be at most 65536 samples"),
        (["--seed", "-1"], "seed must be a whole number >= 0, None or a numpy Generator, got -1"),
        (["--mask-power", "24"], "mask_power must be at most 8"),
    ],
)
def test_limits_are_usage_errors_before_any_allocation(capsys, tmp_path, example_mixture, argv,
                                                       message):  # fmt: skip
    status, _, err = run(capsys, "separate", example_mixture, "-o", tmp_path / "o", *argv)
    assert status == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists()


def test_template_files_with_settings_out_of_range_are_one_line(capsys, tmp_path, example_mixture):
    good = tmp_path / "good.npz"
    assert run(capsys, "learn", example_mixture, "-k", "2", "-o", good, "--n-fft", "512",
               "--hop", "128", "--iterations", "5", "-q")[0] == 0  # fmt: skip
    members = dict(np.load(good))
    for change, message in [
        ({"sr": 1_000_000_000}, "sr must be from 1000 to 655350 Hz"),
        ({"hop_length": 1}, "use 52 or more"),
        ({"penalties": "[" * 200_000}, "not an nmfaudio template file"),
    ]:
        bad = tmp_path / "bad.npz"
        np.savez(bad, **(members | change))
        status, _, err = run(capsys, "separate", example_mixture, "--templates", bad, "-o",
                             tmp_path / "o", "-q")  # fmt: skip
        assert status == 1 and message in err and err.count("\n") == 1, err
        assert not (tmp_path / "o").exists()


def test_a_file_at_an_unusable_rate_is_refused_when_read(capsys, tmp_path):
    slow = tmp_path / "slow.wav"
    sf.write(slow, np.zeros(5000, np.float32), 1)  # 1 Hz
    status, _, err = run(capsys, "separate", slow, "-o", tmp_path / "o", *FAST)
    assert status == 1 and "sample rate of 1 Hz; nmfaudio reads 1000 to 655350 Hz" in err


def test_nested_json_and_bad_addresses_are_one_line(capsys, tmp_path, example_mixture):
    outdir = tmp_path / "o"
    outdir.mkdir()
    (outdir / MANIFEST).write_text("[" * 200_000)
    for argv in (["separate", example_mixture, "-o", outdir, *FAST], ["report", outdir]):
        status, _, err = run(capsys, *argv)
        assert status == 1 and "not JSON, or nested too deeply" in err and err.count("\n") == 1
    status, _, err = run(capsys, "separate", example_mixture, example_mixture, "-o", tmp_path / "b",
                         "--scheduler", "not a url", *FAST)  # fmt: skip
    assert status == 1 and "cannot reach the Dask scheduler at not a url" in err, err


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
    manifest = json.loads((tmp_path / "o" / "nmfaudio.json").read_text())
    assert manifest["request"]["mode"]["use"] == "names"
    # The templates kept fixed: one fit, the same files, and the manifest says how.
    status, out, err = run(
        capsys, "separate", mix, "--templates", tmp_path / "kick.npz", tmp_path / "piano.npz",
        "--extra", "1", "--templates-as", "fixed", "-o", tmp_path / "f", "--iterations", "60",
    )  # fmt: skip
    assert status == 0, err
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == names
    assert (
        json.loads((tmp_path / "f" / "nmfaudio.json").read_text())["request"]["mode"]["use"]
        == "fixed"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--extra", "2"], "--extra needs --templates or --score"),
        (["--templates-as", "fixed"], "--templates-as needs --templates"),
        (
            ["--templates", "t.npz", "--templates-as", "fix"],
            "use must be one of names, fixed, adapted, got 'fix'",
        ),
        (["--restarts", "2"], "--restarts needs --sources"),
        (["--sources", "2", "--restarts", "0"], "must be a positive integer"),
        (["--keep-components"], "--keep-components needs --sources, --templates or --score"),
        (["--sources", "3", "-k", "2"], "2 components cannot make 3 sources"),
        (["--templates", "t.npz", "-k", "4"], "-k cannot be used with --templates"),
        (["--templates", "t.npz", "--n-fft", "1024"], "--n-fft cannot be used with --templates"),
        (["--templates"], "expected at least one argument"),
        (["--sources", "0"], "must be a positive integer"),
        (["--windows", "0.1"], "--windows needs --sources"),
        (["--sources", "2", "--windows", "0.1", "--n-fft", "1024"],
         "--windows cannot be used with --n-fft (the windows give the STFT frames)"),
        (["--sources", "2", "--windows", "0.1", "0.06"], "windows of 0.1 and 0.06 s are too alike"),
        (["--sources", "2", "--windows", "-1"], "windows must be a non-negative number, got -1"),
        (["--sources", "2", "--restarts", "1", "--windows", "0.1", "0.02"],
         "1 restarts cannot be shared among 2 windows"),
    ],
)  # fmt: skip
def test_cli_contradicting_options_are_usage_errors(
    capsys, tmp_path, example_mixture, argv, message
):
    status, _, err = run(capsys, "separate", example_mixture, "-o", tmp_path / "o", *argv)
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_cli_sources_over_windows_and_with_stft_settings(capsys, tmp_path, example_mixture):
    status, _, err = run(capsys, "separate", example_mixture, "--sources", "2", "--restarts",
                         "2", "--windows", "0.02", "0.08", "-o", tmp_path / "w")  # fmt: skip
    assert status == 0, err
    mode = json.loads((tmp_path / "w" / MANIFEST).read_text())["request"]["mode"]
    assert (mode["windows"], mode["n_restarts"]) == ([0.08, 0.02], 2)
    mixture, _ = sf.read(example_mixture, always_2d=True)
    total = sum(sf.read(p, always_2d=True)[0] for p in (tmp_path / "w").glob("source_*.wav"))
    np.testing.assert_allclose(total, mixture, atol=1e-4)
    # STFT settings given, even the default ones: one analysis, with them
    status, _, err = run(capsys, "separate", example_mixture, "--sources", "2", "--restarts",
                         "2", "--n-fft", "2048", "-o", tmp_path / "n")  # fmt: skip
    assert status == 0, err
    manifest = json.loads((tmp_path / "n" / MANIFEST).read_text())
    assert manifest["request"]["mode"]["windows"] is None
    assert manifest["separation"] == "2 sources, the consensus of 2 fits of 16 components"


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


@pytest.mark.parametrize(
    ("form", "subtype", "precision"),
    [("flac", "PCM_24", 1e-5), ("flac", "PCM_16", 1e-3), ("ogg", "VORBIS", None),
     ("mp3", "MPEG_LAYER_III", None)],
)  # fmt: skip
def test_parts_in_other_formats_add_up_within_their_precision(
    capsys, tmp_path, example_mixture, form, subtype, precision
):
    outdir = tmp_path / "o"
    argv = ["separate", example_mixture, "-k", "3", "-o", outdir, "--format", form.upper(), *FAST]
    if subtype != "PCM_24":
        argv += ["--subtype", subtype]
    status, _, err = run(capsys, *argv)
    assert status == 0, err
    files = sorted(outdir.glob(f"*.{form}"))
    assert [f.name for f in files] == [f"component_0{k}.{form}" for k in range(3)]
    assert json.loads((outdir / MANIFEST).read_text())["files"] == [f.name for f in files]
    assert {sf.info(f).subtype for f in files} == {subtype}
    mixture, _ = sf.read(example_mixture, always_2d=True)
    total = sum(sf.read(f, always_2d=True)[0] for f in files)
    error = np.abs(total - mixture).max() / np.abs(mixture).max()
    if precision is not None:  # lossless: each part off by at most half a step
        assert error <= precision
    else:  # lossy: the codec's error, well below the music
        snr = 10 * np.log10(np.sum(mixture**2) / np.sum((total - mixture) ** 2))
        assert snr > 15, snr


def test_a_format_that_cannot_hold_the_subtype_is_a_usage_error(capsys, tmp_path,
                                                                example_mixture):  # fmt: skip
    for argv, message in (
        (["--format", "ogg", "--subtype", "PCM_16"], "ogg files cannot hold subtype PCM_16"),
        (["--format", "aiff"], "format must be one of wav, flac, ogg, mp3"),
    ):
        status, _, err = run(capsys, "separate", example_mixture, "-o", tmp_path / "o", *argv)
        assert status == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["separate", "x.wav", "--source", "3"], "no option --source: did you mean --sources?"),
        (["separate", "x.wav", "--sourcs", "3"], "no option --sourcs: did you mean --sources?"),
        (["plot", "x.wav", "--max-fre", "9"], "no option --max-fre: did you mean --max-freq?"),
        (["separate", "x.wav", "--zzzz"], "no option --zzzz (see 'nmfaudio separate --help')"),
    ],
)
def test_options_are_taken_as_spelled_and_a_typo_gets_the_near_option(capsys, argv, message):
    status, _, err = run(capsys, *argv)
    assert status == 2 and message in err and err.count("\n") == 1, err
    assert f"(see 'nmfaudio {argv[0]} --help')" in err


def test_separate_help_groups_its_options_and_ends_with_examples(capsys):
    status, out, _ = run(capsys, "separate", "--help")
    assert status == 0
    headings = [line for line in out.splitlines() if line and not line.startswith(" ")]
    assert [h for h in headings if h.endswith(":")] == [
        "positional arguments:", "options:", "what to separate into:", "the model:", "STFT:",
        "output:", "several inputs:", "examples:",
    ]  # fmt: skip
    assert out.rstrip().splitlines()[-1].lstrip().startswith("nmfaudio separate album/")
