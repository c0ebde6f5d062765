"""The dashboard in a real browser: `streamlit run` + Debian's headless Chromium via Playwright.

Streamlit serves an empty shell and renders over a websocket, so each page is awaited by a text
that only that page shows, never by a fixed sleep. Screenshots land in a pytest tmp folder
(paths printed; run with ``-s`` to see them) with the time to first render per page.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from dashboard import ui
from pipeline.lib import contract, paths
from pipeline.lib.labels import PROFESSIONS
from tests.conftest import DEMO_PARAMS, REPO, stage_env

# The LoRA run a one-run page shows first: the first training seed's.
FIRST = paths.run_name("lora", DEMO_PARAMS["seeds"]["train"][0])
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--metrics-recording-only",
]
EVIL_BIO = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2"> **bold**'
# url path -> a text only that page shows, placed at its END (the script ran to completion).
PAGES = {
    "": "Experiments: compare DVC runs",  # the last page link
    "professions": "Download proxy as CSV",
    "significance": f"Download gap tests {FIRST} as CSV",
    "seeds": "Download gaps over seeds lora as CSV",
    "calibration": "Download calibration as CSV",
    "probes": "Download probes removed by profession as CSV",
    "mitigation": "Download leakage as CSV",
    "examples": "predictions as CSV",
    "training": "Compare the curves of several experiments",
    "try_bio": "A model that reads the gendered words flips",
    "experiments": "dvc exp run -S lora.r=16",
}
RENDERED_JS = """() =>
    !document.querySelector('[data-testid="stStatusWidget"], [data-testid="stSkeleton"]')
    && [...document.querySelectorAll('img')].every(i => i.complete && i.naturalWidth > 0)
    && [...document.querySelectorAll('[data-testid="stDataFrame"]')]
        .filter(e => e.checkVisibility())
        .every(e => e.querySelector('canvas'))"""
SERVER_START_S = 90
PAGE_RENDER_MS = 60_000

pytestmark = pytest.mark.browser


def chromium_path() -> str:
    for candidate in CHROMIUM_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("chromium")
    if found:
        return found
    pytest.skip(
        "Debian's Chromium is not installed (/usr/bin/chromium): run `make setup` as root "
        "(it runs `apt-get install -y chromium`) to enable the browser test"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def browser_study(tmp_path_factory, results_study) -> Path:
    """The results fixture with one bio rewritten to carry HTML, a script and markdown."""
    study = Path(shutil.copytree(results_study, tmp_path_factory.mktemp("browser") / "study"))
    split_file = study / paths.split_path("test")
    split = pd.read_parquet(split_file)
    split.loc[0, "text"] = EVIL_BIO
    split.to_parquet(split_file, index=False)
    return study


@pytest.fixture(scope="module")
def server(browser_study, tmp_path_factory):
    """A `streamlit run` of the dashboard on a free loopback port; always terminated."""
    with serve(browser_study, tmp_path_factory) as url:
        yield url


@pytest.fixture(scope="module")
def occupation_server(occupation_study, tmp_path_factory):
    """The same for the occupation demo's study (``task: occupation``)."""
    with serve(occupation_study, tmp_path_factory) as url:
        yield url


@contextlib.contextmanager
def serve(study: Path, tmp_path_factory):
    """Run `streamlit run dashboard/app.py -- --study STUDY`; yield its url once it is healthy."""
    port = free_port()
    log = (tmp_path_factory.mktemp("server") / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(REPO / "dashboard/app.py"),
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
            "--",
            "--study",
            str(study),
        ],
        cwd=REPO,
        env={**stage_env(), "BIOS_STUDY": ""},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"streamlit did not start:\n{Path(log.name).read_text()}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Debian's Chromium, headless, launched by Playwright (never a browser download)."""
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1800},
            timeout=60_000,
        )
        try:
            yield context
        finally:
            context.close()


def test_every_page_renders_without_error(server, browser, tmp_path_factory):
    shots = tmp_path_factory.mktemp("screenshots")
    page = browser.new_page()
    timings = {}
    for url_path, marker in PAGES.items():
        name = url_path or "overview"
        started = time.monotonic()
        page.goto(f"{server}/{url_path}", wait_until="domcontentloaded", timeout=PAGE_RENDER_MS)
        page.get_by_text(marker, exact=False).first.wait_for(
            state="visible", timeout=PAGE_RENDER_MS
        )
        first = time.monotonic() - started
        # Figures arrive as separate image requests and tables draw on a canvas after the
        # element appears: wait for both, or the screenshot shows empty frames.
        page.wait_for_function(RENDERED_JS, timeout=PAGE_RENDER_MS)
        timings[name] = (first, time.monotonic() - started)
        assert page.locator('[data-testid="stException"]').count() == 0, name
        shot = shots / f"{name}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        print(
            f"{name}: first render {first:.2f} s, fully drawn {timings[name][1]:.2f} s, "
            f"screenshot {shot}"
        )
    assert page.evaluate("window.__xss") is None  # no script from a bio ever ran


