"""The listening report: a valid, self-contained page, written by the CLI and the library,
driven in a real headless Chromium (skipped, with the reason, where there is none)."""

from __future__ import annotations

import base64
import functools
import http.server
import io
import json
import os
import shutil
import threading
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import REPO, music_like, settings_of
from test_cli import FAST, run

import nmfaudio
from nmfaudio import report
from nmfaudio.outputs import MANIFEST

QUICK = [*FAST, "--restarts", "1"]
VOID = {"meta", "link", "input", "br", "img", "hr", "source", "wbr", "col", "area", "base"}


class _Checker(HTMLParser):
    """Balanced tags, and every URL the markup itself refers to."""

    def __init__(self):
        super().__init__()
        self.open: list[str] = []
        self.tags: list[str] = []
        self.urls: list[str] = []
        self.data_script = ""
        self._in_data = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attributes = dict(attrs)
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]
        self._in_data = attributes.get("id") == "nmfaudio-data"
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, (tag, self.open)
        self.open.pop()
        self._in_data = False

    def handle_data(self, data):
        if self._in_data:
            self.data_script += data


def checked(path: Path) -> tuple[_Checker, dict]:
    text = path.read_text("utf-8")
    assert text.startswith("<!DOCTYPE html>")
    checker = _Checker()
    checker.feed(text)
    checker.close()
    assert checker.open == []
    for tag in ("html", "head", "body", "title"):
        assert checker.tags.count(tag) == 1
    assert "http://" not in text and "https://" not in text  # nothing from the network
    return checker, json.loads(checker.data_script)


@pytest.fixture(scope="module")
def separated(tmp_path_factory) -> Path:
    """The README's example: the example mixture in 3 sources, with the report."""
    outdir = tmp_path_factory.mktemp("report") / "out"
    status = nmfaudio.cli.main(
        ["separate", str(REPO / "data/example/mixture.wav"), "--sources", "3", "--report",
         "-o", str(outdir), *QUICK]
    )  # fmt: skip
    assert status == 0
    return outdir


def test_the_page_is_valid_html_and_refers_only_to_files_beside_it(separated):
    checker, data = checked(separated / "report.html")
    assert checker.urls == ["data:,"]  # the icon, inline; audio is added by the script
    assert [row["file"] for row in data["rows"]] == [f"source_0{k}.wav" for k in range(3)]
    for row in data["rows"]:
        assert (separated / row["file"]).is_file()
        assert len(row["template"]) == report.BANDS and len(row["activation"]) <= report.COLUMNS
        levels = np.frombuffer(base64.b64decode(row["spectrogram"]["bytes"]), np.uint8)
        assert levels.size == report.BANDS * row["spectrogram"]["columns"]
    manifest = json.loads((separated / MANIFEST).read_text())
    assert "report.html" in manifest["files"]
    settings = dict(data["settings"])
    assert settings["cost"] == "KL divergence"
    assert "--sources 3" in settings["command"] and settings["seed"] == "0"


def test_a_page_rewritten_later_draws_what_the_first_drew(capsys, separated, tmp_path):
    shutil.copytree(separated, tmp_path / "copy")
    _, first = checked(separated / "report.html")
    assert run(capsys, "report", tmp_path / "copy")[0] == 0
    _, again = checked(tmp_path / "copy" / "report.html")
    for before, after in zip(first["rows"], again["rows"], strict=True):
        assert after["template"] == before["template"]
        assert after["activation"] == before["activation"]


def test_levels_are_the_parts_own_and_the_mixture_is_their_sum(separated):
    _, data = checked(separated / "report.html")
    y, _ = sf.read(REPO / "data/example/mixture.wav", always_2d=True)
    assert data["mixture"]["level"] == pytest.approx(10 * np.log10(np.mean(y**2)), abs=0.1)
    for row in data["rows"]:
        part, _ = sf.read(separated / row["file"], always_2d=True)
        assert row["level"] == pytest.approx(10 * np.log10(np.mean(part**2)), abs=0.05)
    assert data["duration"] == pytest.approx(len(y) / 22050, abs=1e-6)


