"""What the agent-framework tests share (tests/test_<framework>.py and tests/side/<framework>/): the content
attributes that must stay off by default, and running an example the way a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from typing import Any

from genai_otel import semconv

from .servers import REPO

#: The attributes that carry content: recorded only under content capture.
CONTENT = (
    semconv.GEN_AI_INPUT_MESSAGES,
    semconv.GEN_AI_OUTPUT_MESSAGES,
    semconv.GEN_AI_SYSTEM_INSTRUCTIONS,
    semconv.GEN_AI_TOOL_DEFINITIONS,
    semconv.GEN_AI_TOOL_CALL_ARGUMENTS,
    semconv.GEN_AI_TOOL_CALL_RESULT,
)
EXAMPLES = REPO / "examples" / "agents"


def assert_no_content(spans: Iterable[Any], secret: str | None = None) -> None:
    """No span carries a content attribute, nor (when given) the secret the run was asked about."""
    for span in spans:
        assert not set(CONTENT) & set(span.attributes), span.name
        if secret is not None:
            assert secret not in json.dumps(dict(span.attributes)), span.name


def run_example(file_name: str, **env: str) -> str:
    """Run ``examples/agents/<file_name>`` in a fresh interpreter, as a user would: none of the caller's
    OTEL_/OPENAI_ settings (the example starts its own model server unless ``OPENAI_BASE_URL`` is in
    ``env``). Returns what it printed; fails the test if it did not exit cleanly."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_"))}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / file_name)],
        cwd=EXAMPLES,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout
