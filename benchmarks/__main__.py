"""Run the benchmarks and print one Markdown table per section.

    python -m benchmarks                 # everything (about 5 minutes on 2 cores)
    python -m benchmarks --quick         # a smoke run of every section (under a minute)
    python -m benchmarks --only ingest,latency

Results also go to benchmarks/.results/ (results-TIMESTAMP.json and .md, and latest.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import sys
import time
import traceback

from .common import RESULTS, Table

SECTIONS = ("ingest", "latency", "memory", "redraws", "fanout", "profile")
DEFAULT = ("ingest", "latency", "memory", "redraws", "fanout")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny counts: checks the harness, not the speed")
    parser.add_argument(
        "--only", default=",".join(DEFAULT),
        help=f"comma-separated sections out of {', '.join(SECTIONS)} (default: all but profile)",
    )
    parser.add_argument("--no-save", action="store_true", help="do not write benchmarks/.results/")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s): {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")

    started = time.monotonic()
    header = (
        f"pusher_nb benchmarks{' (quick)' if args.quick else ''}: {dt.datetime.now().isoformat(timespec='seconds')}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPU(s), {platform.machine()}"
    )
    print(f"## {header}\n", flush=True)
    tables: list[Table] = []
    failed = False
    for name in chosen:
        section_started = time.monotonic()
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            produced = module.run(quick=args.quick)
        except Exception as exc:  # noqa: BLE001 - one broken section must not hide the others
            failed = True
            traceback.print_exc(file=sys.stderr)
            produced = [Table(f"{name}: failed", ["error"], [[f"{type(exc).__name__}: {exc}"]])]
        if produced:
            produced[-1].notes.append(f"section took {time.monotonic() - section_started:.0f} s")
        for table in produced:
            print(table.markdown(), flush=True)
        tables.extend(produced)
    print(f"_total {time.monotonic() - started:.0f} s; loopback only; other processes on the machine add noise_")
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        body = f"## {header}\n\n" + "\n".join(table.markdown() for table in tables)
        (RESULTS / f"results-{stamp}.md").write_text(body)
        (RESULTS / "latest.md").write_text(body)
        (RESULTS / f"results-{stamp}.json").write_text(
            json.dumps({"header": header, "quick": args.quick, "tables": [t.to_json() for t in tables]}, indent=1)
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
