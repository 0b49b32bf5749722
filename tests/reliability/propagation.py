"""Hostile propagation headers and faults injected under the instrumentation.

Each row counts ``leaks`` (baggage accepted that the policy forbids, or sent where it must not go)
and ``app_exceptions`` (exceptions of ours reaching the application). The propagation rows drive the
real guarded propagator (W3C trace context + baggage) with ASGI scopes as the contrib server
instrumentations pass them; the fault rows run ``genai_otel.agent`` / ``genai_otel.tool`` code while a
tracer provider, a meter provider, a span exporter or one of our own functions raises.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter

import genai_otel
from genai_otel import propagation
from genai_otel.config import Settings
from genai_otel.propagation import policy
from genai_otel.telemetry import handler as handler_module

PUBLIC_PEER = "8.8.4.4"
NUMERIC_PUBLIC_HOSTS = (
    "134744072",
    "0x8080808",
    "010.010.010.010",
    "8.8.2056",
    "[::ffff:8.8.8.8]",
    "[2606:4700::1111]",
    "1.2.3.4.5",
)


def _scope(peer: str, baggage_header: str, traceparent: str | None = None) -> dict:
    headers = [(b"baggage", baggage_header.encode("utf-8", "surrogatepass"))]
    if traceparent:
        headers.append((b"traceparent", traceparent.encode()))
    return {"type": "http", "client": (peer, 40000), "headers": headers}


def _inbound(scope: dict) -> dict[str, str]:
    from opentelemetry.instrumentation.asgi import asgi_getter

    token = otel_context.attach(otel_context.Context())
    try:
        return dict(baggage.get_all(propagation.extract(scope, getter=asgi_getter)))
    finally:
        otel_context.detach(token)


def _forbidden(accepted: dict[str, str], *, trusted_peer: bool) -> int:
    """Entries the policy must never let in: unknown keys, oversized or control-character values,
    and loop-guard keys from an untrusted peer."""
    bad = 0
    for key, value in accepted.items():
        if (
            key not in policy.OWN_KEYS
            or len(value) > 256
            or policy.has_control_characters(value)
            or (key in policy.GUARD_KEYS and not trusted_peer)
        ):
            bad += 1
    return bad


def _hostile_rows(n: int) -> Iterator[dict]:
    controls = ["\x85", "\x9b", "\u202e", "\u2028", "\ufeff", "\x07"]
    cases: list[tuple[str, Callable[[int], str], bool]] = [
        ("179 unknown keys", lambda i: ",".join(f"k{j}=v" for j in range(179)), True),
        (
            "oversized values (300 and 9,000 chars)",
            lambda i: f"genai_otel.agent.path={'p' * (300 + i)}",
            True,
        ),
        (
            "control characters in values (C0, C1, bidi, separators)",
            lambda i: f"gen_ai.conversation.id=a{controls[i % len(controls)]}b",
            True,
        ),
        ("forged hops=9999999", lambda i: "genai_otel.agent.hops=9999999", True),
        ("hops=32 from a public peer", lambda i: "genai_otel.agent.hops=32", False),
        ("hops=32 relayed for a public client", lambda i: "genai_otel.agent.hops=32", False),
        ("garbage header", lambda i: ";;;===,,,%%%\xff" * (1 + i % 50), True),
    ]
    for name, header, trusted in cases:
        leaks = errors = 0
        for i in range(n):
            peer = PUBLIC_PEER if name.endswith("public peer") else "10.0.0.7"
            scope = _scope(peer, header(i))
            if "relayed" in name:
                scope["headers"].append((b"x-forwarded-for", PUBLIC_PEER.encode()))
            try:
                leaks += _forbidden(_inbound(scope), trusted_peer=trusted)
            except Exception:
                errors += 1
        yield {"scenario": f"inbound baggage: {name}", "sent": n, "leaks": leaks, "app_exceptions": errors}


def _outbound_rows(n: int) -> Iterator[dict]:
    ctx = baggage.set_baggage("gen_ai.conversation.id", "conv-secret")
    rows = {
        "numeric public hosts": [
            {"host": NUMERIC_PUBLIC_HOSTS[i % len(NUMERIC_PUBLIC_HOSTS)]} for i in range(n)
        ],
        "unsampled parent, provider host unknown to the span": [{} for _ in range(n)],
    }
    unsampled = trace.set_span_in_context(
        trace.NonRecordingSpan(
            trace.SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=trace.TraceFlags(0))
        ),
        ctx,
    )
    for name, carriers in rows.items():
        leaks = errors = 0
        for carrier in carriers:
            try:
                # What a contrib HTTP client does: the global propagator's inject, no destination.
                from opentelemetry import propagate

                propagate.inject(carrier, context=unsampled if "unsampled" in name else ctx)
                leaks += "baggage" in carrier
            except Exception:
                errors += 1
        yield {"scenario": f"outbound baggage: {name}", "sent": n, "leaks": leaks, "app_exceptions": errors}


class _RaisingTracerProvider(trace.TracerProvider):
    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        raise RuntimeError("injected: tracer provider broken")


class _RaisingSpanTracerProvider(TracerProvider):
    """A real SDK provider whose spans raise when they are started (injected fault)."""

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        tracer = super().get_tracer(*args, **kwargs)

        def start_span(*a: Any, **k: Any) -> trace.Span:
            raise RuntimeError("injected: start_span broken")

        tracer.start_span = start_span  # type: ignore[method-assign]
        return tracer


class _RaisingMeterProvider:
    def get_meter(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("injected: meter provider broken")


class _RaisingExporter(SpanExporter):
    def export(self, spans: Any) -> Any:
        raise RuntimeError("injected: exporter broken")

    def shutdown(self) -> None:
        pass


def _agent_work(n: int) -> tuple[int, int]:
    """``n`` agent runs with a tool call each; returns (exceptions of ours reaching the app, the
    app's own exceptions that did not arrive unchanged)."""

    @genai_otel.tool("lookup")
    def lookup(query: str) -> str:
        return query.upper()

    @genai_otel.agent("planner")
    def plan(i: int) -> str:
        if i % 10 == 9:
            raise KeyError(f"user error {i}")
        return lookup(f"q{i}")

    ours = altered = 0
    for i in range(n):
        try:
            plan(i)
        except KeyError as error:
            altered += error.args != (f"user error {i}",)
        except Exception:
            ours += 1
    return ours, altered


@contextlib.contextmanager
def _handler(**kwargs: Any) -> Iterator[None]:
    previous = handler_module._default_handler
    try:
        handler_module.set_default_handler(handler_module.TelemetryHandler(settings=Settings(), **kwargs))
    except Exception:
        handler_module.set_default_handler(None)
        raise
    try:
        yield
    finally:
        handler_module.set_default_handler(previous)


@contextlib.contextmanager
def _patched(owner: Any, name: str) -> Iterator[None]:
    original = getattr(owner, name)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"injected: {name} broken")

    setattr(owner, name, broken)
    try:
        yield
    finally:
        setattr(owner, name, original)


