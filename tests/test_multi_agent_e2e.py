"""Separate OS processes -> the real OpenTelemetry Collector -> real Jaeger v2: one trace, read back.

The three-service example (supervisor, researcher over HTTP, writer over Redis Streams) and the
looping agent pair stopped by the loop guard across two services.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from .backends import collector, ensure_built, jaeger
from .servers import REPO, free_port, run_server

EXAMPLE = REPO / "examples" / "multi_agent"


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple]:
    ensure_built()
    with jaeger() as backend, collector(backend.otlp_endpoint) as endpoint:
        yield backend, endpoint


def _env(endpoint: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "GENAI_OTEL_"))}
    return {**env, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_INSECURE": "true", **extra}


class Trace:
    """A Jaeger trace (``/api/traces/{id}`` JSON) with parent/link lookups."""

    def __init__(self, data: dict) -> None:
        self.spans = data["spans"]
        self.by_id = {s["spanID"]: s for s in self.spans}
        self.service = {s["spanID"]: data["processes"][s["processID"]]["serviceName"] for s in self.spans}

    def named(self, name: str, service: str | None = None) -> list[dict]:
        return [
            s
            for s in self.spans
            if s["operationName"] == name and service in (None, self.service[s["spanID"]])
        ]

    def one(self, name: str, service: str | None = None) -> dict:
        [span] = self.named(name, service)
        return span

    def refs(self, span: dict, kind: str) -> list[str]:
        return [r["spanID"] for r in span.get("references", []) if r["refType"] == kind]

    def parent(self, span: dict) -> dict | None:
        """Jaeger's notion: the CHILD_OF reference, else the first FOLLOWS_FROM (Jaeger folds a
        parent that is also a link into one FOLLOWS_FROM reference)."""
        parents = self.refs(span, "CHILD_OF") or self.refs(span, "FOLLOWS_FROM")
        return self.by_id.get(parents[0]) if parents else None

    def ancestors(self, span: dict) -> list[dict]:
        chain = []
        while (span := self.parent(span)) is not None:
            chain.append(span)
        return chain

    def tag(self, span: dict, key: str):
        return next((t["value"] for t in span["tags"] if t["key"] == key), None)


def test_three_services_make_one_trace_in_jaeger(stack):
    backend, endpoint = stack
    done = subprocess.run(
        [sys.executable, str(EXAMPLE / "run.py")],
        env=_env(endpoint),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    trace_id = re.search(r"trace_id=([0-9a-f]{32})", done.stdout).group(1)
    t = Trace(backend.wait_for_trace(trace_id, spans=25))  # every span of the three services

    assert set(t.service.values()) == {"supervisor", "researcher", "writer"}
    supervisor = t.one("invoke_agent supervisor")
    # Nothing is orphaned: every span's parent is in the trace, and the only root is the supervisor.
    roots = [s for s in t.spans if not s.get("references")]
    assert roots == [supervisor]
    assert all(t.parent(s) is not None for s in t.spans if s is not supervisor)

    # HTTP hop: researcher agent <- FastAPI server span <- httpx client span <- supervisor.
    researcher = t.one("invoke_agent researcher", "researcher")
    chain = [t.service[s["spanID"]] + ":" + t.tag(s, "span.kind") for s in t.ancestors(researcher)]
    assert chain == ["researcher:server", "supervisor:client", "supervisor:internal"]
    assert t.tag(researcher, "genai_otel.agent.path") == "supervisor>researcher"
    assert t.tag(researcher, "genai_otel.agent.hops") == 2
    conversation = t.tag(supervisor, "gen_ai.conversation.id")
    assert t.tag(t.one("chat gpt-4o-mini", "researcher"), "gen_ai.conversation.id") == conversation

    # Queue hop: each writer task is processed in a span whose parent is the supervisor's XADD.
    sends = t.named("xadd writer.tasks", "supervisor")
    processes = t.named("process writer.tasks", "writer")
    assert len(sends) == len(processes) == 2
    assert {t.parent(p)["spanID"] for p in processes} == {s["spanID"] for s in sends}
    assert all(t.parent(s) is supervisor for s in sends)
    writers = t.named("invoke_agent writer", "writer")
    assert {t.tag(w, "genai_otel.agent.path") for w in writers} == {"supervisor>writer"}

    # Fan-in: the supervisor's process span links both writer replies.
    fan_in = t.one("process writer.results", "supervisor")
    replies = t.named("xadd writer.results", "writer")
    assert set(t.refs(fan_in, "FOLLOWS_FROM")) == {r["spanID"] for r in replies}
    assert t.tag(fan_in, "messaging.batch.message_count") == 2


def test_loop_guard_stops_a_looping_agent_pair_across_two_services(stack):
    backend, endpoint = stack
    ports = {"ping": free_port(), "pong": free_port()}
    peers = {"ping": "pong", "pong": "ping"}
    with ExitStack() as services:
        for name, port in ports.items():
            env = _env(
                endpoint,
                AGENT_NAME=name,
                PORT=str(port),
                PEER_URL=f"http://127.0.0.1:{ports[peers[name]]}",
                GENAI_OTEL_MAX_AGENT_HOPS="6",
                GENAI_OTEL_LOOP_GUARD_ACTION="raise",
                PYTHONPATH=str(EXAMPLE),
            )
            services.enter_context(
                run_server([sys.executable, str(EXAMPLE / "looping_agent.py")], port, env=env, timeout=120)
            )
        trace_id = os.urandom(16).hex()
        response = httpx.post(
            f"http://127.0.0.1:{ports['ping']}/ask",
            headers={"traceparent": f"00-{trace_id}-{os.urandom(8).hex()}-01"},
            timeout=60,
        )
    assert response.status_code == 508
    assert "exceeds the limit of 6" in response.json()["error"]
    t = Trace(backend.wait_for_trace(trace_id, spans=34))  # six agents, then the guard stops the loop
    agents = sorted(
        (s for s in t.spans if s["operationName"].startswith("invoke_agent")),
        key=lambda s: t.tag(s, "genai_otel.agent.hops"),
    )
    # Hops 1..7 alternate between the two services; the 7th is refused before it does anything.
    assert [t.tag(s, "genai_otel.agent.hops") for s in agents] == [1, 2, 3, 4, 5, 6, 7]
    assert [t.service[s["spanID"]] for s in agents] == ["ping", "pong"] * 3 + ["ping"]
    assert t.tag(agents[-1], "genai_otel.agent.path") == "ping>pong>ping>pong>ping>pong>ping"
    stopped = agents[-1]
    assert t.tag(stopped, "error.type") == "AgentLoopError"
    assert any(
        log["fields"] and any(f["value"] == "genai_otel.loop_guard.triggered" for f in log["fields"])
        for log in stopped.get("logs", [])
    )
    assert all(t.tag(s, "genai_otel.loop_guard.limit") == "hops" for s in agents[-1:])