def test_report_command_for_a_folder_written_earlier(capsys, tmp_path, example_mixture):
    outdir = tmp_path / "o"
    status, _, err = run(capsys, "separate", example_mixture, "-k", "3", "-o", outdir, *FAST)
    assert status == 0, err
    reference = tmp_path / "ref"
    reference.mkdir()
    for name in ("melody", "bass", "drums"):
        shutil.copy(REPO / "data/example" / f"{name}.wav", reference)
    status, out, err = run(capsys, "report", outdir, "--reference", reference)
    assert status == 0, err
    assert out == f"wrote {outdir / 'report.html'}\n"
    _, data = checked(outdir / "report.html")
    assert [row["name"] for row in data["rows"]] == [f"component_0{k}" for k in range(3)]
    # The model's pictures too: the manifest keeps them as the page draws them.
    profiles = json.loads((outdir / MANIFEST).read_text())["profiles"]
    for row in data["rows"]:
        assert row["template"] == profiles[row["name"]]["template"]
        assert len(row["template"]) == report.BANDS and max(row["activation"]) == 1.0
    assert [s["reference"] for s in data["evaluation"]["sources"]] == ["bass", "drums", "melody"]
    assert "report.html" in json.loads((outdir / MANIFEST).read_text())["files"]
    # A later run into the folder replaces the page with the rest of the set.
    status, _, err = run(capsys, "separate", example_mixture, "-k", "2", "-o", outdir, *FAST)
    assert status == 0 and not (outdir / "report.html").exists()


def test_library_access(tmp_path):
    y = music_like(1, seconds=2.0)
    result = nmfaudio.separate(
        y, 8000, 2, settings=settings_of(n_fft=512, hop_length=128, n_iter=10)
    )
    files = nmfaudio.save(result, tmp_path / "o", output=nmfaudio.Output(report=True))
    assert [f.name for f in files][-2:] == ["report.html", MANIFEST]
    _, data = checked(tmp_path / "o" / "report.html")
    assert dict(data["settings"])["command"] == "(library)"
    assert report.write(tmp_path / "o") == tmp_path / "o" / "report.html"


@pytest.mark.parametrize(
    ("setup", "argv", "status", "message"),
    [
        ("empty", ["report", "{d}"], 1, "no nmfaudio outputs here (no nmfaudio.json)"),
        ("none", ["report", "{d}/nope"], 1, "no such folder"),
        ("missing part", ["report", "{d}"], 1, "listed in nmfaudio.json but missing"),
        ("written", ["report", "{d}", "--reference", "{d}/nope"], 1, "--reference must be a"),
        ("written", ["report", "{d}", "--reference", "{d}"], 1, "no audio files to score against"),
    ],
)
def test_bad_report_inputs_get_one_line(capsys, tmp_path, example_mixture, setup, argv, status,
                                        message):  # fmt: skip
    folder = tmp_path / "d"
    folder.mkdir()
    if setup in ("written", "missing part"):
        assert run(capsys, "separate", example_mixture, "-k", "2", "-o", folder, *FAST)[0] == 0
    if setup == "missing part":
        (folder / "component_01.wav").unlink()
    if setup == "written":
        for wav in folder.glob("*.wav"):
            wav.rename(wav.with_suffix(".keep"))
        (folder / MANIFEST).write_text(json.dumps({"files": [], "sources": None}))
    before = sorted(p.name for p in folder.iterdir())
    code, _, err = run(capsys, *[a.format(d=folder) for a in argv])
    assert code == status and message in err and err.count("\n") == 1, err
    assert sorted(p.name for p in folder.iterdir()) == before


def test_separate_report_options_are_checked_before_any_work(capsys, tmp_path, example_mixture):
    code, _, err = run(capsys, "separate", example_mixture, "--reference", tmp_path)
    assert code == 2 and "--reference needs --report" in err
    code, _, err = run(capsys, "separate", example_mixture, "--report", "--reference",
                       tmp_path / "nope", "-o", tmp_path / "o")  # fmt: skip
    assert code == 1 and "--reference must be a folder" in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only directories")