def test_bio_html_is_text_in_the_browser(server, browser):
    page = browser.new_page()
    page.goto(f"{server}/examples", timeout=PAGE_RENDER_MS)
    page.get_by_text("Read one bio").wait_for(timeout=PAGE_RENDER_MS)
    # The bio shown as text (the table above holds it too, in a canvas grid's hidden cells).
    page.locator('[data-testid="stText"]', has_text="**bold**").first.wait_for(
        timeout=PAGE_RENDER_MS
    )
    assert page.evaluate("window.__xss") is None
    assert page.locator('[data-testid="stText"]', has_text="<script>").count() >= 1
    assert page.locator("strong", has_text="bold").count() == 0


def test_try_a_bio_scores_what_you_type(server, browser):
    page = browser.new_page()
    page.goto(f"{server}/try_bio", timeout=PAGE_RENDER_MS)
    page.get_by_text("A model that reads the gendered words flips").wait_for(timeout=PAGE_RENDER_MS)
    bio = "He is a surgeon in Leeds <b>and</b> plays the cello."
    box = page.get_by_role("textbox", name="Bio")
    box.fill(bio)
    box.press("Control+Enter")  # a Streamlit text area commits on Ctrl+Enter
    page.locator('[data-testid="stText"]', has_text="She is a surgeon in Leeds").wait_for(
        timeout=PAGE_RENDER_MS
    )
    page.wait_for_function(RENDERED_JS, timeout=PAGE_RENDER_MS)
    assert page.locator('[data-testid="stText"]', has_text="<b>and</b>").count() == 3
    assert page.locator('[data-testid="stDataFrame"]').count() >= 1
    assert page.locator('[data-testid="stException"]').count() == 0


def test_the_html_report_is_self_contained_and_opens_offline(browser_study, browser):
    report = browser_study / paths.ANALYSIS_REPORT_HTML
    text = report.read_text()
    # no network resource: every src/href is a data URI or an in-page anchor
    links = re.findall(r'(?:src|href)="([^"]*)"', text)
    assert links and all(link.startswith(("data:", "#")) for link in links), links[:5]
    page = browser.new_page()
    problems, requests = [], []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report.as_uri(), timeout=PAGE_RENDER_MS)
    page.wait_for_function(
        "() => [...document.images].every(i => i.complete && i.naturalWidth > 0)",
        timeout=PAGE_RENDER_MS,
    )
    assert problems == []
    assert [url for url in requests if not url.startswith(("file:", "data:"))] == []
    assert page.locator("img").count() >= 5
    assert page.get_by_text("SYNTHETIC DATA").first.is_visible()
    # its headline numbers are metrics.json's
    metrics = json.loads((browser_study / paths.ANALYSIS_METRICS).read_text())
    body = page.inner_text("body")
    for name, entry in metrics.items():
        # "primary" and a seeded procedure ("lora": means over seeds) are not table rows; each
        # of the procedure's runs (lora@seed<n>) is
        if name != "primary" and "n_seeds" not in entry:
            assert f"| {name} |" not in body  # a table, not markdown source
            assert f"{entry['accuracy']:.3f} [{entry['accuracy_ci_low']:.3f}" in body, name
    shot = report.parent / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"report screenshot {shot}")


def test_the_answer_is_on_the_overview_first_screen(server, browser, browser_study):
    """At 1400x900 the procedure-level verdict is visible without scrolling."""
    verdict = pd.read_csv(browser_study / contract.TABLES["procedure"].file())["verdict"].iloc[0]
    page = browser.new_page()
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(server, wait_until="domcontentloaded", timeout=PAGE_RENDER_MS)
    page.get_by_text(PAGES[""], exact=False).first.wait_for(state="visible", timeout=PAGE_RENDER_MS)
    page.wait_for_function(RENDERED_JS, timeout=PAGE_RENDER_MS)
    shown = page.get_by_text(verdict, exact=True).first
    box = shown.bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 900, box
    assert page.evaluate("window.scrollY") == 0
    assert page.get_by_text("some are missing").count() == 0


def test_every_page_of_an_occupation_study_renders_and_names_the_task(
    occupation_server, browser, occupation_study, tmp_path_factory
):
    # The occupation demo's study: each page opens with the task line and draws without an
    # error; the overview's first screen (1400x900) holds both verdicts, accuracy and GAP^RMS.
    shots = tmp_path_factory.mktemp("occupation-screenshots")
    task_line = ui.TASK_LINES["occupation"].format(n=len(PROFESSIONS)).split("**")[-1].strip()
    page = browser.new_page()
    page.set_viewport_size({"width": 1400, "height": 900})
    for name, _, _, _ in ui.PAGES:
        url_path = "" if name == "overview" else name
        page.goto(f"{occupation_server}/{url_path}", timeout=PAGE_RENDER_MS)
        page.get_by_text(task_line, exact=False).first.wait_for(timeout=PAGE_RENDER_MS)
        page.wait_for_function(RENDERED_JS, timeout=PAGE_RENDER_MS)
        assert page.locator('[data-testid="stException"]').count() == 0, name
        if name == "overview":
            for table in ("procedure", "gap_rms"):
                verdict = pd.read_csv(occupation_study / contract.TABLES[table].file())
                shown = page.get_by_text(verdict["verdict"].iloc[0], exact=True).first
                box = shown.bounding_box()
                assert box is not None and 0 <= box["y"] <= 900 - box["height"], (table, box)
        shot = shots / f"{name}.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"occupation {name}: screenshot {shot}")
