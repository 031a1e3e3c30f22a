"""Nothing lost, whatever happens to a run: other file systems, other runs, signals."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import music_like, settings_of
from test_cli import FAST, digest, run

import nmfaudio
from nmfaudio import AudioFileError, ParameterError
from nmfaudio.outputs import MANIFEST, output_dir, write_many

SHM = Path("/dev/shm")


@pytest.mark.skipif(not SHM.is_dir(), reason="no tmpfs at /dev/shm to stand for another disk")
def test_an_outdir_on_another_file_system_behind_a_link(capsys, tmp_path, example_mixture):
    with tempfile.TemporaryDirectory(dir=SHM) as elsewhere:
        link = tmp_path / "out"
        link.symlink_to(Path(elsewhere) / "separated")  # dangling until the run makes it
        status, _, err = run(capsys, "separate", example_mixture, "-k", "2", "-o", link, *FAST)
        assert status == 0, err
        names = sorted(p.name for p in (Path(elsewhere) / "separated").iterdir())
        assert names == ["component_00.wav", "component_01.wav", MANIFEST]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging left here


def test_a_folder_another_run_holds_is_refused_before_any_work(capsys, tmp_path, example_mixture):
    outdir = tmp_path / "o"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from nmfaudio.outputs import output_dir\n"
         "with output_dir(sys.argv[1]):\n print('held', flush=True); time.sleep(60)", str(outdir)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        status, _, err = run(capsys, "separate", example_mixture, "-k", "2", "-o", outdir, *FAST)
        assert status == 1 and err.count("\n") == 1
        assert "another nmfaudio run is writing here" in err
    finally:
        holder.kill()
        holder.wait()
    status, _, err = run(capsys, "separate", example_mixture, "-k", "2", "-o", outdir, *FAST)
    assert status == 0, err  # free again once the other run has gone


def test_the_same_process_may_hold_a_folder_twice(tmp_path):
    with output_dir(tmp_path / "o") as held:
        write_many(held, [("a.wav", np.zeros((1, 10), np.float32))], 8000)
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["a.wav", MANIFEST]


def test_publishing_is_all_or_nothing(tmp_path):
    outdir = tmp_path / "o"
    write_many(outdir, [("a.wav", np.zeros((1, 10), np.float32)),
                        ("b.wav", np.zeros((1, 10), np.float32))], 8000)  # fmt: skip
    before = {p.name: p.read_bytes() for p in outdir.iterdir()}
    (outdir / "b.wav").unlink()
    (outdir / "b.wav").mkdir()  # in the way of the second file
    with pytest.raises(Exception, match="is in the way, and not a file"):
        write_many(outdir, [("a.wav", np.ones((1, 10), np.float32)),
                            ("b.wav", np.ones((1, 10), np.float32))], 8000)  # fmt: skip
    assert (outdir / "a.wav").read_bytes() == before["a.wav"]  # the old set is untouched
    assert sorted(p.name for p in outdir.iterdir()) == ["a.wav", "b.wav", MANIFEST]


def test_stale_staging_folders_of_dead_runs_are_removed(tmp_path, capsys, example_mixture):
    outdir = tmp_path / "o"
    outdir.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    stale = outdir / f".nmfaudio-{dead}-x1.partial"
    live = outdir / f".nmfaudio-{os.getpid()}-x2.partial"
    for stage in (stale, live):
        stage.mkdir()
        (stage / "component_00.wav").write_bytes(bytes(100))
    status, _, err = run(capsys, "separate", example_mixture, "-k", "2", "-o", outdir, *FAST)
    assert status == 0, err
    assert not stale.exists() and live.exists()  # a live owner's folder is not ours to take


def test_sigterm_mid_run_cleans_up_and_says_so(tmp_path):
    source = tmp_path / "long.wav"
    sf.write(source, music_like(2, seconds=60.0, sr=22050).T, 22050, subtype="FLOAT")
    outdir = tmp_path / "o"
    process = subprocess.Popen(
        [sys.executable, "-m", "nmfaudio", "separate", str(source), "-k", "40", "-o", str(outdir),
         "--tol", "0", "--iterations", "1000", "-q"],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not outdir.exists() and time.monotonic() < deadline:  # held: the work has begun
        time.sleep(0.05)
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert err.strip() == "nmfaudio: terminated"
    assert not outdir.exists()  # made by the run, empty, removed again
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.wav"]


def test_a_full_disk_names_the_file_and_the_likely_cause(tmp_path, example_mixture):
    import resource

    def limit():  # a file size limit stands for a full disk: writes fail part-way
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

    outdir = tmp_path / "o"
    done = subprocess.run(
        [sys.executable, "-m", "nmfaudio", "separate", str(example_mixture), "-k", "3",
         "-o", str(outdir), "-q"],
        preexec_fn=limit, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert f"{outdir}/component_00.wav: cannot write" in done.stderr
    assert "is the disk full, or a file size limit set?" in done.stderr
    assert not outdir.exists()


# Round two of an adversarial tester: each of these lost or mixed up a user's files before.

S = Path(__file__).resolve().parents[1] / "data" / "example"


def hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): digest(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_batch_never_replaces_another_of_its_inputs(capsys, tmp_path):
    c = tmp_path / "c"
    (c / "a").mkdir(parents=True)
    shutil.copy(S / "mixture.wav", c / "a" / "a.wav")
    shutil.copy(S / "bass.wav", c / "a" / "component_00.wav")  # an input, named like an output
    before = hashes(c / "a")
    status, _, err = run(capsys, "separate", c / "a", "-o", c, "-k", "2", *FAST)
    assert status == 1, err
    assert "component_00.wav: the outputs would replace this input" in err
    assert hashes(c / "a") == before  # both inputs as they were, nothing added there
    assert (c / "component_00" / MANIFEST).is_file()  # the other input was done


def test_a_foreign_manifest_deletes_nothing(capsys, tmp_path):
    mf = tmp_path / "mf"
    mf.mkdir()
    (mf / "thesis.docx").write_text("precious")
    (mf / MANIFEST).write_text(json.dumps({"files": ["thesis.docx"]}))
    before = hashes(mf)
    status, _, err = run(capsys, "separate", S / "mixture.wav", "-o", mf, "-k", "2", *FAST)
    assert status == 1 and err.count("\n") == 1, err
    assert f"{mf / MANIFEST}: not a manifest nmfaudio wrote" in err
    assert hashes(mf) == before
    # Nor does one of ours that lists a file nmfaudio does not write, nor a changed part.
    (mf / MANIFEST).write_text(json.dumps({"nmfaudio": "0.1", "files": ["thesis.docx"]}))
    status, _, err = run(capsys, "separate", S / "mixture.wav", "-o", mf, "-k", "2", *FAST)
    assert status == 1 and "which nmfaudio does not write" in err
    (mf / MANIFEST).unlink()
    assert run(capsys, "separate", S / "mixture.wav", "-o", mf, "-k", "2", *FAST)[0] == 0
    with open(mf / "component_01.wav", "ab") as part:
        part.write(b"my edit")
    edited = digest(mf / "component_01.wav")
    status, _, err = run(capsys, "separate", S / "mixture.wav", "-o", mf, "-k", "3", *FAST)
    assert status == 1 and "component_01.wav: has changed since nmfaudio wrote it" in err
    assert digest(mf / "component_01.wav") == edited and (mf / "thesis.docx").read_text()


def test_two_parts_of_one_name_are_refused_before_any_work(capsys, tmp_path):
    for name in ("component_00", "component_01"):
        status, _, err = run(capsys, "learn", S / "bass.wav", "-k", "2", "--n-fft", "512",
                             "--hop", "128", "--iterations", "5", "-o", tmp_path / f"{name}.npz",
                             "-q")  # fmt: skip
        assert status == 0, err
    out = tmp_path / "o"
    status, _, err = run(capsys, "separate", S / "mixture.wav", "--templates",
                         tmp_path / "component_00.npz", tmp_path / "component_01.npz",
                         "--templates-as", "fixed", "--keep-components", "-o", out,
                         "--iterations", "5", "-q")  # fmt: skip
    assert status == 1 and err.count("\n") == 1, err
    assert "would both be written as component_00.wav" in err
    assert not out.exists()
    items = [("a.wav", np.zeros((1, 10), np.float32)), ("a.wav", np.ones((1, 10), np.float32))]
    with pytest.raises(nmfaudio.ParameterError, match=r"both be written as a\.wav"):
        write_many(tmp_path / "lib", items, 8000)
    assert not (tmp_path / "lib").exists()


KILL_WHILE_PUBLISHING = """
import os, signal, sys
real = os.replace
def replace(source, target):
    real(source, target)
    if str(target).endswith(".wav"):  # the first part is in place, the rest are not
        os.kill(os.getpid(), signal.SIGKILL)
