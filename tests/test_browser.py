"""The live widgets in a real JupyterLab and a real Chromium: the chart grows, the table lists who is online.

One notebook runs for the whole module: it starts the local server on the kernel's loop with the
crypto and chat feeds, shows a LiveChart of the trades and a PresenceTable of the chat room. The
tests read what the page shows. Screenshots go to tests/.artifacts/; with
PUSHER_NB_UPDATE_DOCS_IMAGES=1 the chart and the table are also copied to docs/images/.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field

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

pytestmark = [pytest.mark.browser, pytest.mark.timeout(int(timeout(120)))]

DOCS_IMAGES = ROOT / "docs" / "images"
NOTEBOOK = "live-widgets.ipynb"
ME = "notebook-user"
BOTS = {"bot-ada": "Ada", "bot-grace": "Grace", "bot-linus": "Linus", "bot-guido": "Guido"}
DONE_MARK = "ALL CELLS RAN"
CHART_CELL, TABLE_CELL = 1, 2

CELLS = [
    f"""
import sys
import pusher_nb

# the local server on the kernel's loop: one market at 25 trades/s, and the chat bots
feeds = {{"crypto": {{"symbols": ["BTC-USD"], "rate": 25}}, "chat": {{}}}}
server = await pusher_nb.LocalServer.start(port=0, feeds=feeds)
client = server.client(user_data={{"user_id": "{ME}", "user_info": {{"name": "You"}}}})
await client.connect()
print("kernel prefix:", sys.prefix)
""",
    """
trades = await client.subscribe("crypto-trades")
frame = pusher_nb.LiveFrame(trades, events="trade")
pusher_nb.LiveChart(frame, y="price", title="BTC-USD trades", window=1000, height=320)
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

GUEST_JOINS = """
guest = server.client(user_data={"user_id": "guest", "user_info": {"name": "Guest"}})
await guest.connect()
await guest.subscribe("presence-chat")
print("GUEST IN")
"""
GUEST_LEAVES = """
await guest.close()
print("GUEST OUT")
"""

PLOT_JS = """(plot) => {
  const trace = plot.data && plot.data[0];
  const xs = trace && trace.x;
  return {
    points: xs ? xs.length : -1,
    last_x: xs && xs.length ? Number(xs[xs.length - 1]) : null,
    now: Date.now(),
    axis_type: plot._fullLayout && plot._fullLayout.xaxis ? plot._fullLayout.xaxis.type : null,
    tick_labels: Array.from(plot.querySelectorAll('.xtick text')).map((t) => t.textContent),
  };
}"""

# how many times Plotly redrew the chart in ``ms`` milliseconds
COUNT_REDRAWS_JS = """(plot, ms) => new Promise((resolve) => {
  let count = 0;
  const count_one = () => { count += 1; };
  plot.on('plotly_afterplot', count_one);
  setTimeout(() => { plot.removeListener('plotly_afterplot', count_one); resolve(count); }, ms);
})"""

# rows of the presence table as lists of cell texts, the header row left out
TABLE_JS = """(output) => {
  const table = output.querySelector('table');
  if (!table) return null;
  return Array.from(table.querySelectorAll('tr')).slice(1).map(
    (tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent.trim()));
}"""


