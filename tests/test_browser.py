"""The live widgets in a real JupyterLab and a real Chromium: the chart grows, the table lists who is online."""

from __future__ import annotations

import json
import shutil
import sys
import time

import pytest
from browser_support import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    JupyterLab,
    chromium_executable,
    require_jupyterlab,
    require_playwright,
    write_notebook,
)
from support import ROOT, timeout

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

DOCS_IMAGES = ROOT / "docs" / "images"
NOTEBOOK = "live-widgets.ipynb"
ME = "notebook-user"
BOTS = {"bot-ada": "Ada", "bot-grace": "Grace", "bot-linus": "Linus", "bot-guido": "Guido"}
DONE_MARK = "ALL CELLS RAN"

CELLS = [
    f"""
import sys
import pusher_nb

# the local server on the kernel's loop: one market at 10 trades/s, and the chat bots
server = await pusher_nb.LocalServer.start(
    port=0, feeds={{"crypto": {{"symbols": ["BTC-USD"], "rate": 10}}, "chat": {{}}}}
)
client = server.client(user_data={{"user_id": "{ME}", "user_info": {{"name": "You"}}}})
await client.connect()
print("kernel prefix:", sys.prefix)
""",
    """
trades = await client.subscribe("crypto-trades")
frame = pusher_nb.LiveFrame(trades, events="trade")
pusher_nb.LiveChart(frame, y="price", title="BTC-USD trades, live", window=500, height=320)
""",
    """
room = await client.subscribe("presence-chat")
pusher_nb.PresenceTable(room)
""",
    f"""
await frame.wait(rows=5, timeout=30)
print("{DONE_MARK}:", len(frame), "trades,", room.members.count, "members")
""",
]

POINTS_JS = """() => {
  const plot = document.querySelector('.js-plotly-plot');
  if (!plot || !plot.data || !plot.data[0] || !plot.data[0].x) return -1;
  return plot.data[0].x.length;
}"""

# rows of the presence table: [[user_id cell, name cell, ...], ...], header row left out
TABLE_JS = """(output) => {
  const table = output.querySelector('table');
  if (!table) return null;
  return Array.from(table.querySelectorAll('tr')).slice(1).map(
    (tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent.trim()));
}"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab on a free port with a random token, reachable only from this machine."""
    chromium_executable()
    require_playwright()
    require_jupyterlab()
    server = JupyterLab(tmp_path_factory.mktemp("jupyterlab")).start()
    yield server
    server.stop()


@pytest.fixture
def browser_page(lab, tmp_path):
    """A fresh Chromium profile on a page that can reach nothing but 127.0.0.1."""
    sync_playwright = require_playwright()
    blocked: list[str] = []
    problems: list[str] = []
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=chromium_executable(),
            headless=False,  # --headless=new is in the arguments
            args=CHROMIUM_ARGS,
            viewport={"width": 1100, "height": 1000},
            timeout=timeout(30) * 1000,
        )

        def route(route_, request):
            if request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")):
                route_.continue_()
            else:
                blocked.append(request.url)
                route_.abort()

        context.route("**/*", route)
        context.set_default_timeout(timeout(30) * 1000)
        page = context.pages[0] if context.pages else context.new_page()
        page.on(
            "console",
            lambda msg: problems.append(f"console.{msg.type}: {msg.text}")
            if msg.type in ("error", "warning")
            else None,
        )
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.blocked_requests = blocked
        page.problems = problems
        try:
            yield page
        finally:
            context.close()


def _wait(condition, seconds: float, interval: float = 0.25):
    """Poll ``condition()`` until truthy; return its value, or None after the scaled timeout."""
    deadline = time.monotonic() + timeout(seconds)
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            return None
        time.sleep(interval)


def _cell(page, index: int):
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def _diagnosis(page, cell_index: int) -> str:
    """What the cell shows instead of a widget, and what the page logged."""
    text = _cell(page, cell_index).locator(".jp-OutputArea").inner_text(timeout=5000)
    return (
        f"cell {cell_index} output: {text!r}\n"
        + "\n".join(page.problems[-15:])
        + "\n(check `.venv/bin/python -m jupyter labextension list` for anywidget and "
        "jupyterlab-plotly)"
    )


