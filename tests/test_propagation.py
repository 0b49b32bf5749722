"""Trace context and agent baggage across hops: the policy, the guarded propagator, HTTP and gRPC."""

from __future__ import annotations

import threading
from concurrent import futures

import pytest
from opentelemetry import baggage, propagate, trace
from opentelemetry import context as otel_context

import genai_otel
from genai_otel import propagation
from genai_otel import semconv as sc
from genai_otel.config import DEFAULT_BAGGAGE_TRUSTED_HOSTS, DEFAULT_TRUSTED_PEERS, Settings
from genai_otel.propagation.policy import BaggagePolicy

from .servers import header_recorder, serve_asgi, wait_until


def _remote(carrier, peer=propagation.TRUSTED):
    """What a service receiving ``carrier`` (from ``peer``) sees: a fresh context, then the extracted one."""
    token = otel_context.attach(otel_context.Context())
    try:
        return propagation.extract(carrier, peer=peer)
    finally:
        otel_context.detach(token)


def test_inject_extract_carries_trace_and_agent_baggage(otel):
    carrier: dict[str, str] = {}
    with genai_otel.agent("supervisor", conversation_id="conv-7") as sup:
        propagation.inject(carrier)
    assert carrier["traceparent"].split("-")[1] == format(sup.span.get_span_context().trace_id, "032x")
    ctx = _remote(carrier)
    assert trace.get_current_span(ctx).get_span_context().span_id == sup.span.get_span_context().span_id
    assert baggage.get_all(ctx) == {
        "gen_ai.conversation.id": "conv-7",
        "genai_otel.agent.path": "supervisor",
        "genai_otel.agent.hops": "1",
    }
    # A carrier that does not say who sent it: the hop count is not believed, the rest arrives.
    assert "genai_otel.agent.hops" not in baggage.get_all(_remote(carrier, peer=None))
    assert baggage.get_all(_remote(carrier, peer=None))["genai_otel.agent.path"] == "supervisor"


@pytest.mark.parametrize(
    ("header", "kept"),
    [
        ("genai_otel.agent.hops=2,evil.key=steal", {"genai_otel.agent.hops": "2"}),  # unknown key
        ("genai_otel.agent.hops=two", {}),  # malformed value for a checked key
        ("genai_otel.agent.path=" + "a" * 5000, {}),  # oversized value
        ("gen_ai.conversation.id=c%0Aid", {}),  # control character after decoding
        (";;;===,,,", {}),  # garbage
        (
            "gen_ai.conversation.id=ok," + ",".join(f"k{i}=v" for i in range(200)),
            {"gen_ai.conversation.id": "ok"},
        ),
    ],
)
def test_hostile_inbound_baggage_is_rejected_and_nothing_else_lost(otel, header, kept):
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    ctx = _remote({"traceparent": traceparent, "baggage": header})
    assert baggage.get_all(ctx) == kept
    span_context = trace.get_current_span(ctx).get_span_context()
    assert span_context.trace_id == 0x0AF7651916CD43DD8448EB211C80319C  # the trace still continues


def test_allow_list_and_caps_are_configurable():
    settings = Settings.from_env(
        {
            "GENAI_OTEL_BAGGAGE_ALLOWED_KEYS": "tenant",
            "GENAI_OTEL_BAGGAGE_MAX_VALUE_LENGTH": "4",
            "GENAI_OTEL_BAGGAGE_MAX_ENTRIES": "1",
        }
    )
    policy = BaggagePolicy.from_settings(settings)
    kept, rejected = policy.accept({"tenant": "acme", "gen_ai.conversation.id": "c1"})
    assert kept == {"tenant": "acme"} and len(rejected) == 1
    kept, _ = policy.accept({"tenant": "too-long"})
    assert kept == {}


@pytest.mark.parametrize(
    ("destination", "forwarded"),
    [
        ("http://127.0.0.1:8000/agents", True),
        ("http://researcher:8000", True),  # single-label in-cluster name
        ("https://planner.internal/api", True),
        ("10.1.2.3", True),
        ("https://api.openai.com/v1", False),
        ("https://mcp.example.com/mcp", False),
    ],
)
def test_baggage_goes_only_to_trusted_hosts(otel, destination, forwarded):
    carrier: dict[str, str] = {}
    with genai_otel.agent("supervisor"):
        propagation.inject(carrier, destination=destination)
    assert "traceparent" in carrier  # trace context always travels
    assert ("baggage" in carrier) is forwarded