@dataclass
class RunningNotebook:
    """The page of the notebook after "Run All Cells", and what the tests measured on it."""

    lab: JupyterLab
    page: object
    blocked_requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    figures: dict = field(default_factory=dict)

    def cell(self, index: int):
        return self.page.locator(".jp-Notebook .jp-Cell").nth(index)

    def output_text(self, index: int) -> str:
        return self.cell(index).locator(".jp-OutputArea").inner_text(timeout=5000)

    def diagnosis(self, index: int) -> str:
        """What a cell shows instead of a widget, and what the page logged."""
        return (
            f"cell {index} output: {self.output_text(index)!r}\n"
            + "\n".join(self.problems[-15:])
            + "\n(is the front end there? `.venv/bin/python -m jupyter labextension list` "
            "should list anywidget, jupyterlab-plotly and @jupyter-widgets/jupyterlab-manager)"
        )

    def run_new_cell(self, code: str, mark: str) -> str:
        """Add a cell at the end as a user would, run it, and return its output once ``mark`` shows."""
        page = self.page
        count = page.locator(".jp-Notebook .jp-Cell").count()
        self.cell(count - 1).locator(".jp-InputPrompt").click()  # select it, command mode
        page.keyboard.press("Escape")
        page.keyboard.press("b")  # a new cell below
        new = self.cell(count)
        new.wait_for()
        page.keyboard.press("Enter")  # edit it
        page.keyboard.insert_text(code.strip("\n"))
        page.keyboard.press("Shift+Enter")
        output = new.locator(".jp-OutputArea-output", has_text=mark)
        try:
            output.wait_for(timeout=timeout(20) * 1000)
        except Exception:
            pytest.fail(f"the new cell did not print {mark!r}:\n" + self.diagnosis(count))
        return output.inner_text()

    def screenshot(self, locator, name: str, width: int = 800) -> None:
        """A picture of ``locator``, cut to its left ``width`` pixels (widgets leave the rest blank)."""
        self.page.mouse.move(0, 0)  # no hover labels
        locator.scroll_into_view_if_needed()
        box = locator.bounding_box()
        clip = {**box, "width": min(box["width"], width)}
        self.page.screenshot(path=str(ARTIFACTS / name), clip=clip, animations="disabled")


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


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab on a free port with a random token, reachable only from this machine."""
    chromium_executable()
    require_playwright()
    require_jupyterlab()
    server = JupyterLab(tmp_path_factory.mktemp("jupyterlab")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def notebook(lab, tmp_path_factory):
    """Chromium (a fresh profile, nothing but 127.0.0.1 reachable) on the notebook, all cells run."""
    sync_playwright = require_playwright()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    write_notebook(lab.root / NOTEBOOK, CELLS)
    assert "python3" in lab.kernelspecs()["kernelspecs"]
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=chromium_executable(),
            headless=False,  # --headless=new is among the arguments
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 1000},
            timeout=timeout(30) * 1000,
        )
        try:
            context.set_default_timeout(timeout(30) * 1000)
            page = context.pages[0] if context.pages else context.new_page()
            run = RunningNotebook(lab, page)

            def route(route_, request):
                if request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")):
                    route_.continue_()
                else:
                    run.blocked_requests.append(request.url)
                    route_.abort()

            context.route("**/*", route)
            page.on(
                "console",
                lambda msg: (
                    run.problems.append(f"console.{msg.type}: {msg.text}")
                    if msg.type in ("error", "warning")
                    else None
                ),
            )
            page.on("pageerror", lambda exc: run.problems.append(f"page error: {exc}"))
            _open_and_run_all(run)
            yield run
            run.figures["blocked_requests"] = run.blocked_requests
            run.figures["page_problems"] = run.problems
            (ARTIFACTS / "browser-figures.json").write_text(json.dumps(run.figures, indent=1))
        finally:
            context.close()


def _open_and_run_all(run: RunningNotebook) -> None:
    page = run.page
    page.goto(run.lab.notebook_url(NOTEBOOK))
    # "Run All Cells" does nothing until the notebook has its kernel: wait for the kernel's
    # name in the toolbar and an idle kernel
    page.locator(".jp-Toolbar-kernelName", has_text="Python 3 (ipykernel)").wait_for()
    page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').wait_for()
    if page.locator("#jp-left-stack").is_visible():
        page.keyboard.press("Control+b")  # fold the file browser away: room for the chart
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    page.mouse.move(0, 0)
    try:
        page.locator(".jp-OutputArea-output", has_text=DONE_MARK).wait_for(
            timeout=timeout(60) * 1000
        )
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "not-finished.png"))
        text = page.locator(".jp-Notebook").inner_text()
        pytest.fail(
            "the notebook did not run to its end (see tests/.artifacts/not-finished.png):\n"
            + text
            + "\n"
            + "\n".join(run.problems[-15:])
        )


def test_the_notebook_runs_on_the_venv_kernel(notebook):
    """The kernel JupyterLab started is this interpreter's environment."""
    assert f"kernel prefix: {sys.prefix}" in notebook.output_text(0)