def _save(locator, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    locator.screenshot(path=str(ARTIFACTS / name), animations="disabled")


def test_live_chart_and_presence_table_in_jupyterlab(lab, browser_page):
    """Run a notebook in JupyterLab: the LiveChart's points grow, the PresenceTable lists everyone."""
    page = browser_page
    specs = lab.kernelspecs()["kernelspecs"]
    assert "python3" in specs, specs
    write_notebook(lab.root / NOTEBOOK, CELLS)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    page.goto(lab.notebook_url(NOTEBOOK))
    page.locator(".jp-Notebook .jp-Cell").nth(len(CELLS) - 1).wait_for()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    page.mouse.move(0, 0)  # no hover labels in the screenshots

    done = page.locator(".jp-OutputArea-output", has_text=DONE_MARK)
    try:
        done.wait_for(timeout=timeout(60) * 1000)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "not-finished.png"))
        outputs = page.locator(".jp-Notebook").inner_text()
        pytest.fail(f"the notebook did not finish:\n{outputs}\n" + "\n".join(page.problems[-15:]))
    first_output = _cell(page, 0).locator(".jp-OutputArea").inner_text()
    assert f"kernel prefix: {sys.prefix}" in first_output, first_output

    # -- the chart: a Plotly FigureWidget whose trace grows as trades arrive
    plot = _cell(page, 1).locator(".js-plotly-plot")
    try:
        plot.wait_for(timeout=timeout(20) * 1000)
    except Exception:
        pytest.fail("the LiveChart did not render:\n" + _diagnosis(page, 1))
    assert _wait(lambda: page.evaluate(POINTS_JS) > 0, 10), "the chart has no points\n" + _diagnosis(page, 1)
    samples: list[tuple[float, int]] = []
    start = time.monotonic()
    for _ in range(6):
        samples.append((round(time.monotonic() - start, 2), page.evaluate(POINTS_JS)))
        time.sleep(1.0)
    counts = [count for _, count in samples]
    assert counts == sorted(counts), f"the point count went down: {samples}"
    # 10 trades/s for 5 s: about 50 new points; a redraw at most every 0.1 s
    assert counts[-1] - counts[0] >= 15, f"the chart hardly grew: {samples}"
    assert _cell(page, 1).locator(".jp-OutputArea").get_by_text("⚠").count() == 0, _diagnosis(page, 1)
    _wait(lambda: page.evaluate(POINTS_JS) >= 100, 10)  # a fuller line for the picture
    page.mouse.move(0, 0)
    final_points = page.evaluate(POINTS_JS)
    _save(_cell(page, 1), "live-chart.png")

    # -- the presence table: the four bots and this notebook's user, marked as me
    output = _cell(page, 2).locator(".jp-OutputArea-output").first
    expected = {**BOTS, ME: "You"}
    seen: dict[str, str] = {}
    last_rows: list = []

    def everyone_listed():
        nonlocal last_rows
        rows = output.evaluate(TABLE_JS) or []
        last_rows = rows
        for row in rows:
            if len(row) >= 2:
                seen[row[0]] = row[1]
        ids = {row[0] for row in rows if row}
        return ids == {*BOTS, f"{ME} (me)"}

    # a bot sometimes leaves for a few seconds and comes back: wait for a moment with all five
    listed = _wait(everyone_listed, 30, interval=0.5)
    assert listed, f"not everyone was listed; last rows {last_rows}, seen {seen}\n" + _diagnosis(page, 2)
    names = {row[0].removesuffix(" (me)"): row[1] for row in last_rows}
    assert names == expected, last_rows
    header = output.inner_text()
    assert "presence-chat" in header and "5 online" in header, header
    page.mouse.move(0, 0)
    _save(_cell(page, 2), "presence-table.png")
    page.screenshot(path=str(ARTIFACTS / "jupyterlab.png"))

    # -- figures for the report, and the two pictures the README shows
    figures = {
        "point_counts": samples,
        "points_at_screenshot": final_points,
        "members": last_rows,
        "blocked_requests": page.blocked_requests,
        "page_problems": page.problems,
    }
    (ARTIFACTS / "browser-figures.json").write_text(json.dumps(figures, indent=1))
    print(json.dumps(figures, indent=1))
    DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
    for name in ("live-chart.png", "presence-table.png"):
        size = (ARTIFACTS / name).stat().st_size
        assert size < 300_000, f"{name} is {size} bytes"
        shutil.copyfile(ARTIFACTS / name, DOCS_IMAGES / name)