def test_report_into_an_unwritable_folder_is_one_line(capsys, tmp_path, example_mixture):
    outdir = tmp_path / "o"
    assert run(capsys, "separate", example_mixture, "-k", "2", "-o", outdir, *FAST)[0] == 0
    outdir.chmod(0o555)
    try:
        code, _, err = run(capsys, "report", outdir)
    finally:
        outdir.chmod(0o755)
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err


# -- in a real browser --------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACTS = Path(os.environ.get("NMFAUDIO_TEST_ARTIFACTS", REPO / "build" / "test-artifacts"))


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("no Chromium and ChromeDriver here (Debian: apt-get install chromium"
                    " chromium-driver)")  # fmt: skip
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--autoplay-policy=no-user-gesture-required",
                 "--window-size=1400,900"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def served(separated):
    """The output folder on a local web server, as a person might share it."""
    handler = functools.partial(_QuietHandler, directory=str(separated))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """A static server with byte ranges, as browsers need to seek in media (and as any
    real web server has; Python's own lacks them)."""

    def log_message(self, *args):
        pass

    def send_head(self):
        wanted = self.headers.get("Range", "")
        path = Path(self.translate_path(self.path))
        if not wanted.startswith("bytes=") or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        first, _, last = wanted.removeprefix("bytes=").partition("-")
        start, end = int(first or 0), min(int(last) if last else size - 1, size - 1)
        body = path.read_bytes()[start : end + 1]
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        return io.BytesIO(body)


def wait_for(driver, script: str, timeout: float = 20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {script}")


def errors_in_console(driver) -> list[dict]:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def solo_keys(driver, keys: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.TAG_NAME, "body").send_keys(keys)


def test_in_chromium_served_the_parts_mix_in_web_audio(browser, served, separated):
    browser.get(served + "report.html")
    wait_for(browser, "return window.nmfaudioReport")
    assert errors_in_console(browser) == []
    api = "window.nmfaudioReport"
    assert browser.execute_script(f"return {api}.mode") == "web-audio"
    # Every part's file is loaded and reports its duration.
    durations = wait_for(browser, f"const d = {api}.durations(); return d.every(isFinite) && d")
    expected = sf.info(separated / "source_00.wav").duration
    assert durations == pytest.approx([expected] * 3, abs=0.01)
    # Nothing is fetched from outside the folder.
    urls = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert urls and all(url.startswith(served) for url in urls), urls
    # Solo and mute change what is audible, read from the Web Audio graph's gains.
    assert browser.execute_script(f"return {api}.gains()") == [1, 1, 1]
    solo_keys(browser, "2")
    assert browser.execute_script(f"return {api}.gains()") == [0, 1, 0]
    solo_keys(browser, "3")
    assert browser.execute_script(f"return {api}.gains()") == [0, 1, 1]
    from selenium.webdriver.common.by import By

    mutes = browser.find_elements(By.CSS_SELECTOR, ".row.part button[title='mute']")
    mutes[1].click()
    assert browser.execute_script(f"return {api}.gains()") == [0, 0, 1]
    browser.find_element(By.ID, "mixture").click()
    assert browser.execute_script(f"return {api}.gains()") == [1, 1, 1]
    # One transport: space plays every part; the position bar moves while playing.
    solo_keys(browser, " ")
    wait_for(browser, f"return {api}.playing()")
    time.sleep(1.0)
    position = float(browser.find_element(By.ID, "position").get_attribute("value"))
    assert position > 0.3
    times = browser.execute_script(
        "return [...document.querySelectorAll('audio')].map(a => a.currentTime)"
    )
    assert max(times) - min(times) < 0.1  # in sync
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "report.png"))
    solo_keys(browser, " ")
    assert browser.execute_script(f"return {api}.playing()") is False
    # Click on the bar: every part moves there.
    browser.execute_script(
        "const bar = document.getElementById('position'); bar.value = 2;"
        " bar.dispatchEvent(new Event('input')); bar.dispatchEvent(new Event('change'));"
    )
    times = browser.execute_script(
        "return [...document.querySelectorAll('audio')].map(a => a.currentTime)"
    )
    assert times == pytest.approx([2, 2, 2], abs=0.05)
    assert errors_in_console(browser) == []


