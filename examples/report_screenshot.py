"""Separate the example with a listening report and take a screenshot of it, as in the README.

    python examples/report_screenshot.py [OUTPUT.png]

Runs ``nmfaudio separate data/example/mixture.wav --sources 3 --report`` into a
temporary folder, opens the page in headless Chromium (Debian: ``apt-get install
chromium chromium-driver``; ``pip install selenium``), solos the first source,
plays a second and saves the window (default OUTPUT: examples/report.png).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from nmfaudio.cli import main as nmfaudio

HERE = Path(__file__).resolve().parent


def main() -> None:
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "report.png"
    with tempfile.TemporaryDirectory() as folder:
        outdir = Path(folder) / "example_sources"
        mixture = HERE.parent / "data" / "example" / "mixture.wav"
        nmfaudio(["separate", str(mixture), "--sources", "3", "--report", "-o", str(outdir), "-q"])
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1300,640",
                     "--autoplay-policy=no-user-gesture-required"):  # fmt: skip
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        try:
            driver.get((outdir / "report.html").as_uri())
            body = driver.find_element(By.TAG_NAME, "body")
            body.send_keys("1")  # solo the first source
            body.send_keys(" ")  # play
            time.sleep(1.5)
            driver.save_screenshot(str(output))
        finally:
            driver.quit()
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
