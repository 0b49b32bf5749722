"""The oldest framework release series we claim (langchain-core 0.3 + langgraph 0.2, llama-index-core 0.12,
haystack-ai 2.10, with openai 1.x), in a virtualenv of their own: the same trace shapes, one span per model
call. The newest releases are tested by test_langchain.py, test_llamaindex.py and test_haystack.py."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from genai_otel import semconv

from .venvs import ensure

APPS = Path(__file__).parent / "apps"


@pytest.fixture(scope="module")
def scenarios() -> dict[str, dict]:
    python = ensure("frameworks-oldest-venv")
    done = subprocess.run(
        [str(python), str(APPS / "frameworks_oldest_app.py")], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return {row["scenario"]: row for row in rows}


def _conformant(row: dict) -> dict:
    assert row["violations"] == []
    for span in row["model_spans"]:  # the client's details merged: one span per model call
        assert span[semconv.SERVER_ADDRESS] == "127.0.0.1"
    return row


def test_every_framework_is_instrumented(scenarios):
    assert {"langchain_core", "llama_index.core", "haystack", "openai", "ollama"} <= set(
        scenarios["header"]["instrumented"]
    )


def test_langchain_chain_sync_and_async_parallel(scenarios):
    chain = ["RunnableSequence", "  ChatPromptTemplate", "  chat gpt-4o-mini", "  StrOutputParser"]
    assert _conformant(scenarios["langchain_chain"])["trees"] == [chain]
    assert _conformant(scenarios["langchain_async_parallel"])["trees"] == [chain] * 3


def test_langgraph_react_agent(scenarios):
    row = _conformant(scenarios["langgraph_agent"])
    [tree] = row["trees"]
    assert tree[0] == "invoke_agent LangGraph"
    assert [line.strip() for line in tree if line.strip().startswith(("chat", "execute_tool"))] == [
        "chat gpt-4o-mini-tool",
        "execute_tool get_weather",
        "chat gpt-4o-mini-tool",
    ]
    assert len(row["model_spans"]) == 2


def test_llamaindex_query(scenarios):
    row = _conformant(scenarios["llamaindex_query"])
    [tree] = row["trees"]
    assert tree[:3] == [
        "RetrieverQueryEngine.query",
        "  retrieval SimpleVectorStore",
        "    embeddings nomic-embed-text",
    ]
    assert tree[-1].strip() == "chat llama3"
    assert len(row["model_spans"]) == 2


def test_haystack_pipeline(scenarios):
    row = _conformant(scenarios["haystack_pipeline"])
    assert row["trees"] == [["haystack.pipeline.run", "  prompt", "  chat gpt-4o-mini"]]
