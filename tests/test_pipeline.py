"""Files to files: the streamed separation equals the in-memory one; collections, resumed,
with a bad file among good ones; interruption leaves nothing; a real Dask cluster."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import REPO, music_like, settings_of
from test_cli import FAST, run

import nmfaudio
from nmfaudio import backend
from nmfaudio.frontend import STFTConfig, magnitude, stft
from nmfaudio.outputs import MANIFEST
from nmfaudio.pipeline import collect_inputs, output_folders, read_spectrogram
from nmfaudio.settings import Fit

SR = 8000


def read_parts(folder: Path, names: list[str]) -> list[np.ndarray]:
    return [sf.read(folder / name, always_2d=True, dtype="float32")[0].T for name in names]


@pytest.mark.parametrize(
    ("channels", "seconds"),
    [(1, 2.0), (2, 3.0 + 77 / SR), (6, 1.3 + 5 / SR)],  # lengths not a multiple of the hop
)
def test_streamed_file_equals_the_in_memory_separation(tmp_path, write_wav, channels, seconds):
    y = music_like(channels, seconds=seconds)
    source = write_wav("in.wav", y)
    settings = settings_of(n_fft=512, hop_length=128, n_iter=20, seed=3)
    streamed = nmfaudio.separate_file(
        source, tmp_path / "s", mode=nmfaudio.Components(4), settings=settings
    )
    assert streamed.X is None and streamed.spectrogram.V is not None  # nothing but V was held whole
    in_memory = nmfaudio.separate(y, SR, 4, settings=settings)
    np.testing.assert_array_equal(streamed.W, in_memory.W)
    names = [f"component_0{k}.wav" for k in range(4)]
    for got, expected in zip(read_parts(tmp_path / "s", names), in_memory.components,
                             strict=True):  # fmt: skip
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    total = sum(read_parts(tmp_path / "s", names))
    np.testing.assert_allclose(total, y, atol=1e-5)  # the parts add up to the input


def test_sources_over_windows_stream_as_they_separate_in_memory(tmp_path, write_wav):
    y = music_like(2, seconds=2.0 + 77 / SR)
    source = write_wav("in.wav", y)
    mode = nmfaudio.Sources(2, n_restarts=3, windows=(0.023, 0.093))
    settings = settings_of(n_iter=20, seed=3)  # the default STFT: the windows give the frames
    output = nmfaudio.Output(components=True)
    streamed = nmfaudio.separate_file(source, tmp_path / "s", mode=mode, settings=settings,
                                      output=output)  # fmt: skip
    in_memory = nmfaudio.separate_as(mode, y, SR, settings=settings)
    frames = [(r.config.n_fft, r.n_components) for r in (streamed, *streamed.resolutions)]
    assert frames == [(1024, 2 * 16), (256, 16)]  # at 8 kHz; the longer window has the odd fit
    assert [r.sources for r in streamed.resolutions] == [r.sources for r in in_memory.resolutions]
    sources = read_parts(tmp_path / "s", ["source_00.wav", "source_01.wav"])
    for got, expected in zip(sources, in_memory.iter_sources(), strict=True):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(sum(sources), y, atol=1e-5)  # the parts add up to the input
    # the components are the longest window's: as many as its fits have, adding up too
    components = sorted((tmp_path / "s").glob("component_*.wav"))
    assert len(components) == streamed.n_components == 2 * 16
    np.testing.assert_allclose(sum(read_parts(tmp_path / "s", components)), y, atol=1e-4)
    manifest = json.loads((tmp_path / "s" / MANIFEST).read_text())
    assert manifest["separation"] == mode.describe()
    assert manifest["request"]["mode"]["windows"] == [0.093, 0.023]


@pytest.mark.parametrize("frames_per_block", [1, 3, 7, 64, 10_000])
def test_block_boundaries_change_nothing(frames_per_block):
    config = STFTConfig(512, 128)
    y = music_like(2, seconds=1.0 + 33 / SR)
    X = stft(y, config)
    fit = nmfaudio.nmf(magnitude(X), 3, fit=Fit(n_iter=10))
    groups = [[0, 2], [1]]
    expected = list(backend.iter_components(X, fit.W, fit.H, config=config, length=y.shape[1],
                                            power=2.0, groups=groups))  # fmt: skip

    def read(start, stop):
        out = np.zeros((2, stop - start), np.float32)
        lo, hi = max(start, 0), min(stop, y.shape[1])
        out[:, lo - start : hi - start] = y[:, lo:hi]
        return out

    blocks = list(backend.stream_components(
        read, y.shape[1], fit.W, fit.H, config=config, power=2.0, partitions=[groups, None],
        frames_per_block=frames_per_block,
    ))  # fmt: skip
    signals = [np.concatenate([b[i] for b in blocks]).T for i in range(len(blocks[0]))]
    for got, want in zip(signals[:2], expected, strict=True):
        np.testing.assert_array_equal(got, want)
    # the second partition, every component alone, in the same pass
    np.testing.assert_allclose(sum(signals[2:]), y, atol=1e-5)


def test_the_spectrogram_read_in_blocks_is_the_spectrogram(write_wav):
    y = music_like(3, seconds=2.5)
    source = write_wav("in.wav", y)
    config = STFTConfig(1024, 256)
    read = read_spectrogram(source, config)
    np.testing.assert_array_equal(read.V, magnitude(stft(y, config)))
    assert (read.sr, read.length, read.n_channels, read.source) == (SR, y.shape[1], 3, source)
    assert read.V.T.flags.c_contiguous  # frames as rows: the NMF takes it without a copy


def test_sources_and_templates_stream_too(capsys, tmp_path, example_mixture):
    outdir = tmp_path / "o"
    status, _, err = run(capsys, "separate", example_mixture, "--sources", "2", "--restarts",
                         "2", "--keep-components", "-o", outdir, *FAST)  # fmt: skip
    assert status == 0, err
    mixture, _ = sf.read(example_mixture, always_2d=True)
    for pattern in ("source_*.wav", "component_*.wav"):
        total = sum(sf.read(p, always_2d=True)[0] for p in outdir.glob(pattern))
        np.testing.assert_allclose(total, mixture, atol=1e-4)


def test_collections_resume_and_report_a_bad_file(capsys, tmp_path, write_wav):
    album = tmp_path / "album"
    (album / "disc2").mkdir(parents=True)
    for k in range(2):
        sf.write(album / f"track{k}.wav", music_like(2, seconds=1.5, seed=k).T, SR)
    sf.write(album / "disc2" / "track0.wav", music_like(1, seconds=1.5, seed=9).T, SR)
    (album / "broken.wav").write_bytes(b"RIFF\0\0\0\0WAVEjunk" * 10)
    before = {p: p.read_bytes() for p in album.rglob("*.wav")}
    out = tmp_path / "separated"
    code, _, err = run(capsys, "separate", album, "-o", out, "-k", "2", *FAST)
    assert code == 1
    lines = err.strip().splitlines()
    assert lines[0].startswith("nmfaudio: error: ") and "broken.wav" in lines[0]
    assert lines[-1] == f"nmfaudio: 3 done, 0 skipped, 1 failed (in {out})"
    assert sorted(p.name for p in out.iterdir()) == ["track0", "track0-2", "track1"]
    assert all((out / name / MANIFEST).is_file() for name in ("track0", "track0-2", "track1"))
    assert {p: p.read_bytes() for p in album.rglob("*.wav")} == before  # inputs untouched
    # Again: the finished ones are skipped; with --overwrite they are done again.
    (album / "broken.wav").unlink()
    stamp = (out / "track1" / MANIFEST).stat().st_mtime_ns
    code, _, err = run(capsys, "separate", album, "-o", out, "-k", "2", *FAST)
    assert code == 0 and "0 done, 3 skipped, 0 failed" not in err  # quiet: no summary
    assert (out / "track1" / MANIFEST).stat().st_mtime_ns == stamp
    result = nmfaudio.separate_files(
        [album], out, mode=nmfaudio.Components(2),
        settings=settings_of(n_fft=512, hop_length=128, n_iter=30),
    )  # fmt: skip
    assert (len(result.done), len(result.skipped), len(result.failed)) == (0, 3, 0)
    small = dict(
        mode=nmfaudio.Components(2), settings=settings_of(n_fft=512, hop_length=128, n_iter=5)
    )
    result = nmfaudio.separate_files([str(album / "*.wav")], out, overwrite=True, **small)
    assert [p.name for p, _ in result.done] == ["track0.wav", "track1.wav"]


def test_a_batch_with_other_settings_separates_again(capsys, tmp_path):
    """A folder is done for the settings its manifest records, not for any settings."""
    album = tmp_path / "album"
    album.mkdir()
    for k in range(2):
        sf.write(album / f"t{k}.wav", music_like(1, seconds=1.0, seed=k).T, SR)
    out = tmp_path / "out"
    fast = [a for a in FAST if a != "-q"]
    assert run(capsys, "separate", album, "-o", out, "-k", "2", *FAST)[0] == 0
    code, _, err = run(capsys, "separate", album, "-o", out, "-k", "3", *fast)
    assert code == 0, err
    assert err.strip().splitlines()[-1] == (
        f"nmfaudio: 2 done (2 replacing results made with other settings), 0 skipped, 0 failed"
        f" (in {out})"
    )
    assert sorted(p.name for p in (out / "t0").glob("*.wav"))[-1] == "component_02.wav"
    for changed in (["-k", "3", "--format", "flac"], ["-k", "3", "--seed", "1"]):
        code, _, err = run(capsys, "separate", album, "-o", out, *changed, *fast)
        assert "2 done (2 replacing" in err, (changed, err)
    code, _, err = run(capsys, "separate", album, "-o", out, "-k", "3", "--seed", "1", *fast)
    assert "0 done, 2 skipped, 0 failed" in err
    assert err.count("files:") == 0  # no bar over nothing (nor twice)


def test_one_rule_for_where_the_parts_go(capsys, tmp_path, example_mixture):
    """One file into -o; a folder, a glob or several files one folder each."""
    code, _, err = run(capsys, "separate", example_mixture, "-o", tmp_path / "j", "--jobs", "2")
    assert code == 2 and "--jobs runs several inputs" in err and err.count("\n") == 1
    assert not (tmp_path / "j").exists()
    pattern = str(example_mixture.parent / "mixture.w*v")
    assert run(capsys, "separate", pattern, "-o", tmp_path / "g", "-k", "2", *FAST)[0] == 0
    assert sorted(p.name for p in (tmp_path / "g").iterdir()) == ["mixture"]
    # The README's glob, alone: every file it matches, a folder each.
    pattern = str(example_mixture.parent / "[bd]*.wav")
    assert run(capsys, "separate", pattern, "-o", tmp_path / "a", "-k", "2", *FAST)[0] == 0
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["bass", "drums"]
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(example_mixture, one / "song.wav")
    assert run(capsys, "separate", one, "-o", tmp_path / "f", "-k", "2", *FAST)[0] == 0
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == ["song"]


def test_jobs_share_the_cores_and_give_the_same_files(tmp_path):
    files = []
    for k in range(3):
        files.append(tmp_path / f"t{k}.wav")
        sf.write(files[-1], music_like(2, seconds=1.0, seed=k).T, SR)
    options = dict(
        mode=nmfaudio.Components(2), settings=settings_of(n_fft=512, hop_length=128, n_iter=10)
    )
    one = nmfaudio.separate_files(files, tmp_path / "one", **options)
    two = nmfaudio.separate_files(files, tmp_path / "two", jobs=2, **options)
    assert len(one.done) == len(two.done) == 3
    for k in range(3):
        for name in ("component_00.wav", "component_01.wav"):
            a = sf.read(tmp_path / "one" / f"t{k}" / name)[0]
            b = sf.read(tmp_path / "two" / f"t{k}" / name)[0]
            np.testing.assert_allclose(a, b, atol=1e-6)


def test_inputs_and_their_folders():
    files = [Path("a/x.wav"), Path("b/x.wav"), Path("b/y.flac")]
    assert output_folders(files, "out") == [Path("out/x"), Path("out/x-2"), Path("out/y")]
    with pytest.raises(nmfaudio.AudioFileError, match="no file matches"):
        collect_inputs(["/nonexistent/*.wav"])


def test_batch_usage_errors(capsys, tmp_path, example_mixture):
    code, _, err = run(capsys, "separate", example_mixture, example_mixture)
    assert code == 2 and "several inputs need -o OUTROOT" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run(capsys, "separate", empty, "-o", tmp_path / "o")
    assert code == 1 and "no audio files in this folder" in err and err.count("\n") == 1


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_leaves_no_temporary_files(tmp_path, how):
    source = tmp_path / "long.wav"
    sf.write(source, music_like(2, seconds=60.0).T, SR)
    outdir = tmp_path / "o"
    process = subprocess.Popen(
        [sys.executable, "-m", "nmfaudio", "separate", str(source), "-o", str(outdir), "-k",
         "24", "--iterations", "400", "--tol", "0"],
        stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )  # fmt: skip
    end = time.monotonic() + 60
    while time.monotonic() < end and not outdir.exists():
        time.sleep(0.05)
    time.sleep(1.0)  # into the work
    process.send_signal(how)
    _, err = process.communicate(timeout=60)
    assert process.returncode == (130 if how == signal.SIGINT else 143), err
    assert "Traceback" not in err
    assert not outdir.exists()  # created by the run, removed with everything in it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.wav"]


def test_a_real_dask_cluster_separates_three_files(tmp_path):
    distributed = pytest.importorskip("dask.distributed", reason="dask[distributed] is absent")
    files = []
    for k in range(3):
        files.append(tmp_path / f"t{k}.wav")
        sf.write(files[-1], music_like(2, seconds=1.0, seed=k).T, SR)
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                 dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):  # fmt: skip
        assert len(client.scheduler_info()["workers"]) == 2
        small = dict(
            mode=nmfaudio.Components(2), settings=settings_of(n_fft=512, hop_length=128, n_iter=10)
        )
        result = nmfaudio.separate_files(files, tmp_path / "out", client=client, **small)
    assert len(result.done) == 3 and not result.failed
    for k in range(3):
        manifest = json.loads((tmp_path / "out" / f"t{k}" / MANIFEST).read_text())
        assert manifest["input"] == str(files[k].resolve())
        total = sum(sf.read(tmp_path / "out" / f"t{k}" / name)[0] for name in manifest["files"]
                    if name.endswith(".wav"))  # fmt: skip
        np.testing.assert_allclose(total, sf.read(files[k])[0], atol=1e-5)


def test_the_readme_batch_command_runs_as_a_console_script(tmp_path):
    album = tmp_path / "album"
    album.mkdir()
    for k in range(2):
        sf.write(album / f"song{k}.wav", music_like(2, seconds=1.0, seed=k).T, SR)
    done = subprocess.run(
        ["nmfaudio", "separate", str(album), "-o", str(tmp_path / "separated"), "--sources", "2",
         "--restarts", "1", "--jobs", "2", "--n-fft", "512", "--hop", "128"],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "2 done, 0 skipped, 0 failed" in done.stderr
    assert sorted(p.name for p in (tmp_path / "separated").iterdir()) == ["song0", "song1"]


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as nohup or a shell's background job may


@pytest.mark.parametrize(
    ("how", "inherited"),
    [(signal.SIGINT, None), (signal.SIGTERM, None), (signal.SIGINT, _ignore_sigint)],
    ids=["SIGINT", "SIGTERM", "SIGINT though started ignoring it"],
)
def test_an_interrupted_batch_leaves_only_finished_folders(tmp_path, how, inherited):
    album = tmp_path / "album"
    album.mkdir()
    for k in range(3):
        sf.write(album / f"t{k}.wav", music_like(2, seconds=60.0, seed=k).T, SR)
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "nmfaudio", "separate", str(album), "-o", str(out), "--jobs", "2",
         "-k", "24", "--iterations", "20000", "--tol", "0", "-q"],
        stderr=subprocess.PIPE, text=True, preexec_fn=inherited,
    )  # fmt: skip
    end = time.monotonic() + 60
    while time.monotonic() < end and not any(out.glob("*/.nmfaudio-*")) and not out.exists():
        time.sleep(0.05)
    time.sleep(1.5)  # the workers are inside their NMF
    process.send_signal(how)
    _, err = process.communicate(timeout=60)
    assert process.returncode == (130 if how == signal.SIGINT else 143), err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert not list(out.rglob(".nmfaudio-*"))  # no staging folder left
    assert not out.exists() or any(out.iterdir())  # the root the run made: not left empty
    for folder in out.iterdir() if out.exists() else []:
        assert (folder / MANIFEST).is_file()  # a folder that stayed is a finished one


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _holds(pid: int, folder: Path) -> bool:
    try:
        links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
    except OSError:
        return False
    return str(folder.resolve()) in links


def _long_album(tmp_path: Path, n: int) -> Path:
    album = tmp_path / "album"
    album.mkdir()
    for k in range(n):
        sf.write(album / f"t{k}.wav", music_like(2, seconds=30.0, seed=k).T, SR)
    return album


LONG = ["-k", "24", "--iterations", "20000", "--tol", "0", "-q"]


def _workers_of(process: subprocess.Popen, count: int) -> list[int]:
    end = time.monotonic() + 60
    while time.monotonic() < end and len(_children(process.pid)) < count:
        time.sleep(0.1)
    return _children(process.pid)


def test_workers_end_when_their_parent_is_killed(tmp_path):
    album = _long_album(tmp_path, 2)
    out = tmp_path / "out"
    parent = subprocess.Popen([sys.executable, "-m", "nmfaudio", "separate", str(album), "-o",
                               str(out), "--jobs", "2", *LONG])  # fmt: skip
    workers = _workers_of(parent, 2)
    assert len(workers) == 2
    time.sleep(2.0)  # inside their work
    parent.kill()
    parent.wait()
    end = time.monotonic() + 30
    while time.monotonic() < end and any(_running(pid) for pid in workers):
        time.sleep(0.1)
    assert not any(_running(pid) for pid in workers)
    assert not list(out.rglob(".nmfaudio-*"))  # each cleaned its stage on the way out


def test_a_worker_killed_fails_its_input_alone(tmp_path):
    album = _long_album(tmp_path, 2)
    (album / "t1.wav").unlink()
    sf.write(album / "t1.wav", music_like(1, seconds=3.0).T, SR)  # quick: it gets done
    out = tmp_path / "out"
    parent = subprocess.Popen([sys.executable, "-m", "nmfaudio", "separate", str(album), "-o",
                               str(out), "--jobs", "2", *LONG],
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    end = time.monotonic() + 60
    victim = None
    while victim is None and time.monotonic() < end:  # t0's worker: the one holding out/t0
        victim = next((pid for pid in _children(parent.pid) if _holds(pid, out / "t0")), None)
        time.sleep(0.1)
    assert victim is not None
    time.sleep(1.0)
    os.kill(victim, signal.SIGKILL)
    _, err = parent.communicate(timeout=120)
    assert parent.returncode == 1, err
    assert "Traceback" not in err
    assert f"{album / 't0.wav'}: its worker died (killed by SIGKILL" in err
    assert err.strip().endswith(f"1 done, 0 skipped, 1 failed (in {out})")
    assert sorted(p.name for p in out.iterdir()) == ["t1"]  # no empty folder for t0


def test_a_batch_input_error_names_the_input(capsys, tmp_path):
    album = tmp_path / "album"
    album.mkdir()
    sf.write(album / "broken.wav", np.full(300, 0.1, np.float32), SR)
    sf.write(album / "fine.wav", music_like(1, seconds=1.0).T, SR)
    status, _, err = run(capsys, "separate", album, "-o", tmp_path / "out", "-k", "2", *FAST)
    assert status == 1
    assert f"nmfaudio: error: {album / 'broken.wav'}: audio is 300 samples long" in err


def test_a_dask_worker_killed_by_an_input_is_that_inputs_failure(tmp_path):
    distributed = pytest.importorskip("dask.distributed", reason="dask[distributed] is absent")
    import dask

    files = []
    for name in ("die", "fine"):
        files.append(tmp_path / f"{name}.wav")
        sf.write(files[-1], music_like(1, seconds=1.0).T, SR)

    class KillOnDie(distributed.WorkerPlugin):
        def transition(self, key, start, finish, **kwargs):
            if finish == "executing" and "-die.wav-" in str(key):
                os._exit(1)  # as a segfault or the OOM killer would

    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                 dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):  # fmt: skip
        client.register_plugin(KillOnDie())
        small = dict(
            mode=nmfaudio.Components(2), settings=settings_of(n_fft=512, hop_length=128, n_iter=5)
        )
        result = nmfaudio.separate_files(files, tmp_path / "out", client=client, **small)
    assert [p.name for p, _ in result.done] == ["fine.wav"]
    assert len(result.failed) == 1 and result.failed[0][0] == files[0]
    assert "its worker died (KilledWorker" in result.failed[0][1]


def test_save_writes_each_component_with_rate_channels_and_subtype(tmp_path):
    y = music_like(2)
    result = nmfaudio.separate(
        y, 8000, 3, settings=settings_of(n_fft=512, hop_length=128, n_iter=20)
    )
    paths = nmfaudio.save(result, tmp_path / "out", output=nmfaudio.Output(subtype="PCM_24"))
    assert [p.name for p in paths] == [
        "component_00.wav", "component_01.wav", "component_02.wav", "nmfaudio.json"
    ]  # fmt: skip
    total = 0
    for path, component in zip(paths[:-1], result.components, strict=True):
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (8000, 2, "PCM_24")
        data, _ = sf.read(path, dtype="float32", always_2d=True)
        np.testing.assert_allclose(data.T, component, atol=2**-22)
        total = total + data.T
    np.testing.assert_allclose(total, y, atol=1e-4)
    assert sorted(os.listdir(tmp_path)) == ["out"]  # no temporary left behind


def test_a_batch_with_a_missing_file_fails_before_any_work(capsys, tmp_path, example_mixture):
    code, _, err = run(capsys, "separate", example_mixture, tmp_path / "typo.wav", "-o",
                       tmp_path / "out", *FAST)  # fmt: skip
    assert code == 1 and err == f"nmfaudio: error: {tmp_path / 'typo.wav'}: no such file\n"
    assert not (tmp_path / "out").exists()