def test_in_chromium_opened_from_disk(browser, separated):
    browser.get((separated / "report.html").as_uri())
    wait_for(browser, "return window.nmfaudioReport")
    assert browser.execute_script("return window.nmfaudioReport.mode") == "media-elements"
    wait_for(browser, "return window.nmfaudioReport.durations().every(isFinite)")
    solo_keys(browser, "1")
    assert browser.execute_script("return window.nmfaudioReport.gains()") == [1, 0, 0]
    # A time ruler over the spectrograms: 4 seconds, a tick a second.
    from selenium.webdriver.common.by import By

    ticks = [t.text for t in browser.find_elements(By.CSS_SELECTOR, ".ruler span")]
    assert ticks == ["0:00", "0:01", "0:02", "0:03", "0:04"], ticks
    assert errors_in_console(browser) == []


@pytest.mark.parametrize(("channels", "k"), [(1, 1), (6, 64)])
def test_in_chromium_one_to_sixty_four_rows_mono_and_six_channels(
    browser, capsys, tmp_path, write_wav, channels, k
):
    source = write_wav("in.wav", music_like(channels, seconds=6.0))
    outdir = tmp_path / "o"
    status, _, err = run(capsys, "separate", source, "-k", k, "--report", "-o", outdir, *FAST)
    assert status == 0, err
    checked(outdir / "report.html")
    browser.get((outdir / "report.html").as_uri())
    durations = wait_for(
        browser, "const d = window.nmfaudioReport && window.nmfaudioReport.durations();"
        " return d && d.every(isFinite) && d"
    )  # fmt: skip
    assert durations == pytest.approx([6.0] * k, abs=0.01)
    assert errors_in_console(browser) == []


HOSTILE = ["<!--<script>", "<script>alert(1)", "<img src=x onerror=alert(1)>",
           "it's \"quoted\" & more", "\u202eevil\u202c", "line\nbreak"]  # fmt: skip


def _hostile_folder(tmp_path: Path) -> Path:
    y = music_like(1, seconds=1.0)
    result = nmfaudio.separate(
        y, 8000, len(HOSTILE), settings=settings_of(n_fft=512, hop_length=128, n_iter=5)
    )
    result.sources = {name: [k] for k, name in enumerate(HOSTILE)}
    folder = tmp_path / "hostile"
    nmfaudio.save(result, folder, output=nmfaudio.Output(report=True))
    return folder


def test_hostile_names_cannot_end_or_hide_the_pages_script(tmp_path):
    text = (_hostile_folder(tmp_path) / "report.html").read_text()
    start = text.index('id="nmfaudio-data">') + len('id="nmfaudio-data">')
    data = text[start : text.index("</script>", start)]
    assert not set("<>&") & set(data)  # every one escaped inside the data block
    assert json.loads(data)["rows"][0]["name"] == "<!--<script>"


def test_in_chromium_hostile_names_leave_the_page_working(browser, tmp_path):
    folder = _hostile_folder(tmp_path)
    browser.get((folder / "report.html").as_uri())
    wait_for(browser, "return window.nmfaudioReport")
    wait_for(browser, "return window.nmfaudioReport.durations().every(isFinite)")
    assert len(browser.execute_script("return window.nmfaudioReport.durations()")) == len(HOSTILE)
    assert browser.execute_script("return document.querySelectorAll('img').length") == 0
    assert errors_in_console(browser) == []


