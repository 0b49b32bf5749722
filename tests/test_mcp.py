"""MCP over streamable HTTP with the real SDK: the server's spans join the client's trace, agent
baggage reaches your own servers and never an external one."""

from __future__ import annotations

import pytest
from opentelemetry.trace import SpanKind

import genai_otel
from genai_otel.instrumentation.mcp import MCP_SERVER_HOST

from .servers import serve_asgi, wait_until


@pytest.fixture
def mcp_server_url(otel):
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("knowledge")

    @server.tool()
    def whoami() -> str:
        """Reports the agent path the request arrived with."""
        with genai_otel.agent("librarian"):
            return genai_otel.current_agent_path() or "none"

    with serve_asgi(server.streamable_http_app()) as url:
        yield f"{url}/mcp"


async def _call_whoami(url: str) -> str:
    from mcp import ClientSession
    from mcp.client import streamable_http

    async with (
        streamable_http.streamable_http_client(url) as streams,
        ClientSession(streams[0], streams[1]) as session,
    ):
        await session.initialize()
        result = await session.call_tool("whoami", {})
    return result.content[0].text


async def test_mcp_call_continues_the_trace_with_agent_baggage(otel, mcp_server_url):
    async with genai_otel.agent("supervisor") as sup:
        assert await _call_whoami(mcp_server_url) == "supervisor>librarian"
    wait_until(lambda: any(s.name == "invoke_agent librarian" for s in otel.spans()))
    spans = otel.spans()
    librarian = next(s for s in spans if s.name == "invoke_agent librarian")
    server = next(s for s in spans if s.kind is SpanKind.SERVER and s.name == "tools/call whoami")
    client = next(s for s in spans if s.kind is SpanKind.CLIENT and s.name == "MCP send tools/call whoami")
    assert librarian.context.trace_id == sup.span.get_span_context().trace_id
    assert librarian.parent.span_id == server.context.span_id
    assert server.parent.span_id == client.context.span_id


def test_external_mcp_servers_get_trace_context_but_no_baggage(otel):
    from mcp.shared import jsonrpc_dispatcher

    for host, forwarded in (("mcp.example.com", False), ("10.0.0.7", True)):
        meta: dict = {}
        token = MCP_SERVER_HOST.set(host)
        try:
            with genai_otel.agent("supervisor"):
                jsonrpc_dispatcher.inject_trace_context(meta)
        finally:
            MCP_SERVER_HOST.reset(token)
        assert "traceparent" in meta
        assert ("baggage" in meta) is forwarded, host