def test_configured_trusted_hosts():
    settings = Settings.from_env({"GENAI_OTEL_BAGGAGE_TRUSTED_HOSTS": "*.example.com,agents.acme.io"})
    policy = BaggagePolicy.from_settings(settings)
    assert policy.host_trusted("mcp.example.com") and policy.host_trusted("agents.acme.io")
    assert not policy.host_trusted("evil-example.com") and not policy.host_trusted("api.anthropic.com")


def test_instrument_wraps_and_uninstrument_restores_the_global_propagator():
    before = propagate.get_global_textmap()
    genai_otel.instrument(only=[])
    try:
        assert isinstance(propagate.get_global_textmap(), propagation.AgentContextPropagator)
        assert propagate.get_global_textmap().inner is before
    finally:
        genai_otel.uninstrument()
    assert propagate.get_global_textmap() is before


# -- HTTP: contrib httpx (client) + FastAPI (server) instrumentations, genai-otel's policy ---------


@pytest.fixture
def http_agent_service(otel):
    from fastapi import FastAPI
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    app = FastAPI()

    @app.post("/invoke")
    async def invoke() -> dict:
        async with genai_otel.agent("researcher"):
            return {
                "path": genai_otel.current_agent_path(),
                "conversation": baggage.get_baggage("gen_ai.conversation.id"),
                "leaked": baggage.get_baggage("secret.token"),
            }

    FastAPIInstrumentor.instrument_app(app)
    try:
        with serve_asgi(app) as url:
            yield url
    finally:
        FastAPIInstrumentor.uninstrument_app(app)


def test_http_hop_continues_the_trace_with_agent_baggage(otel, http_agent_service):
    import httpx
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor().instrument()
    try:
        ctx = baggage.set_baggage("secret.token", "hunter2")  # not on the allow-list: must not arrive
        token = otel_context.attach(ctx)
        try:
            with genai_otel.agent("supervisor", conversation_id="conv-http"), httpx.Client() as client:
                answer = client.post(f"{http_agent_service}/invoke").json()
        finally:
            otel_context.detach(token)
    finally:
        HTTPXClientInstrumentor().uninstrument()
    assert answer == {"path": "supervisor>researcher", "conversation": "conv-http", "leaked": None}
    # The server span ends after the response is sent: wait for it rather than race it.
    wait_until(lambda: {"SERVER", "CLIENT"} <= {s.kind.name for s in otel.spans()})
    spans = otel.spans()
    supervisor = next(s for s in spans if s.name == "invoke_agent supervisor")
    researcher = next(s for s in spans if s.name == "invoke_agent researcher")
    assert {s.context.trace_id for s in spans} == {supervisor.context.trace_id}
    # researcher <- FastAPI server span <- httpx client span <- supervisor
    chain = _ancestors(researcher, spans)
    assert [s.kind.name for s in chain] == ["SERVER", "CLIENT", "INTERNAL"]
    assert chain[-1] is supervisor
    assert researcher.attributes[sc.GENAI_OTEL_AGENT_HOPS] == 2


@pytest.mark.parametrize(
    "hostile",
    [
        "genai_otel.agent.hops=abc,genai_otel.agent.path=" + "x" * 9000,  # malformed + oversized header
        "evil.key=1,gen_ai.conversation.id=" + "c" * 300,  # unknown key + value over the cap
        b"\xff\xfe;;==,,%%%",  # garbage bytes
    ],
)
def test_hostile_baggage_over_real_http_is_dropped_and_the_request_served(otel, http_agent_service, hostile):
    import httpx

    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = httpx.post(
        f"{http_agent_service}/invoke",
        headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01", "baggage": hostile},
    )
    assert response.status_code == 200
    assert response.json() == {"path": "researcher", "conversation": None, "leaked": None}
    wait_until(lambda: any(s.name == "invoke_agent researcher" for s in otel.spans()))
    researcher = next(s for s in otel.spans() if s.name == "invoke_agent researcher")
    assert format(researcher.context.trace_id, "032x") == trace_id  # the trace continues
    assert researcher.attributes[sc.GENAI_OTEL_AGENT_HOPS] == 1


def _ancestors(span, spans):
    by_id = {s.context.span_id: s for s in spans}
    chain = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        if span.kind.name != "INTERNAL" or span.name.startswith("invoke_agent"):
            chain.append(span)
    return chain


# -- gRPC: contrib client and server interceptors ---------------------------------------------------


