"""Virtualenvs of their own for what cannot share the main test venv (cached under ~/.cache/genai-otel):
each gets its packages and this checkout's dependencies once, and this checkout (``--no-deps -e``) every
time. ``.ci/run`` creates them all
up front with ``python -m tests.venvs``; a test creates its own on first use otherwise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.servers import CACHE, REPO

APPS = Path(__file__).parent / "apps"

#: Instrumentors (registry names) whose library lives in a venv of its own, not in the main test venv.
OWN_VENV_INSTRUMENTORS = frozenset(
    {"litellm", "google.adk", "crewai", "strands", "dspy", "autogen_agentchat"}
)

#: What a side venv needs to run its tests (tests/side/<venv>/) with the suite's fixtures.
SIDE_TEST_TOOLS = ["pytest>=8", "pytest-asyncio>=0.23", "openai", "anthropic"]

#: venv name -> pip install arguments.
VENVS = {
    # Every LiteLLM release installable here pins openai < 3, while the suite runs openai 3.x.
    "litellm-venv": ["litellm>=1.40", "opentelemetry-sdk", "anthropic"],
    # The oldest framework release series genai-otel claims (with openai 1.x).
    "frameworks-oldest-venv": ["-r", str(APPS / "frameworks_oldest.txt")],
    # The anchor libraries whose dialects the processor normalises (their instrumentor entry points must
    # not join `opentelemetry-instrument` runs in the main venv).
    "dialects-venv": ["-r", str(APPS / "dialects.txt")],
    "openlit-venv": ["-r", str(APPS / "openlit.txt")],
    # Agent frameworks whose pins conflict with the main venv (older openai / google-genai / OTel SDK,
    # protobuf 5, litellm): each runs its own tests (tests/side/<venv name>/) with pytest inside the venv.
    "adk-venv": ["google-adk", *SIDE_TEST_TOOLS],
    "crewai-venv": ["crewai", *SIDE_TEST_TOOLS],
    "strands-venv": ["strands-agents[openai]", *SIDE_TEST_TOOLS],
    "dspy-venv": ["dspy", *SIDE_TEST_TOOLS],
    "autogen-venv": ["autogen-agentchat", "autogen-ext[openai]", *SIDE_TEST_TOOLS],
}


def ensure(name: str) -> Path:
    """The venv's python, created (once) with its packages, with this checkout installed."""
    venv = CACHE / name
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        # The checkout with its dependencies, resolved together with the venv's packages.
        install = [str(python), "-m", "pip", "install", "-q", *VENVS[name], "-e", str(REPO)]
        subprocess.run(install, check=True, timeout=1200)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "-e", str(REPO)], check=True, timeout=600
    )
    return python


if __name__ == "__main__":
    for venv_name in VENVS:
        print(f"== {venv_name}: {ensure(venv_name)}", flush=True)
