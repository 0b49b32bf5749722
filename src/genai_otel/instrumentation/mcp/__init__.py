"""MCP (the ``mcp`` Python SDK 2.x): trace context in the request ``_meta``, under the baggage policy.

The SDK already opens client and server spans and carries ``traceparent`` / ``tracestate`` /
``baggage`` in ``params._meta`` (SEP-414) through the global propagator, which genai-otel wraps:
inbound baggage on the server is filtered by the allow-list and size caps. What the SDK lacks:

- its server span continues the caller's trace but drops the caller's baggage, so the agent path
  and conversation id never reach the tool; genai-otel makes the accepted baggage current while
  the request is handled;
- a notion of *where* a request goes: genai-otel remembers the server URL of each
``streamable_http_client`` / ``sse_client`` connection, so agent baggage reaches your own MCP
servers (loopback, private networks, ``GENAI_OTEL_BAGGAGE_TRUSTED_HOSTS``) but not external ones;
stdio servers are local processes and get it.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import baggage
from opentelemetry import context as otel_context

from genai_otel import propagation
from genai_otel.instrumentation._base import GenAIInstrumentor, Patch
from genai_otel.telemetry import TelemetryHandler

#: Host of the MCP server the current task is connected to over HTTP (None: stdio or unknown).
MCP_SERVER_HOST: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "genai_otel_mcp_host", default=None
)


class _RemembersServer:
    """Wraps a transport's async context manager: while open, the task knows the server host."""

    def __init__(self, manager: Any, url: str | None) -> None:
        self._manager = manager
        self._host = urlsplit(url).hostname if url else None
        self._token: contextvars.Token | None = None

    async def __aenter__(self) -> Any:
        streams = await self._manager.__aenter__()
        self._token = MCP_SERVER_HOST.set(self._host)
        return streams

    async def __aexit__(self, *exc: Any) -> Any:
        if self._token is not None:
            MCP_SERVER_HOST.reset(self._token)
            self._token = None
        return await self._manager.__aexit__(*exc)


def _transport(handler: TelemetryHandler) -> Any:
    def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        url = args[0] if args else kwargs.get("url")
        return _RemembersServer(wrapped(*args, **kwargs), url if isinstance(url, str) else None)

    return wrapper


def _inject(handler: TelemetryHandler) -> Any:
    def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        meta = args[0] if args else kwargs["meta"]
        host = MCP_SERVER_HOST.get()
        if host is None:
            return wrapped(*args, **kwargs)
        propagation.inject(meta, destination=host)
        return None

    return wrapper


def _server_middleware(handler: TelemetryHandler) -> Any:
    async def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        request = args[0] if args else kwargs.get("ctx")
        meta = getattr(request, "meta", None)
        if not meta:
            return await wrapped(*args, **kwargs)
        inbound = baggage.get_all(propagation.extract(meta, context=otel_context.Context()))
        ctx = otel_context.get_current()
        for key, value in inbound.items():
            ctx = baggage.set_baggage(key, value, ctx)
        token = otel_context.attach(ctx)
        try:
            return await wrapped(*args, **kwargs)
        finally:
            otel_context.detach(token)

    return wrapper


class McpInstrumentor(GenAIInstrumentor):
    """Applies genai-otel's baggage trust boundary to the MCP SDK's own propagation."""

    dependencies = ("mcp >= 2.0",)

    def patches(self) -> Iterable[Patch]:
        yield Patch("mcp.shared.jsonrpc_dispatcher", "inject_trace_context", _inject)
        yield Patch("mcp.server._otel", "OpenTelemetryMiddleware.__call__", _server_middleware)
        yield Patch("mcp.client.streamable_http", "streamable_http_client", _transport)
        yield Patch("mcp.client.sse", "sse_client", _transport)