# The contrib gRPC client and server name neither the destination nor the peer: an internal
# deployment that wants agent baggage and hop counts over gRPC trusts "unknown" explicitly.
@pytest.mark.genai_settings(
    baggage_trusted_hosts=(*DEFAULT_BAGGAGE_TRUSTED_HOSTS, "unknown"),
    trusted_peers=(*DEFAULT_TRUSTED_PEERS, "unknown"),
)
def test_grpc_hop_continues_the_trace_with_agent_baggage(otel):
    import grpc
    from opentelemetry.instrumentation.grpc import GrpcInstrumentorClient, GrpcInstrumentorServer

    seen = {}

    def handle(request: bytes, context) -> bytes:
        with genai_otel.agent("grader"):
            seen["path"] = genai_otel.current_agent_path()
        return request.upper()

    server_instr, client_instr = GrpcInstrumentorServer(), GrpcInstrumentorClient()
    server_instr.instrument()
    client_instr.instrument()
    try:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    "agents.Grader", {"Grade": grpc.unary_unary_rpc_method_handler(handle)}
                ),
            )
        )
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        try:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                call = channel.unary_unary("/agents.Grader/Grade")
                with genai_otel.agent("supervisor"):
                    assert call(b"essay", timeout=10) == b"ESSAY"
        finally:
            server.stop(None)
    finally:
        server_instr.uninstrument()
        client_instr.uninstrument()
    assert seen["path"] == "supervisor>grader"
    spans = otel.spans()
    grader = next(s for s in spans if s.name == "invoke_agent grader")
    supervisor = next(s for s in spans if s.name == "invoke_agent supervisor")
    assert grader.context.trace_id == supervisor.context.trace_id
    assert [s.kind.name for s in _ancestors(grader, spans)] == ["SERVER", "CLIENT", "INTERNAL"]


# -- more HTTP stacks: requests and aiohttp clients, a Flask (WSGI) server ---------------------------


@pytest.fixture
def flask_agent_service(otel):
    from flask import Flask, jsonify
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
    from werkzeug.serving import make_server

    app = Flask("critic")

    @app.post("/invoke")
    def invoke():
        with genai_otel.agent("critic"):
            return jsonify(path=genai_otel.current_agent_path(), leaked=baggage.get_baggage("secret.token"))

    FlaskInstrumentor().instrument_app(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        FlaskInstrumentor().uninstrument_app(app)


def _with_secret_baggage():
    return otel_context.attach(baggage.set_baggage("secret.token", "hunter2"))


def test_requests_client_to_flask_server(otel, flask_agent_service):
    import requests
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    RequestsInstrumentor().instrument()
    token = _with_secret_baggage()
    try:
        with genai_otel.agent("supervisor"):
            answer = requests.post(f"{flask_agent_service}/invoke", timeout=10).json()
    finally:
        otel_context.detach(token)
        RequestsInstrumentor().uninstrument()
    assert answer == {"path": "supervisor>critic", "leaked": None}
    wait_until(lambda: {"SERVER", "CLIENT"} <= {s.kind.name for s in otel.spans()})
    critic = next(s for s in otel.spans() if s.name == "invoke_agent critic")
    assert [s.kind.name for s in _ancestors(critic, otel.spans())] == ["SERVER", "CLIENT", "INTERNAL"]


async def test_aiohttp_client_to_fastapi_server(otel, http_agent_service):
    import aiohttp
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor

    AioHttpClientInstrumentor().instrument()
    try:
        async with (
            genai_otel.agent("supervisor", conversation_id="conv-aio"),
            aiohttp.ClientSession() as http,
            http.post(f"{http_agent_service}/invoke") as response,
        ):
            answer = await response.json()
    finally:
        AioHttpClientInstrumentor().uninstrument()
    assert answer == {"path": "supervisor>researcher", "conversation": "conv-aio", "leaked": None}


def test_contrib_client_spans_keep_baggage_from_third_party_hosts(otel):
    """An outgoing request to an LLM provider carries trace context but no agent baggage: the
    guarded propagator reads the destination off the requests instrumentation's client span."""
    import requests
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    seen: dict[str, dict] = {}

    RequestsInstrumentor().instrument()
    try:
        with requests.Session() as session, genai_otel.agent("supervisor"):
            for url in ("https://api.openai.com/v1/chat", "http://researcher.internal/invoke"):
                session.mount(url, header_recorder(seen))
                session.post(url, timeout=5)
    finally:
        RequestsInstrumentor().uninstrument()
    external, internal = seen["https://api.openai.com/v1/chat"], seen["http://researcher.internal/invoke"]
    assert "traceparent" in external and "baggage" not in external
    assert "traceparent" in internal and "genai_otel.agent.path=supervisor" in internal["baggage"]
