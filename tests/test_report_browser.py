"""The reports in a real browser: headless Chromium (Debian's ``chromium`` package) opens each page
from disk, offline, runs its script, and the test reads the DOM it leaves and a screenshot.

The page counts its own script errors (``<body data-script-errors>``, a red banner) and the
thumbnails it decoded (``data-images-shown``); Chromium's console log is checked too. A page
with a broken script, made here on purpose, shows that the check can fail.

Where no Chromium is installed the tests skip, saying so; ``.ci/run`` installs it.
Set ``MEDR1_REPORT_SCREENSHOTS=DIR`` to keep the screenshots.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from report_dirs import make_eval_dir, make_experiment_dir, make_run_dir
from test_report import Page

from medr1_core.report import write_report

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs a Chromium browser: apt-get install -y chromium (.ci/run installs it)")

#: Headless, offline, and nothing that phones home (this machine's network is closed).
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--hide-scrollbars", "--virtual-time-budget=15000",
         "--enable-logging=stderr", "--v=0"]


def browse(page: Path, profile: Path, *args: str, fragment: str = "") -> subprocess.CompletedProcess:
    url = page.resolve().as_uri() + (f"#{fragment}" if fragment else "")
    proc = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args, url],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def rendered(page: Path, tmp_path: Path, fragment: str = "") -> tuple[Page, str, str]:
    """The DOM Chromium leaves once the page's script ran, and its console log."""
    proc = browse(page, tmp_path / "profile", "--dump-dom", fragment=fragment)
    dom = proc.stdout
    body = re.search(r"<body([^>]*)>", dom).group(1)
    return Page(dom), body, proc.stderr


def console_errors(log: str) -> list[str]:
    return [line for line in log.splitlines() if "CONSOLE" in line and ("Uncaught" in line or "Error" in line)]


def screenshot(page: Path, tmp_path: Path, name: str, size: str = "1280,1800") -> Path:
    shot = tmp_path / f"{name}.png"
    browse(page, tmp_path / "profile-shot", f"--window-size={size}", f"--screenshot={shot}")
    keep = os.environ.get("MEDR1_REPORT_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)
    return shot


def visible_items(page: Page) -> list[dict]:
    return [a for a in page.find("div", **{"class": "item"}) if "hidden" not in a]


def test_run_report_renders_its_curves_and_images_without_script_errors(tmp_path):
    from PIL import Image

    report = write_report(make_run_dir(tmp_path))
    page, body, log = rendered(report, tmp_path)
    assert 'data-rendered="1"' in body and 'data-script-errors="0"' in body, body
    assert 'data-images-shown="24"' in body  # every card's thumbnail decoded (2 images, 24 cards)
    assert console_errors(log) == []
    assert page.find("div", id="medr1-errors")[0].get("hidden") is not None
    assert len(page.find("polyline")) >= 4 and len(page.find("figure", **{"class": "chart"})) >= 5
    thumbs = page.find("img", **{"class": "thumb"})
    assert thumbs and all(t.get("src", "").startswith("data:image/jpeg;base64,") for t in thumbs)
    assert len(visible_items(page)) == 24  # 12 steps x 2 questions: one page of cards
    # the shot: the curve and an image are on screen, in colour
    shot = Image.open(screenshot(report, tmp_path, "run-report", size="1280,2600")).convert("RGB")
    colors = shot.getcolors(maxcolors=1 << 20)
    assert colors is not None and len(colors) > 200
    line_blue = sum(n for n, c in colors if abs(c[0] - 0x4e) < 12 and abs(c[1] - 0x79) < 12 and abs(c[2] - 0xa7) < 12)
    assert line_blue > 100  # the first curve's colour is drawn


def test_run_report_filters_by_reward_outcome_from_its_link(tmp_path):
    run = make_run_dir(tmp_path)
    report = write_report(run)
    rows = [json.loads(line) for line in (run / "completions.jsonl").read_text().splitlines()]
    expected = {(str(r["step"]), r["id"]) for r in rows if r["rewards"]["format"] == 0.0}
    assert 0 < len(expected) < 24
    page, body, _ = rendered(report, tmp_path, fragment="outcome=format:zero")
    assert 'data-script-errors="0"' in body
    assert {(a["data-step"], a["data-id"]) for a in visible_items(page)} == expected
    entries = [e for e in page.find("div", **{"class": "entry"}) if "hidden" not in e]
    assert entries and all("format:zero" in e["data-outcomes"] for e in entries)


def test_eval_report_renders_each_question_with_its_image(tmp_path):
    report = write_report(make_eval_dir(tmp_path))
    page, body, log = rendered(report, tmp_path)
    assert 'data-rendered="1"' in body and 'data-script-errors="0"' in body and 'data-images-shown="3"' in body
    assert console_errors(log) == []
    page, body, _ = rendered(report, tmp_path, fragment="outcome=no-answer")
    assert [a["data-outcomes"] for a in visible_items(page)] == ["no-answer"]
    screenshot(report, tmp_path, "eval-report", size="1280,1400")


def test_experiment_report_renders(tmp_path):
    report = write_report(make_experiment_dir(tmp_path))
    page, body, log = rendered(report, tmp_path)
    assert 'data-rendered="1"' in body and 'data-script-errors="0"' in body
    assert console_errors(log) == []
    assert any(i.get("src", "").startswith("data:image/png;base64,") for i in page.find("img"))
    screenshot(report, tmp_path, "experiment-report", size="1280,1100")


def test_a_script_error_shows_on_the_page_and_fails_the_check(tmp_path):
    report = write_report(make_eval_dir(tmp_path))
    broken = tmp_path / "broken.html"
    broken.write_text(report.read_text().replace("</body>", "<script>noSuchFunction();</script></body>"))
    page, body, log = rendered(broken, tmp_path)
    assert 'data-script-errors="1"' in body
    banner = page.find("div", id="medr1-errors")[0]
    assert banner.get("hidden") is None
    assert console_errors(log)
