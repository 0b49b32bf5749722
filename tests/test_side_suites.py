"""The tests of frameworks whose pins conflict with the main venv (tests/side/<name>/), each run by pytest
inside its own venv ("<name>-venv" in tests/venvs.py) with the suite's fixtures and conformance checks."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .servers import REPO
from .venvs import ensure

SIDE = Path(__file__).parent / "side"
SUITES = sorted(p.name for p in SIDE.iterdir() if p.is_dir() and any(p.glob("test_*.py")))


@pytest.mark.parametrize("suite", SUITES)
def test_side_suite(suite: str) -> None:
    python = ensure(f"{suite}-venv")
    env = {**os.environ, "GENAI_OTEL_SIDE_SUITE": suite}
    command = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(SIDE / suite)]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout[-8000:]}\n{done.stderr[-3000:]}"