def test_the_page_draws_each_instruments_notes_from_the_run_and_from_the_folder(
    browser, capsys, tmp_path
):
    example = REPO / "data" / "example"
    outdir = tmp_path / "score"
    status, _, err = run(
        capsys, "separate", example / "mixture.wav", "--score", example / "mixture.mid",
        "--report", "-o", outdir, "--iterations", "20", "-q",
    )  # fmt: skip
    assert status == 0, err
    _, data = checked(outdir / "report.html")
    notes = {row["name"]: row.get("notes") for row in data["rows"]}
    assert [len(notes[name]) for name in ("melody", "bass", "drums")] == [8, 4, 24]
    assert all(band == -1 for _, _, band in notes["drums"])  # drum hits: ticks
    assert max(b for _, _, b in notes["melody"]) > max(b for _, _, b in notes["bass"])
    # Rewritten later from the folder alone: the notes come from score_aligned.mid.
    status, _, err = run(capsys, "report", outdir, "-q")
    assert status == 0, err
    _, again = checked(outdir / "report.html")
    assert [row.get("notes") for row in again["rows"]] == [notes[r["name"]] for r in again["rows"]]
    browser.get((outdir / "report.html").as_uri())
    wait_for(browser, "return window.nmfaudioReport")
    assert errors_in_console(browser) == []


def test_references_of_another_length_are_refused_before_any_work(capsys, tmp_path,
                                                                   example_mixture):  # fmt: skip
    reference = tmp_path / "ref"
    reference.mkdir()
    y, sr = sf.read(example_mixture)
    sf.write(reference / "bass.wav", y[: len(y) // 2], sr)
    code, _, err = run(capsys, "separate", example_mixture, "--report", "--reference", reference,
                       "-o", tmp_path / "o", *FAST)  # fmt: skip
    assert code == 1 and err.count("\n") == 1
    assert "the references are" in err and "needs the true parts of this input" in err
    assert not (tmp_path / "o").exists()
    assert run(capsys, "separate", example_mixture, "-k", "2", "-o", tmp_path / "o", *FAST)[0] == 0
    code, _, err = run(capsys, "report", tmp_path / "o", "--reference", reference)
    assert code == 1 and "the references are" in err and err.count("\n") == 1
    assert not (tmp_path / "o" / "report.html").exists()
    sf.write(reference / "drums.wav", y, sr)
    code, _, err = run(capsys, "report", tmp_path / "o", "--reference", reference)
    assert code == 1 and "the references differ in length" in err


def test_references_at_another_rate_are_scored_at_the_input_rate(capsys, tmp_path,
                                                                 example_mixture):  # fmt: skip
    """A 22.05 kHz run reporting against 48 kHz references: scored, not refused after the work."""
    import librosa

    reference = tmp_path / "ref"
    reference.mkdir()
    for name in ("bass", "drums", "melody"):
        y, sr = sf.read(REPO / "data/example" / f"{name}.wav")
        y = librosa.resample(y, orig_sr=sr, target_sr=48000, axis=0)
        sf.write(reference / f"{name}.wav", y, 48000)
    code, _, err = run(capsys, "separate", example_mixture, "--sources", "3", "--report",
                       "--reference", reference, "-o", tmp_path / "o", *FAST)  # fmt: skip
    assert code == 0, err
    _, data = checked(tmp_path / "o" / "report.html")
    at_48k = {s["reference"]: s["sdr"] for s in data["evaluation"]["sources"]}
    # The same parts against those references brought to 22.05 kHz first: the same scores. (Not
    # the originals': the round trip through 48 kHz alone costs the drums' noise 17 dB SNR.)
    mixture = sf.info(example_mixture)
    at_input_rate = tmp_path / "ref_at_input_rate"
    at_input_rate.mkdir()
    for name in at_48k:
        y, _ = sf.read(reference / f"{name}.wav")
        y = librosa.resample(y, orig_sr=48000, target_sr=mixture.samplerate, axis=0)
        y = librosa.util.fix_length(y, size=mixture.frames, axis=0)
        sf.write(at_input_rate / f"{name}.wav", y, mixture.samplerate, subtype="FLOAT")
    code, _, err = run(capsys, "report", tmp_path / "o", "--reference", at_input_rate)
    assert code == 0, err
    _, data = checked(tmp_path / "o" / "report.html")
    at_22k = {s["reference"]: s["sdr"] for s in data["evaluation"]["sources"]}
    assert sorted(at_48k) == ["bass", "drums", "melody"] and at_48k.keys() == at_22k.keys()
    for name, sdr in at_48k.items():
        assert sdr == pytest.approx(at_22k[name], abs=0.05), name
