"""Issue 13, the instrumentation: the baggage policy on the zero-code path, baggage decisions that
never depend on sampling, content kept out of error telemetry, the loop guard's hop count only from
trusted peers, control characters, garbage provider responses and framework/client merges.

Third-party hosts are reached through :class:`ProviderRecorder`, a local HTTP proxy that records the
headers the real SDK sent and forwards to the local model server (or answers itself, for provider
answers the model server cannot give: an error echoing the prompt, garbage usage).
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from opentelemetry import baggage, trace
from opentelemetry import context as otel_context

import genai_otel
from genai_otel import propagation
from genai_otel import semconv as sc
from genai_otel.config import ContentCapture, Settings
from genai_otel.propagation.policy import BaggagePolicy, has_control_characters, parse_host

from .conftest import API_KEY
from .servers import free_port, header_recorder, wait_for_port

SECRET_PROMPT = "my card is 4111 1111 1111 1111 and key sk-live-SECRETSECRETSECRET"
HOSTILE_BAGGAGE = ",".join(
    [
        "gen_ai.conversation.id=conv-ok",
        "genai_otel.agent.path=" + "p" * 300,
        "genai_otel.agent.hops=9999999",
        "gen_ai.conversation.id2=a%01b",
        *(f"unknown{i}=v" for i in range(179)),
    ]
)


class ProviderRecorder:
    """A plain HTTP proxy posing as third-party hosts: records each request's host and headers and
    forwards it to ``upstream`` (the model server); for the models in ``canned`` it answers itself."""

    def __init__(self, upstream: str, canned: dict[str, tuple[int, dict]] | None = None) -> None:
        self.requests: list[dict] = []
        self.canned = canned or {}
        target = urlsplit(upstream)
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                url = urlsplit(self.path)
                recorder.requests.append(
                    {"host": url.hostname, "headers": {k.lower(): v for k, v in self.headers.items()}}
                )
                model = json.loads(body or b"{}").get("model")
                if model in recorder.canned:
                    status, payload = recorder.canned[model]
                    data = json.dumps(payload).encode()
                    content_type = "application/json"
                else:
                    upstream_conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                    upstream_conn.request("POST", url.path, body, {"content-type": "application/json"})
                    answer = upstream_conn.getresponse()
                    status, data = answer.status, answer.read()
                    content_type = answer.getheader("content-type") or "application/json"
                    upstream_conn.close()
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> ProviderRecorder:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def to(self, host: str) -> list[dict]:
        return [r for r in self.requests if r["host"] == host]


@pytest.fixture
def recorder(model_server) -> Iterator[ProviderRecorder]:
    echo = {
        "error": {
            "message": f"Invalid prompt: {SECRET_PROMPT!r} is not allowed",
            "type": "invalid_request_error",
            "code": "content_policy_violation",
        }
    }
    garbage = {
        "id": "chatcmpl-garbage",
        "object": "chat.completion",
        "created": 0,
        "model": 7,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": 5}],
        "usage": {"prompt_tokens": "12", "completion_tokens": "x", "total_tokens": None},
    }
    with ProviderRecorder(model_server.url, {"echo-error": (400, echo), "garbage": (200, garbage)}) as rec:
        yield rec


def _openai_via(recorder: ProviderRecorder, host: str = "api.openai.com"):
    import httpx
    import openai

    return openai.OpenAI(
        base_url=f"http://{host}/v1",
        api_key=API_KEY,
        max_retries=0,
        http_client=httpx.Client(proxy=recorder.url, trust_env=False),
    )


# -- item 6: the zero-code path ---------------------------------------------------------------------

APP = textwrap.dedent(
    """
    import os

    import openai
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse
    from opentelemetry import baggage

    import genai_otel

    app = FastAPI()
    MESSAGES = [{"role": "user", "content": "hi"}]
    client = openai.OpenAI(base_url="http://api.openai.com/v1", api_key="sk-app", max_retries=0)
    claude_like = openai.OpenAI(base_url="http://api.anthropic.com/v1", api_key="sk-app", max_retries=0)


    @app.post("/invoke")
    def invoke():
        inbound = dict(baggage.get_all())
        try:
            with genai_otel.agent("researcher", conversation_id="conv-app"):
                hops = baggage.get_baggage("genai_otel.agent.hops")
                for sdk in (client, claude_like):
                    sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        except genai_otel.AgentLoopError as stop:
            return JSONResponse({"inbound": inbound, "stopped": str(stop)}, status_code=508)
        return {"inbound": inbound, "hops": hops}


    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["PORT"]), log_level="warning")
    """
)


@pytest.mark.parametrize("sampler", ["parentbased_always_on", "always_off"])
def test_zero_code_service_applies_the_baggage_policy_both_ways(tmp_path, recorder, sampler):
    """Under `opentelemetry-instrument` (no genai_otel.instrument() call): hostile inbound baggage is
    filtered, a forged hop count from a relayed public client is ignored, and the OpenAI SDK's
    requests to third-party hosts carry trace context but no baggage -- sampled or not."""
    import httpx

    app = tmp_path / "agent_app.py"
    app.write_text(APP)
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "HTTP_PROXY": recorder.url,
        "http_proxy": recorder.url,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "OTEL_SERVICE_NAME": "researcher",
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_TRACES_SAMPLER": sampler,
        "GENAI_OTEL_MAX_AGENT_HOPS": "32",
        "GENAI_OTEL_LOOP_GUARD_ACTION": "raise",
    }
    instrument = Path(sys.executable).parent / "opentelemetry-instrument"
    log = open(tmp_path / "app.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen([str(instrument), sys.executable, str(app)], env=env, stdout=log, stderr=log)
    try:
        wait_for_port(port, 120, process)
        url = f"http://127.0.0.1:{port}/invoke"
        parent = f"00-{os.urandom(16).hex()}-{os.urandom(8).hex()}-01"
        hostile = httpx.post(url, headers={"traceparent": parent, "baggage": HOSTILE_BAGGAGE}, timeout=60)
        # A public client behind a (loopback) proxy forges the hop count at the guard's limit.
        forged = httpx.post(
            url,
            headers={"baggage": "genai_otel.agent.hops=32", "x-forwarded-for": "8.8.4.4"},
            timeout=60,
        )
        # The same count from a trusted peer (loopback, no proxy) is believed: the guard trips.
        trusted = httpx.post(url, headers={"baggage": "genai_otel.agent.hops=32"}, timeout=60)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
    output = (tmp_path / "app.log").read_text(errors="replace")
    assert hostile.status_code == 200, output
    assert hostile.json() == {"inbound": {"gen_ai.conversation.id": "conv-ok"}, "hops": "1"}
    assert forged.status_code == 200 and forged.json()["hops"] == "1", forged.text
    assert trusted.status_code == 508 and "exceeds the limit of 32" in trusted.json()["stopped"]
    third_party = recorder.to("api.openai.com") + recorder.to("api.anthropic.com")
    assert len(third_party) == 4, recorder.requests  # two SDK calls for each of the two 200 answers
    for request in third_party:
        assert "baggage" not in request["headers"], request
        if sampler == "parentbased_always_on":
            assert "traceparent" in request["headers"]
    assert "Traceback" not in output, output


def test_instrumentors_install_the_policy_reference_counted():
    """What the zero-code path does: each instrumentor installs the policy; the last uninstrument
    removes it; a propagator set in between is wrapped too."""
    from opentelemetry import propagate
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    from genai_otel.instrumentation.openai import OpenAIInstrumentor

    before = propagate.get_global_textmap()
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    try:
        assert isinstance(propagate.get_global_textmap(), propagation.AgentContextPropagator)
        genai_otel.instrument(only=[])
        genai_otel.uninstrument()
        assert isinstance(propagate.get_global_textmap(), propagation.AgentContextPropagator)
        replacement = CompositePropagator([TraceContextTextMapPropagator()])
        propagate.set_global_textmap(replacement)  # an app configuring its own after start-up
        current = propagate.get_global_textmap()
        assert isinstance(current, propagation.AgentContextPropagator) and current.inner is replacement
    finally:
        instrumentor.uninstrument()
    assert propagate.get_global_textmap() is replacement
    propagate.set_global_textmap(before)
    assert propagate.get_global_textmap() is before


# -- item 7: sampling never decides; numeric hosts ---------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "134744072",
        "0x8080808",
        "0x08.0x08.0x08.0x08",
        "010.010.010.010",
        "8.8.2056",
        "8.524296",
        "8.8.8.8.",
        "[::ffff:8.8.8.8]",
        "::ffff:808:808",
        "[2001:4860:4860::8888]",
        "1.2.3.4.5",
        "16843009",
        "",
        None,
    ],
)
def test_numeric_and_unknown_hosts_get_no_baggage(host):
    policy = BaggagePolicy.from_settings(Settings())
    assert not policy.host_trusted(host)


@pytest.mark.parametrize("host", ["127.1", "0x7f000001", "2130706433", "10.1", "[::1]", "::ffff:10.0.0.1"])
def test_numeric_internal_hosts_are_addresses_too(host):
    assert BaggagePolicy.from_settings(Settings()).host_trusted(host)
    assert not isinstance(parse_host(host), str)


def test_unsampled_parent_sends_no_baggage_to_a_provider(otel, recorder):
    """An inbound `traceparent ...-00`: nothing records, and baggage still does not go to the provider."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    unsampled = propagation.extract(
        {"traceparent": f"00-{os.urandom(16).hex()}-{os.urandom(8).hex()}-00"}, peer=propagation.TRUSTED
    )
    client = _openai_via(recorder)
    HTTPXClientInstrumentor().instrument()
    token = otel_context.attach(baggage.set_baggage("gen_ai.conversation.id", "conv-secret", unsampled))
    try:
        with genai_otel.agent("supervisor"):
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    finally:
        otel_context.detach(token)
        HTTPXClientInstrumentor().uninstrument()
    (sent,) = recorder.to("api.openai.com")
    assert sent["headers"]["traceparent"].endswith("-00")
    assert "baggage" not in sent["headers"]
    assert otel.spans() == []


