"""What a new user meets when installing: a foreign package sharing our import name is named clearly."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import genai_otel

PACKAGE = Path(genai_otel.__file__).parent


def _import_from(root: Path, statement: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", statement],
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_genai_otel_instrument_files_in_our_package_are_named(tmp_path):
    # pip merges both distributions' files into one genai_otel/ directory: simulate exactly that layout.
    copy = tmp_path / "genai_otel"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "auto_instrument.py").write_text("# shipped by genai-otel-instrument\n")
    for statement in ("import genai_otel", "import genai_otel.instrumentation.openai"):
        done = _import_from(tmp_path, statement)
        assert done.returncode != 0
        assert "genai-otel-instrument" in done.stderr and "cannot live in one environment" in done.stderr


def test_a_clean_package_imports(tmp_path):
    copy = tmp_path / "genai_otel"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    done = _import_from(tmp_path, "import genai_otel, genai_otel.instrumentation; print(genai_otel.__file__)")
    assert done.returncode == 0, done.stderr
    assert str(copy) in done.stdout