def test_live_chart_grows_in_the_browser(notebook):
    """The Plotly chart renders and its trace gains points as trades arrive."""
    plot = notebook.cell(CHART_CELL).locator(".js-plotly-plot")
    try:
        plot.wait_for(timeout=timeout(20) * 1000)
    except Exception:
        pytest.fail("the LiveChart did not render:\n" + notebook.diagnosis(CHART_CELL))
    state = _wait(lambda: (s := plot.evaluate(PLOT_JS))["points"] > 0 and s, 10)
    assert state, "the chart never got a point\n" + notebook.diagnosis(CHART_CELL)

    samples: list[tuple[float, int]] = []
    start = time.monotonic()
    for _ in range(6):
        samples.append((round(time.monotonic() - start, 2), plot.evaluate(PLOT_JS)["points"]))
        time.sleep(1.0)
    notebook.figures["point_counts"] = samples
    counts = [count for _, count in samples]
    assert counts == sorted(counts), f"the point count went down: {samples}"
    # the feed publishes 25 trades/s: about 125 new points in 5 s
    assert counts[-1] - counts[0] >= 40, f"the chart hardly grew: {samples}"

    before = plot.evaluate(PLOT_JS)["points"]
    redraws = plot.evaluate(COUNT_REDRAWS_JS, 3000)
    added = plot.evaluate(PLOT_JS)["points"] - before
    notebook.figures["in_3s"] = {"browser_redraws": redraws, "points_added": added}
    # 25 trades/s, and LiveChart redraws at most fps=10 times a second whatever the event rate
    assert 0 < redraws <= 36, f"{redraws} redraws in 3 s while {added} points came"

    state = plot.evaluate(PLOT_JS)
    lag = (state["now"] - state["last_x"]) / 1000.0
    notebook.figures["newest_point_age_s"] = round(lag, 3)
    assert -5 < lag < 5, f"the newest point is {lag:.1f} s old: {state}"
    assert "⚠" not in notebook.output_text(CHART_CELL), notebook.diagnosis(CHART_CELL)

    _wait(lambda: plot.evaluate(PLOT_JS)["points"] >= 300, 15)  # a fuller line for the picture
    notebook.figures["points_in_screenshot"] = plot.evaluate(PLOT_JS)["points"]
    notebook.screenshot(notebook.cell(CHART_CELL), "live-chart.png")
    _publish_image("live-chart.png")


def test_live_chart_keeps_its_time_axis(notebook):
    """After live redraws the chart's x axis still reads as dates, not as numbers."""
    plot = notebook.cell(CHART_CELL).locator(".js-plotly-plot")
    plot.wait_for(timeout=timeout(20) * 1000)
    state = _wait(lambda: (s := plot.evaluate(PLOT_JS))["points"] > 1 and s, 10)
    assert state, "the chart never got two points\n" + notebook.diagnosis(CHART_CELL)
    notebook.figures["x_axis"] = {"type": state["axis_type"], "ticks": state["tick_labels"]}
    assert state["axis_type"] == "date", state


def test_presence_table_lists_everyone(notebook):
    """The table lists the four chat bots and this notebook's user, marked as me."""
    output = notebook.cell(TABLE_CELL).locator(".jp-OutputArea-output").first
    expected = {**BOTS, ME: "You"}
    seen: set[str] = set()
    rows: list = []

    def everyone_listed():
        nonlocal rows
        rows = output.evaluate(TABLE_JS) or []
        ids = {row[0] for row in rows if row}
        seen.update(ids)
        return ids == {*BOTS, f"{ME} (me)"}

    # a bot leaves now and then for a few seconds: wait for a moment when all five are there
    listed = _wait(everyone_listed, 30, interval=0.5)
    notebook.figures["members"] = rows
    assert listed, f"never all listed at once; last rows {rows}, seen {sorted(seen)}\n" + (
        notebook.diagnosis(TABLE_CELL)
    )
    assert {row[0].removesuffix(" (me)"): row[1] for row in rows} == expected, rows
    header = output.inner_text()
    assert "presence-chat: 5 online" in " ".join(header.split()), header
    notebook.screenshot(notebook.cell(TABLE_CELL), "presence-table.png")
    notebook.page.screenshot(path=str(ARTIFACTS / "jupyterlab.png"))
    _publish_image("presence-table.png")


def test_presence_table_follows_a_guest(notebook):
    """A guest joining and leaving shows up in the table as it happens."""
    output = notebook.cell(TABLE_CELL).locator(".jp-OutputArea-output").first

    def ids():
        return {row[0] for row in output.evaluate(TABLE_JS) or [] if row}

    notebook.run_new_cell(GUEST_JOINS, "GUEST IN")
    assert _wait(lambda: "guest" in ids(), 10), f"the guest is not listed: {ids()}"
    notebook.run_new_cell(GUEST_LEAVES, "GUEST OUT")
    assert _wait(lambda: "guest" not in ids(), 10), f"the guest is still listed: {ids()}"
    changes = _wait(lambda: (text := output.inner_text()) and "Guest left" in text and text, 10)
    assert changes and "Guest joined" in changes, output.inner_text()
    notebook.figures["changes_after_guest"] = [
        line for line in output.inner_text().splitlines() if "joined" in line or "left" in line
    ]


def _publish_image(name: str) -> None:
    """Copy a screenshot to docs/images/ when asked to (the README shows them)."""
    size = (ARTIFACTS / name).stat().st_size
    assert size < 300_000, f"{name} is {size} bytes; the README's pictures stay under 300 KB"
    if os.environ.get("PUSHER_NB_UPDATE_DOCS_IMAGES") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ARTIFACTS / name, DOCS_IMAGES / name)