def test_unknown_destination_gets_no_baggage_without_a_recording_span(otel):
    """The contrib requests client names the host only on its span: when that span does not record,
    the destination is unknown -- and an unknown destination gets no baggage."""
    import requests
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    seen: dict[str, dict] = {}

    unsampled = trace.set_span_in_context(
        trace.NonRecordingSpan(
            trace.SpanContext(0x1234, 0x5678, is_remote=True, trace_flags=trace.TraceFlags(0))
        )
    )
    RequestsInstrumentor().instrument()
    token = otel_context.attach(baggage.set_baggage("genai_otel.agent.path", "supervisor", unsampled))
    try:
        with requests.Session() as session:
            session.mount("https://", header_recorder(seen))
            session.post("https://api.openai.com/v1/chat", timeout=5)
    finally:
        otel_context.detach(token)
        RequestsInstrumentor().uninstrument()
    assert "baggage" not in seen["https://api.openai.com/v1/chat"]


# -- item 8: content in exceptions ------------------------------------------------------------------


def _exception_texts(span) -> str:
    events = [e for e in span.events if e.name == "exception"]
    return repr([dict(e.attributes) for e in events]) + (span.status.description or "")


def test_provider_error_quoting_the_prompt_stays_out_of_the_span(otel, recorder):
    client = _openai_via(recorder)
    import openai

    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(
            model="echo-error", messages=[{"role": "user", "content": SECRET_PROMPT}]
        )
    assert SECRET_PROMPT in str(raised.value)  # the user's exception is unchanged
    span = otel.only_span()
    assert span.attributes[sc.ERROR_TYPE] == "BadRequestError"
    texts = _exception_texts(span)
    assert "sk-live" not in texts and "4111" not in texts
    assert (
        span.status.description
        == "BadRequestError: HTTP 400, content_policy_violation, invalid_request_error"
    )
    (event,) = [e for e in span.events if e.name == "exception"]
    assert event.attributes["exception.type"] == "openai.BadRequestError"
    assert "Traceback (most recent call last)" in event.attributes["exception.stacktrace"]