os.replace = replace
from nmfaudio.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_run_killed_while_publishing_is_redone_not_taken_as_complete(capsys, tmp_path):
    album = tmp_path / "album"
    album.mkdir()
    sf.write(album / "song.wav", music_like(2, seconds=1.5).T, 8000)
    out = tmp_path / "out"
    argv = ["separate", str(album), "-o", str(out), "-k", "2", *FAST]
    assert run(capsys, *argv)[0] == 0
    killed = subprocess.run([sys.executable, "-c", KILL_WHILE_PUBLISHING, *argv, "--seed", "7",
                             "--overwrite"], capture_output=True, text=True)  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    manifest = json.loads((out / "song" / MANIFEST).read_text())
    assert manifest["complete"] is False  # the journal: this folder is not a finished set
    status, _, err = run(capsys, "separate", str(album), "-o", str(out), "-k", "2", *FAST[:-1])
    assert status == 0 and "1 done, 0 skipped, 0 failed" in err, err
    assert not list(out.rglob(".nmfaudio-*"))  # the killed run's stage is gone
    parts = [sf.read(out / "song" / f"component_0{k}.wav", always_2d=True)[0] for k in range(2)]
    np.testing.assert_allclose(sum(parts), sf.read(album / "song.wav", always_2d=True)[0],
                               atol=1e-5)  # fmt: skip


