"""The pages in a real headless Chromium (selenium + chromedriver): every node present and
visible, no console error, no request leaving the page; a 1,000-task graph loads, pans and
zooms, and its foreach is one node with a count.

Skips, saying why, when chromium, chromedriver or selenium is missing. With
TETHER_WRITE_DOCS_PNG=1 it also writes docs/graph.png and docs/report.png from the pages.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "specs" / "examples"
RUN_SPECS = Path(__file__).resolve().parent / "run_specs"

# Every node's box is laid out, non-empty, not hidden, and inside the SVG's viewport.
_INVISIBLE = """
const svg = document.querySelector('svg.dag'); const view = svg.getBoundingClientRect();
const bad = [];
for (const g of svg.querySelectorAll('.nodes [data-node]')) {
  const r = g.querySelector('rect.box').getBoundingClientRect(); const s = getComputedStyle(g);
  const inside = r.left >= view.left - 1 && r.right <= view.right + 1 && r.top >= view.top - 1 && r.bottom <= view.bottom + 1;
  if (!(r.width > 0 && r.height > 0 && s.visibility === 'visible' && s.display !== 'none' && inside)) bad.push(g.dataset.node);
}
return bad;
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        pytest.skip("chromium or chromedriver is missing (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    profile = tempfile.mkdtemp(prefix="tether-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1280,900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_path))
    try:
        driver.get("about:blank")  # start-up pages done before the first test's page
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _open(driver: Any, page: Path) -> str:
    """Load `page`; fail on any console error or any request other than the page itself."""
    import json

    driver.get_log("browser"), driver.get_log("performance")  # drain what came before
    url = page.resolve().as_uri()
    driver.get(url)
    errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []
    requests = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        # Only what this page asked for: the browser's own start-up pages (chrome://new-tab-page
        # and its resources) can still be logging when the first test runs.
        if message["method"] == "Network.requestWillBeSent" and message["params"].get("documentURL") == url:
            requests.append(message["params"]["request"]["url"])
    assert [r for r in requests if r != url and not r.startswith("data:")] == []
    return url


def _nodes(driver: Any) -> set[str]:
    return set(driver.execute_script("return [...document.querySelectorAll('svg.dag .nodes [data-node]')].map(g => g.dataset.node)"))


def _graph_html(spec: str, out: Path) -> None:
    from tether.cli import main

    assert main(["graph", spec, "--format", "html", "-o", str(out)]) == 0


@pytest.mark.parametrize("stem", ["ml_training", "etl_conditional", "containers"])
def test_graph_pages(browser: Any, stem: str, tmp_path: Path) -> None:
    from tether.compiler.load import load

    page = tmp_path / f"{stem}.html"
    _graph_html(str(EXAMPLES / f"{stem}.yaml"), page)
    _open(browser, page)
    workflow = load(str(EXAMPLES / f"{stem}.yaml")).workflow
    assert workflow is not None
    assert _nodes(browser) == {t.name for t in workflow.tasks}
    assert browser.execute_script(_INVISIBLE) == []
    if stem == "ml_training" and os.environ.get("TETHER_WRITE_DOCS_PNG"):
        browser.set_window_size(1280, 640)
        browser.save_screenshot(str(ROOT / "docs" / "graph.png"))
        browser.set_window_size(1280, 900)


def test_report_page(browser: Any, tmp_path: Path, tether_env: dict[str, str]) -> None:
    for name in ("steps.py", "resumable.yaml"):
        shutil.copy(RUN_SPECS / name, tmp_path / name)
    page = tmp_path / "report.html"
    done = subprocess.run(
        [sys.executable, "-m", "tether", "run", "resumable.yaml", "--store", "st", "--interrupt", "train@1",
         "--interrupt", "train@2", "-p", "steps=8", "--report", str(page)],
        cwd=tmp_path, env=tether_env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    _open(browser, page)
    assert _nodes(browser) == {"prepare", "train"}
    assert browser.execute_script(_INVISIBLE) == []
    outcomes = browser.execute_script("return [...document.querySelectorAll('.timeline [data-outcome]')].map(g => g.dataset.outcome)")
    assert outcomes == ["success", "interrupted", "interrupted", "success"]
    statuses = browser.execute_script("return [...document.querySelectorAll('svg.dag .node')].map(g => g.dataset.status)")
    assert statuses == ["done", "done"]
    if os.environ.get("TETHER_WRITE_DOCS_PNG"):
        browser.set_window_size(1280, 1000)
        browser.save_screenshot(str(ROOT / "docs" / "report.png"))
        browser.set_window_size(1280, 900)


def _big_spec(path: Path, n: int = 1000) -> None:
    """n tasks: a fan of chains, one foreach of 500 items, and a final join."""
    lines = ["apiVersion: tether/v1", "kind: Workflow", "metadata: {name: big}", "spec:", "  tasks:",
             "    fan:", "      python: steps:square", "      foreach: ${{ [" + ", ".join(map(str, range(500))) + "] }}",
             "      inputs: {x: '${{ item }}'}", "      outputs: {result: int}"]
    for i in range(n - 2):
        lines += [f"    t{i}:", "      python: steps:count_to", "      inputs: {n: 1}", '      outputs: {result: "list[int]"}']
        if i >= 40:
            lines.append(f"      after: [t{i - 40}]")
    lines += ["    join:", "      python: steps:total", "      inputs: {values: '${{ tasks.fan.outputs.result }}'}",
              "      outputs: {result: int}", "      after: [t" + str(n - 3) + "]"]
    path.write_text("\n".join(lines) + "\n")


def test_a_thousand_tasks_pan_and_zoom(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions.wheel_input import ScrollOrigin

    spec, page = tmp_path / "big.yaml", tmp_path / "big.html"
    _big_spec(spec)
    _graph_html(str(spec), page)
    _open(browser, page)
    assert len(_nodes(browser)) == 1000
    assert browser.execute_script(_INVISIBLE) == []
    fan = browser.execute_script("const g = document.querySelector('[data-node=\"fan\"]'); return [g.classList.contains('foreach'), g.querySelector('text.count').textContent]")
    assert fan == [True, "×500"]
    svg = browser.find_element("css selector", "svg.dag")

    def view_box() -> list[float]:
        return [float(v) for v in browser.execute_script("return arguments[0].getAttribute('viewBox')", svg).split()]

    before = view_box()
    ActionChains(browser).scroll_from_origin(ScrollOrigin.from_element(svg), 0, -400).perform()
    zoomed = view_box()
    assert zoomed[2] < before[2] and zoomed[3] < before[3]  # zoomed in: a smaller part of the graph
    ActionChains(browser).move_to_element(svg).click_and_hold().move_by_offset(120, 60).release().perform()
    panned = view_box()
    assert panned[0] < zoomed[0] and panned[1] < zoomed[1] and panned[2:] == zoomed[2:]
    browser.find_element("css selector", "[data-zoom=fit]").click()
    assert view_box() == pytest.approx(before, abs=0.01)


def test_the_checks_catch_a_page_that_reaches_out_or_logs_an_error(browser: Any, tmp_path: Path) -> None:
    """Guards the guards: a request to another origin, or a console error, fails `_open`."""
    reaching = tmp_path / "reaching.html"
    reaching.write_text('<!doctype html><img src="http://127.0.0.1:9/nothing.png">', encoding="utf-8")
    with pytest.raises(AssertionError):
        _open(browser, reaching)
    noisy = tmp_path / "noisy.html"
    noisy.write_text("<!doctype html><script>console.error('boom')</script>", encoding="utf-8")
    with pytest.raises(AssertionError):
        _open(browser, noisy)
