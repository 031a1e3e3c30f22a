"""Nothing lost, whatever happens to a run: other file systems, other runs, signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import music_like
from test_cli import FAST, run

from nmfaudio.audio_io import MANIFEST, output_dir, write_many

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
        [sys.executable, "-c", "import sys, time; from nmfaudio.audio_io import output_dir\n"
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
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["a.wav"]


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
    assert sorted(p.name for p in outdir.iterdir()) == ["a.wav", "b.wav"]


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