def test_agent_span_keeps_user_exception_text_out_without_capture(otel):
    with pytest.raises(ValueError, match="SECRET"), genai_otel.agent("planner"):
        raise ValueError(f"cannot plan {SECRET_PROMPT}")
    span = otel.only_span()
    # The frames' source lines name the variable; its value (the content) never appears.
    assert "sk-live" not in _exception_texts(span) and "4111" not in _exception_texts(span)
    assert span.status.description == "ValueError"


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_provider_error_text_is_kept_under_content_capture(otel, recorder):
    import openai

    with pytest.raises(openai.BadRequestError):
        _openai_via(recorder).chat.completions.create(
            model="echo-error", messages=[{"role": "user", "content": SECRET_PROMPT}]
        )
    assert "sk-live" in _exception_texts(otel.only_span())


# -- item 10: hop counts only from trusted peers ------------------------------------------------------


def _scope(client_host: str, headers: dict[str, str]) -> dict:
    return {
        "type": "http",
        "client": (client_host, 40000),
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
    }


@pytest.mark.parametrize(
    ("client", "headers", "trusted"),
    [
        ("127.0.0.1", {}, True),
        ("10.2.3.4", {}, True),
        ("1.1.1.1", {}, False),
        ("10.2.3.4", {"x-forwarded-for": "9.9.9.9, 1.1.1.1"}, False),  # relayed public client
        ("10.2.3.4", {"x-forwarded-for": "1.1.1.1, 10.9.9.9"}, True),  # relayed by an internal hop
        ("1.1.1.1", {"x-forwarded-for": "127.0.0.1"}, False),  # forged relay header
        ("10.2.3.4", {"forwarded": 'for="[2606:4700::1111]:4711"'}, False),
    ],
)
def test_inbound_hop_count_believed_only_from_trusted_peers(client, headers, trusted):
    from opentelemetry.instrumentation.asgi import asgi_getter

    genai_otel.instrument(only=[])
    try:
        scope = _scope(client, {"baggage": "genai_otel.agent.hops=31,gen_ai.conversation.id=c1", **headers})
        ctx = propagation.extract(scope, getter=asgi_getter)
    finally:
        genai_otel.uninstrument()
    assert baggage.get_baggage("gen_ai.conversation.id", ctx) == "c1"
    assert (baggage.get_baggage("genai_otel.agent.hops", ctx) == "31") is trusted


