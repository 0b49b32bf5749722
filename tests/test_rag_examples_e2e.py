"""Each framework's RAG example, run as its own process -> the real OpenTelemetry Collector -> real Jaeger
v2: one trace with the expected tree, read back from Jaeger's query API. Also their embedded default."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from .backends import collector, ensure_built, jaeger
from .servers import REPO

EXAMPLES = REPO / "examples" / "rag"

# The framework part of each trace (ingestion spans before it vary with the store's own calls).
EXPECTED = {
    "langchain_rag.py": [
        "RunnableSequence",
        "  RunnableParallel<context,question>",
        "    RunnableSequence",
        "      retrieval Chroma",
        "        embeddings text-embedding-3-small",
        "        query knowledge",
        "      RunnableLambda",
        "    RunnablePassthrough",
        "  ChatPromptTemplate",
        "  chat gpt-4o-mini",
        "  StrOutputParser",
    ],
    "llamaindex_rag.py": [
        "RetrieverQueryEngine.query",
        "  retrieval ChromaVectorStore",
        "    embeddings nomic-embed-text",
        "    query knowledge",
        "  CompactAndRefine.synthesize",
        "    CompactAndRefine.get_response",
        "      CompactAndRefine.get_response",
        "        DefaultRefineProgram.__call__",
        "          Ollama.predict",
        "            chat llama3.2",
    ],
    "haystack_rag.py": [
        "haystack.pipeline.run",
        "  embeddings text-embedding-3-small",
        "  retrieval ChromaEmbeddingRetriever",
        "    query knowledge",
        "  prompt",
        "  chat gpt-4o-mini",
    ],
}


@pytest.fixture(scope="module")
def otlp_endpoint() -> Iterator[tuple]:
    ensure_built()
    with jaeger() as backend, collector(backend.otlp_endpoint) as endpoint:
        yield backend, endpoint


def _run(example: str, **env_extra: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "GENAI_OTEL_"))}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / example)],
        env={**env, **env_extra},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _jaeger_tree(data: dict) -> list[str]:
    """Jaeger's trace JSON as indented lines, children in start order."""
    spans = data["spans"]
    children: dict[str | None, list[dict]] = {}
    for span in spans:
        parents = [r["spanID"] for r in span.get("references", []) if r["refType"] == "CHILD_OF"]
        children.setdefault(parents[0] if parents else None, []).append(span)
    lines: list[str] = []

    def walk(parent: str | None, depth: int) -> None:
        for span in sorted(children.get(parent, []), key=lambda s: s["startTime"]):
            lines.append("  " * depth + span["operationName"])
            walk(span["spanID"], depth + 1)

    walk(None, 0)
    return lines


def _subtree(lines: list[str], root: str) -> list[str]:
    """The lines of the first span named ``root`` and its descendants, dedented to it."""
    start = next(i for i, line in enumerate(lines) if line.strip() == root)
    indent = len(lines[start]) - len(root)
    out = [lines[start][indent:]]
    for line in lines[start + 1 :]:
        if len(line) - len(line.lstrip()) <= indent:
            break
        out.append(line[indent:])
    return out


#: Every span of each example's trace (the GenAI tree above plus the framework's internal steps): the
#: read-back waits for exactly these, so a late batch cannot be missed and an extra span fails.
SPANS = {"haystack_rag.py": 13, "langchain_rag.py": 14, "llamaindex_rag.py": 13}


@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_example_is_one_trace_in_jaeger_with_the_expected_tree(otlp_endpoint, example):
    backend, endpoint = otlp_endpoint
    out = _run(example, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_EXPORTER_OTLP_INSECURE="true")
    match = re.search(r"trace ([0-9a-f]{32}) exported", out)
    assert match, out
    expected = EXPECTED[example]
    data = backend.wait_for_trace(match.group(1), spans=SPANS[example])

    tree = _jaeger_tree(data)
    assert tree[0] == f"rag {example.split('_')[0]}", tree  # one root: the whole app is one trace
    assert sum(1 for line in tree if not line.startswith(" ")) == 1, tree
    assert _subtree(tree, expected[0]) == expected
    model_calls = [line for line in tree if line.strip().startswith(("chat ", "embeddings "))]
    assert len(model_calls) == 3, tree  # ingestion embeddings, query embeddings, answer: one span each


@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_example_prints_its_trace_without_a_backend(example):
    out = _run(example)
    assert out.count("\ntrace ") == 1
    assert f"rag {example.split('_')[0]}" in out
    for line in EXPECTED[example]:
        assert line.strip() in out, line
