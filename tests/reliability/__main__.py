"""Run the reliability suite in its full size and print its figures as Markdown tables.

    python -m tests.reliability                  # every area, full size (minutes)
    python -m tests.reliability --small          # the form CI runs (seconds)
    python -m tests.reliability delivery         # one area
    python -m tests.reliability --write docs/RELIABILITY.md   # replace the measured tables in that file

Each area is a module beside this file with ``scenarios(full: bool)`` yielding one row per scenario
(the pytest files ``test_<area>.py`` run the small form and assert the targets).
"""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).parent
AREAS = sorted(p.stem for p in HERE.glob("*.py") if not p.stem.startswith(("_", "test_")))
#: Column order; a column appears only when some row of the area has it.
COLUMNS = (
    "scenario",
    "sent",
    "acknowledged",
    "delivered",
    "lost",
    "duplicated",
    "answer",
    "app_exceptions",
    "leaks",
    "peak_rss_mb",
    "seconds",
    "notes",
)
BEGIN, END = "<!-- reliability:begin -->", "<!-- reliability:end -->"


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(rows: list[dict]) -> str:
    present = {k for row in rows for k, v in row.items() if v is not None and v != ""}
    columns = [c for c in COLUMNS if c in present]
    columns += sorted(present - set(columns))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def run(areas: Iterable[str], full: bool) -> str:
    """Every area's rows, timed, as one Markdown section per area."""
    mode = "full size" if full else "small (CI) form"
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [f"Measured {stamp} on {platform.machine()} ({platform.python_version()}), {mode}."]
    for area in areas:
        module = importlib.import_module(f"tests.reliability.{area}")
        rows = []
        for_area = time.monotonic()
        started = time.monotonic()
        for row in module.scenarios(full):
            row.setdefault("seconds", time.monotonic() - started)
            rows.append(row)
            print(f"  {area}: {row.get('scenario')}", file=sys.stderr, flush=True)
            started = time.monotonic()
        title = " ".join((module.__doc__ or area).strip().split("\n\n")[0].split())
        parts.append(f"### {area}\n\n{title}\n\n{table(rows)}\n\n({time.monotonic() - for_area:.0f} s)")
    return "\n\n".join(parts) + "\n"


def write(path: Path, section: str) -> None:
    """Replace what stands between the markers in ``path`` (append the markers when missing)."""
    text = path.read_text() if path.exists() else ""
    block = f"{BEGIN}\n{section}{END}"
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability", description=__doc__.splitlines()[0])
    parser.add_argument("areas", nargs="*", choices=[[], *AREAS], help=f"areas to run (default: {AREAS})")
    parser.add_argument("--small", action="store_true", help="the small form CI runs")
    parser.add_argument("--write", type=Path, help="put the tables into this Markdown file, between markers")
    args = parser.parse_args(argv)
    section = run(args.areas or AREAS, full=not args.small)
    print(section)
    if args.write:
        write(args.write, section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
