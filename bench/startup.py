"""Start-up time of ``import genai_otel; genai_otel.instrument()`` in a cold interpreter (issue 17).

    python bench/startup.py [--runs 9] [--top 15] [--source DIR] [VENV ...]

Each VENV (default: the three below, under ~/.cache/genai-otel, those that exist) runs this checkout's
``src`` or ``--source`` (another checkout's, to compare: put first on ``PYTHONPATH``, whatever the venv's own
install of genai-otel points at):

    startup-venv   genai-otel's base dependencies only: nothing to instrument
    bench-venv     the bench's 13+ libraries installed (none imported)
    ci-venv        the test suite's venv: every instrumented library installed

For each venv it prints the median wall and CPU time over ``--runs`` cold interpreters (the venvs taking
turns, so a busy machine slows them alike), how many libraries ``instrument()`` set up (and checks that it
imported none of them), and the same for the OpenTelemetry API modules any ``instrument()`` needs (the
floor genai-otel adds to). Then the ``--top`` modules by their own import time (``python -X importtime``,
median of 3 runs) -- where the time goes.

Bytecode comes from a temporary cache (``PYTHONPYCACHEPREFIX``), filled by one warm-up run per venv: that is
what an installed wheel has (pip compiles it), and it leaves the checkout untouched.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CACHE = Path.home() / ".cache" / "genai-otel"
DEFAULT_VENVS = ("startup-venv", "bench-venv", "ci-venv")
SOURCE = Path(__file__).resolve().parents[1] / "src"

INSTRUMENT = (
    "import genai_otel; done = genai_otel.instrument()\n"
    "imported = [name for name in done if name in sys.modules]\n"
)
#: What a no-op instrument() cannot do without: the propagator it wraps, the tracer, meter and logger APIs.
FLOOR_LABEL = "OpenTelemetry API floor"
OTEL_FLOOR = (
    "import opentelemetry.propagate, opentelemetry.metrics, opentelemetry._logs\ndone, imported = [], []\n"
)
TIMED = (
    "import sys, time\n"
    "wall, cpu = time.perf_counter(), time.process_time()\n"
    "{statement}"
    "wall, cpu = (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000\n"
    "print(wall, cpu, len(done), ','.join(imported) or '-')\n"
)


def _environment(source: Path, pycache: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = pycache
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source), os.environ.get("PYTHONPATH")]))
    return env


def _run(python: Path, arguments: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # Outside the checkout, so the working directory adds nothing to sys.path.
    return subprocess.run(
        [str(python), *arguments],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=tempfile.gettempdir(),
    )


Sample = tuple[float, float, int, str]  # wall ms, CPU ms, libraries set up, those imported ("-": none)


def _timed(python: Path, statement: str, env: dict[str, str]) -> Sample:
    out = _run(python, ["-c", TIMED.format(statement=statement)], env).stdout.split()
    wall, cpu, count, imported = out[-4:]
    return float(wall), float(cpu), int(count), imported


def _median_times(samples: list[Sample]) -> str:
    wall = statistics.median(sample[0] for sample in samples)
    cpu = statistics.median(sample[1] for sample in samples)
    return f"{wall:7.1f} ms wall {cpu:7.1f} ms CPU"


def _measure(venvs: dict[str, Path], sources: dict[str, dict[str, str]], runs: int) -> None:
    """``sources``: label -> environment running that source; each (venv, source) and each venv's floor
    take one turn per round."""
    floor_env = next(iter(sources.values()))
    turns = {(venv, label): (INSTRUMENT, env) for venv in venvs for label, env in sources.items()}
    turns.update({(venv, FLOOR_LABEL): (OTEL_FLOOR, floor_env) for venv in venvs})
    for (venv, _), (statement, env) in turns.items():  # warm-up: fills the bytecode cache
        _timed(venvs[venv], statement, env)
    samples: dict[tuple[str, str], list[Sample]] = {turn: [] for turn in turns}
    for _ in range(runs):
        for (venv, label), (statement, env) in turns.items():
            samples[venv, label].append(_timed(venvs[venv], statement, env))
    print(f"import genai_otel; genai_otel.instrument() -- cold interpreter, median of {runs}")
    width = max(len(label) for label in [*sources, FLOOR_LABEL])
    for venv in venvs:
        for label in [*sources, FLOOR_LABEL]:
            runs_of = samples[venv, label]
            imported = {sample[3] for sample in runs_of} - {"-"}
            note = f"IMPORTED {', '.join(sorted(imported))}" if imported else "none imported"
            count = "" if label == FLOOR_LABEL else f"   {runs_of[0][2]:2d} libraries set up ({note})"
            print(f"  {venv:14} {label:{width}} {_median_times(runs_of)}{count}")


def _import_profile(python: Path, env: dict[str, str]) -> dict[str, int]:
    """Microseconds of own import time per module imported by ``INSTRUMENT``, from ``-X importtime``."""
    marker = "-- genai_otel --"
    code = f"import sys\nsys.stderr.write({marker!r} + '\\n')\n{INSTRUMENT}"
    err = _run(python, ["-X", "importtime", "-c", code], env).stderr
    profile = {}
    for line in err.partition(marker)[2].splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) == 3 and fields[0].strip().isdigit():
            profile[fields[2].strip()] = int(fields[0])
    return profile


def _top_imports(venvs: dict[str, Path], top: int, env: dict[str, str]) -> None:
    for venv, python in venvs.items():
        profiles = [_import_profile(python, env) for _ in range(3)]
        self_us = {name: statistics.median(p.get(name, 0) for p in profiles) for name in profiles[0]}
        total = sum(self_us.values()) / 1000
        ours = sum(micros for name, micros in self_us.items() if name.split(".")[0] == "genai_otel") / 1000
        print(
            f"\n{venv}: {len(self_us)} modules imported, {total:.1f} ms under -X importtime "
            f"({ours:.1f} ms in genai_otel's own); top {top} by own time:"
        )
        for name, micros in sorted(self_us.items(), key=lambda item: -item[1])[:top]:
            print(f"  {micros / 1000:6.1f} ms  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("venvs", nargs="*", help="venv directories or names under ~/.cache/genai-otel")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument(
        "--source",
        type=Path,
        action="append",
        help="a src directory to measure (repeat to compare checkouts, in turns); default: this checkout's",
    )
    args = parser.parse_args()
    venvs = {}
    for name in args.venvs or DEFAULT_VENVS:
        python = (CACHE / name if os.sep not in name else Path(name)) / "bin" / "python"
        if python.exists():
            venvs[Path(name).name] = python
        elif args.venvs:
            sys.exit(f"no venv at {python.parent.parent}")
    if not venvs:
        sys.exit(f"none of {', '.join(DEFAULT_VENVS)} under {CACHE}: see this script's docstring")
    with tempfile.TemporaryDirectory(prefix="genai-otel-pycache-") as pycache:
        sources = {str(source): _environment(source.resolve(), pycache) for source in args.source or [SOURCE]}
        _measure(venvs, sources, args.runs)
        if args.top:
            for label, env in sources.items():
                print(f"\n-- {label}")
                _top_imports(venvs, args.top, env)


if __name__ == "__main__":
    main()
