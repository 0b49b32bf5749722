"""The runnable examples run on a fresh machine with one command and print one trace."""

from __future__ import annotations

import os
import subprocess
import sys

from .servers import REPO


def test_rag_over_two_vector_stores_prints_one_trace():
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "rag" / "vector_stores.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    tree = done.stdout
    assert tree.count("\ntrace ") == 1  # everything under the agent: one trace
    for line in (
        "invoke_agent rag assistant",
        "add knowledge",
        "upsert knowledge",
        "query knowledge",
        "query_points knowledge",
        "chat gpt-4o-mini",
    ):
        assert line in tree, line


def test_demo_prints_the_agent_trace_and_a_rag_trace():
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    demo = [sys.executable, "-c", "import sys; from genai_otel.cli import main; sys.exit(main(['demo']))"]
    done = subprocess.run(demo, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert out.count("\ntrace ") == 2, out
    for line in (
        "invoke_agent weather assistant",
        "execute_tool get_weather",
        "chat claude-sonnet-cache",
        "rag ingest and ask",
        "retrieval Chroma",
        "query demo-knowledge",
        "RunnableSequence",
    ):
        assert line in out, line
    assert out.count("chat gpt-4o-mini ") == 1  # the RAG answer: one span, LangChain's and OpenAI's merged