def test_outputs_inside_the_input_folder_are_not_inputs_next_time(capsys, tmp_path):
    b2 = tmp_path / "b2"
    b2.mkdir()
    sf.write(b2 / "x.wav", music_like(1, seconds=1.0).T, 8000)
    for _ in range(3):
        status, _, err = run(capsys, "separate", b2, "-o", b2 / "out", "-k", "2", *FAST)
        assert status == 0, err
        assert sorted(p.name for p in (b2 / "out").iterdir()) == ["x"]
    status, _, err = run(capsys, "separate", str(b2 / "**" / "*.wav"), "-o", tmp_path / "o2",
                         "-k", "2", *FAST)  # fmt: skip
    assert status == 0 and sorted(p.name for p in (tmp_path / "o2").iterdir()) == ["x"], err


def test_a_folder_stays_with_the_input_its_manifest_names(capsys, tmp_path):
    album = tmp_path / "album"
    album.mkdir()
    sf.write(album / "a.wav", music_like(1, seconds=1.0).T, 8000)
    out = tmp_path / "out"
    assert run(capsys, "separate", album, "-o", out, "-k", "2", *FAST)[0] == 0
    before = hashes(out / "a")
    sf.write(album / "a.flac", music_like(1, seconds=1.0, seed=3).T, 8000)
    status, _, err = run(capsys, "separate", album, "-o", out, "-k", "2", *FAST[:-1])
    assert status == 0 and "1 done, 1 skipped, 0 failed" in err, err
    assert hashes(out / "a") == before  # a.wav's, untouched
    owner = json.loads((out / "a-2" / MANIFEST).read_text())["input"]
    assert owner == str((album / "a.flac").resolve())