def _fault_rows(n: int) -> Iterator[dict]:
    exporting = TracerProvider()
    exporting.add_span_processor(SimpleSpanProcessor(_RaisingExporter()))
    faults: list[tuple[str, Callable[[], Any]]] = [
        (
            "tracer provider whose spans raise on start",
            lambda: _handler(tracer_provider=_RaisingSpanTracerProvider()),
        ),
        ("span exporter that raises", lambda: _handler(tracer_provider=exporting)),
        ("handler bug: reading the record raises", lambda: _patched(handler_module, "_read")),
        (
            "handler bug: metrics recording raises",
            lambda: _patched(handler_module.TelemetryHandler, "_record_metrics"),
        ),
    ]
    for name, make in faults:
        setup_error = False
        try:
            with make():
                ours, altered = _agent_work(n)
        except Exception:
            setup_error, ours, altered = True, 0, 0
        yield {
            "scenario": f"fault: {name}",
            "sent": n,
            "app_exceptions": ours + altered + setup_error,
            "notes": "handler set-up failed" if setup_error else "",
        }
    for name, provider in (
        ("tracer provider that raises", {"tracer_provider": _RaisingTracerProvider()}),
        ("meter provider that raises", {"meter_provider": _RaisingMeterProvider()}),
    ):
        # A provider broken at set-up: instrument() must still return and the app run.
        try:
            genai_otel.instrument(only=[], **provider)
            try:
                ours, altered = _agent_work(n)
            finally:
                genai_otel.uninstrument()
            yield {"scenario": f"fault: {name}", "sent": n, "app_exceptions": ours + altered}
        except Exception as error:
            yield {
                "scenario": f"fault: {name}",
                "sent": n,
                "app_exceptions": 1,
                "notes": f"instrument() raised {type(error).__name__}",
            }
    for name, target in (
        ("propagator bug: inbound filter raises", "_filter_inbound"),
        ("propagator bug: outbound filter raises", "_filter_outbound"),
    ):
        leaks = errors = 0
        with _patched(propagation.AgentContextPropagator, target):
            for i in range(n):
                try:
                    if "inbound" in name:
                        leaks += len(_inbound(_scope(PUBLIC_PEER, f"evil{i}=1,genai_otel.agent.hops=32")))
                    else:
                        from opentelemetry import propagate

                        carrier: dict[str, str] = {}
                        propagate.inject(carrier, context=baggage.set_baggage("k", "v"))
                        leaks += "baggage" in carrier
                except Exception:
                    errors += 1
        yield {"scenario": f"fault: {name}", "sent": n, "leaks": leaks, "app_exceptions": errors}


def scenarios(full: bool) -> Iterator[dict]:
    """Hostile propagation headers and injected faults; ``full`` runs each 10,000 times (CI: 200)."""
    n = 10_000 if full else 200
    propagation.install(Settings())  # as instrument() or any instrumentor under opentelemetry-instrument
    try:
        yield from _hostile_rows(n)
        yield from _outbound_rows(n)
        yield from _fault_rows(n)
    finally:
        propagation.uninstall()
