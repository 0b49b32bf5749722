"""Detect a foreign package sharing our import name.

The PyPI distribution ``genai-otel-instrument`` (an unrelated project) also installs an import package named
``genai_otel``. pip lets both be installed into one environment and merges their files into one directory, so
whichever was installed last wins file by file and imports then fail in obscure ways. This check makes that
failure say what is wrong. It costs one directory read, once, at import.
"""

from __future__ import annotations

import os

#: Files that only genai-otel-instrument ships in its ``genai_otel`` package.
_FOREIGN_FILES = frozenset({"auto_instrument.py", "cost_calculator.py", "__version__.py", "llm_pricing.json"})

CONFLICT_MESSAGE = (
    "genai-otel and the unrelated PyPI package 'genai-otel-instrument' are both installed in this "
    "environment, and both install the import package 'genai_otel' into {where}: "
    "they cannot live in one environment. "
    "Uninstall both ('pip uninstall -y genai-otel-instrument genai-otel') and reinstall the one you want, "
    "or use separate virtualenvs."
)


def check_no_foreign_package(package_dir: str | None = None) -> None:
    """Raise ImportError, saying what is wrong, when genai-otel-instrument's files share our package's
    directory."""
    where = package_dir or os.path.dirname(os.path.abspath(__file__))
    try:
        names = set(os.listdir(where))
    except OSError:  # a zip import or an unreadable directory: nothing we can tell
        return
    if names & _FOREIGN_FILES:
        raise ImportError(CONFLICT_MESSAGE.format(where=where))