def test_a_folder_another_run_holds_is_busy_not_failed(capsys, tmp_path):
    album = tmp_path / "album"
    album.mkdir()
    for k in range(2):
        sf.write(album / f"t{k}.wav", music_like(1, seconds=1.0, seed=k).T, 8000)
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from nmfaudio.outputs import output_dir\n"
         "with output_dir(sys.argv[1]):\n print('held', flush=True); time.sleep(60)",
         str(out / "t1")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        status, _, err = run(capsys, "separate", album, "-o", out, "-k", "2", *FAST[:-1])
        # The same from worker processes, whose outcomes come back pickled.
        small = dict(
            mode=nmfaudio.Components(2), settings=settings_of(n_fft=512, hop_length=128, n_iter=5)
        )
        workers = nmfaudio.separate_files([album], out, jobs=2, overwrite=True, **small)
    finally:
        holder.kill()
        holder.wait()
    assert status == 0, err
    assert "1 done, 0 skipped, 1 busy (another nmfaudio run is writing their folders)" in err
    assert "error" not in err
    assert [p.name for p, _ in workers.busy] == ["t1.wav"] and not workers.failed


def test_a_non_utf8_file_name_is_separated_in_a_batch(capsys, tmp_path):
    album = tmp_path / "album"
    album.mkdir()
    odd = album / os.fsdecode(b"bad\xff\xfename.wav")
    sf.write(os.fsencode(odd), music_like(1, seconds=1.0).T, 8000)
    sf.write(album / "good.wav", music_like(1, seconds=1.0, seed=2).T, 8000)
    status, _, err = run(capsys, "separate", album, "-o", tmp_path / "out", "-k", "2", *FAST[:-1])
    assert status == 0 and "2 done, 0 skipped, 0 failed" in err, err
    single = tmp_path / "single"
    status, _, err = run(capsys, "separate", odd, "-o", single, "-k", "2", *FAST)
    assert status == 0, err
    assert len(list(single.glob("component_*.wav"))) == 2


def test_pcm_clipping_is_never_silent(tmp_path):
    loud = np.array([[0.5, 1.5, -2.0, 0.1]] * 2, dtype=np.float32)
    with pytest.warns(UserWarning, match=r"peak 2.000 exceeds 1.0 and is clipped in PCM_16"):
        write_many(tmp_path, [("loud.wav", loud)], 8000, subtype="PCM_16")
    data, _ = sf.read(tmp_path / "loud.wav", always_2d=True)
    assert data.max() <= 1.0 and data.min() >= -1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_many(tmp_path, [("float.wav", loud)], 8000, subtype="FLOAT")


def test_failure_part_way_leaves_nothing_behind(tmp_path):
    def items():
        yield "a.wav", np.zeros((1, 100), np.float32)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_many(tmp_path / "out", items(), 8000)
    assert os.listdir(tmp_path) == []


def test_output_directory_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(AudioFileError, match="exists and is not a directory"):
        write_many(tmp_path / "file", [("a.wav", np.zeros((1, 10)))], 8000)


def test_bad_subtype_is_refused(tmp_path):
    with pytest.raises(ParameterError, match="subtype must be one of"):
        write_many(tmp_path, [("a.wav", np.zeros((1, 10)))], 8000, subtype="MP3")


@pytest.mark.parametrize("name", ["../escaped.wav", "sub/part.wav", "..", "", "a\\b.wav"])
def test_an_output_name_that_would_leave_the_folder_is_refused(tmp_path, name):
    with pytest.raises(ParameterError, match="an output's name must name a file in its folder"):
        write_many(tmp_path / "out", [(name, np.zeros((1, 100), np.float32))], 8000)
    assert list(tmp_path.rglob("*")) == []  # not the folder, not the parent
