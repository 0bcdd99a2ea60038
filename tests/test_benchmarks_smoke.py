"""The benchmark harness runs end to end in its quick form and prints tables of numbers.

Nothing here checks a speed: it only keeps ``python -m benchmarks`` from rotting.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from support import ROOT, timeout, unavailable

NUMBER = re.compile(r"^-?[\d,]+(\.\d+)?x?$")


def _tables(text: str) -> dict[str, list[list[str]]]:
    tables: dict[str, list[list[str]]] = {}
    title = None
    for line in text.splitlines():
        if line.startswith("### "):
            title = line[4:].strip()
            tables[title] = []
        elif title and line.startswith("| ") and not line.startswith("| ---"):
            tables[title].append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return tables


@pytest.mark.timeout(300)
def test_quick_run_prints_every_section_with_numbers():
    """`python -m benchmarks --quick` prints one table per section, each with numeric cells."""
    import shutil

    if shutil.which("node") is None:
        unavailable("node")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--no-save"],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout(280),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    tables = _tables(done.stdout)
    for start in ("Ingest", "Latency", "Memory", "Redraws", "Fan-out"):
        matching = [title for title in tables if title.startswith(start)]
        assert matching, f"no {start} table in:\n{done.stdout}"
        header, *rows = tables[matching[0]]
        assert rows, f"{matching[0]} has no rows"
        numeric = [cell for row in rows for cell in row[1:] if NUMBER.match(cell)]
        assert numeric, f"{matching[0]} has no numbers:\n{done.stdout}"


def test_unknown_section_is_refused():
    """An unknown --only section is an error, not a silent empty run."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--only", "nonsense", "--no-save"],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout(60),
    )
    assert done.returncode != 0
    assert "unknown section" in done.stderr