def test_trusted_peers_are_configurable_and_hops_capped():
    policy = BaggagePolicy.from_settings(
        Settings.from_env({"GENAI_OTEL_TRUSTED_PEERS": "100.64.0.0/10", "GENAI_OTEL_MAX_AGENT_HOPS": "8"})
    )
    assert policy.peer_trusted("100.64.1.1") and not policy.peer_trusted("127.0.0.1")
    assert not policy.peer_trusted(None)
    kept, _ = policy.accept({"genai_otel.agent.hops": "500000"}, peer_trusted=True)
    assert kept == {"genai_otel.agent.hops": "8"}
    nobody = BaggagePolicy.from_settings(Settings.from_env({"GENAI_OTEL_TRUSTED_PEERS": "none"}))
    assert not nobody.peer_trusted("127.0.0.1")


# -- item 11: control characters, garbage responses, framework merges -------------------------------


@pytest.mark.parametrize(
    "char", ["\x85", "\x9b", "\u202e", "\u2028", "\u2029", "\ufeff", "\u200b", "\u2066", "\x00"]
)
def test_unicode_controls_are_rejected_in_baggage_values(char):
    assert has_control_characters(f"conv{char}id")
    kept, rejected = BaggagePolicy.from_settings(Settings()).accept({"gen_ai.conversation.id": f"a{char}b"})
    assert kept == {} and rejected


def test_printable_unicode_values_pass():
    assert not has_control_characters("conversation-é-中文-🙂 ok")


def test_garbage_provider_response_is_skipped_not_warned(otel, recorder, caplog):
    import logging

    caplog.set_level(logging.DEBUG, logger="genai_otel")
    result = _openai_via(recorder).chat.completions.create(
        model="garbage", messages=[{"role": "user", "content": "hi"}]
    )
    assert result.choices[0].message.content == "ok"
    span = otel.only_span()
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 12  # int-like: coerced
    assert sc.GEN_AI_USAGE_OUTPUT_TOKENS not in span.attributes  # garbage: skipped
    assert sc.GEN_AI_RESPONSE_MODEL not in span.attributes  # 7 is no model name
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


def test_llamaindex_custom_llm_merged_with_an_openai_call_reports_the_client(otel, model_server):
    import openai
    from llama_index.core.llms import CompletionResponse, CustomLLM, LLMMetadata
    from llama_index.core.llms.callbacks import llm_completion_callback

    client = openai.OpenAI(base_url=model_server.openai_base_url, api_key=API_KEY, max_retries=0)

    class HouseLLM(CustomLLM):
        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(model_name="house")

        @llm_completion_callback()
        def complete(self, prompt: str, formatted: bool = False, **kwargs) -> CompletionResponse:
            answer = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}]
            )
            return CompletionResponse(text=answer.choices[0].message.content or "")

        @llm_completion_callback()
        def stream_complete(self, prompt: str, formatted: bool = False, **kwargs):
            raise NotImplementedError

    HouseLLM().complete("hello")
    (span,) = otel.genai_spans()
    assert span.attributes[sc.GEN_AI_PROVIDER_NAME] == "openai"
    assert span.attributes[sc.GEN_AI_OPERATION_NAME] == "chat"
    assert span.name.startswith("chat ")


def test_a_span_opened_on_top_of_an_ended_run_stays_the_parent():
    """``live_context`` steps over a framework run that ended in another task only while that run's span
    is still current: a span the application opened on top of it is kept (its children stay in its trace)."""
    from opentelemetry import context as otel_context
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    from genai_otel.telemetry.ownership import FrameworkScope, live_context

    tracer = TracerProvider().get_tracer("test")
    root = tracer.start_span("user root")
    before = trace.set_span_in_context(root, otel_context.Context())
    scope = FrameworkScope(before)
    run_span = tracer.start_span("RunnableSequence", context=before)
    leaked = scope.enter(trace.set_span_in_context(run_span, before))
    scope.open = False  # the run ended in another task: its context is still the caller's
    assert live_context(leaked) is before
    user = tracer.start_span("user step", context=leaked)
    on_top = trace.set_span_in_context(user, leaked)
    assert trace.get_current_span(live_context(on_top)) is user
