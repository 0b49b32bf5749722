"""Failures of the user's own calls, through the real libraries: the exception reaches the app unchanged
(the very type and arguments the library raises without genai-otel), and the span says what failed
(status ERROR, ``error.type``) -- for vector stores, messaging sends (Redis Streams, NATS), and MCP and
A2A servers that fail.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import SpanKind, StatusCode

import genai_otel
from genai_otel import semconv as sc

from .servers import free_port, serve_asgi, wait_until


def _raised(call: Callable[[], Any]) -> BaseException:
    try:
        call()
    except BaseException as error:
        return error
    raise AssertionError("the call did not fail")


def assert_passes_unchanged(call: Callable[[], Any]) -> BaseException:
    """``call`` fails the same way with and without instrumentation; returns the instrumented error."""
    with suppress_instrumentation():  # the library's own behaviour, no span
        plain = _raised(call)
    instrumented = _raised(call)
    assert type(instrumented) is type(plain)
    assert instrumented.args == plain.args
    return instrumented


def assert_failed_span(span: Any, error: BaseException) -> None:
    assert span.status.status_code is StatusCode.ERROR, span.name
    assert span.attributes[sc.ERROR_TYPE] == type(error).__qualname__, dict(span.attributes)


def _only(otel: Any, name: str) -> Any:
    [span] = [s for s in otel.spans() if s.name == name]
    return span


# -- vector stores -----------------------------------------------------------------------------------------


@pytest.mark.instrument_only("chromadb")
def test_chroma_failing_query(otel):
    import chromadb

    collection = chromadb.EphemeralClient().create_collection(
        f"e_{uuid.uuid4().hex[:8]}", embedding_function=None
    )
    collection.add(ids=["a"], embeddings=[[0.1, 0.2, 0.3]])
    otel_spans_before = len(otel.spans())
    error = assert_passes_unchanged(lambda: collection.query(query_embeddings=[[0.1, 0.2]], n_results=1))
    assert len(otel.spans()) == otel_spans_before + 1  # the suppressed call made none
    assert_failed_span(_only(otel, f"query {collection.name}"), error)


@pytest.mark.instrument_only("qdrant_client")
def test_qdrant_failing_query(otel):
    from qdrant_client import QdrantClient

    client = QdrantClient(":memory:")
    error = assert_passes_unchanged(lambda: client.query_points("missing", query=[0.1, 0.2], limit=1))
    assert_failed_span(_only(otel, "query_points missing"), error)


@pytest.mark.instrument_only("faiss")
def test_faiss_failing_search(otel):
    import faiss
    import numpy

    index = faiss.IndexFlatL2(4)
    index.add(numpy.ones((2, 4), dtype="float32"))
    error = assert_passes_unchanged(lambda: index.search(numpy.ones((1, 3), dtype="float32"), 1))
    [span] = [s for s in otel.spans() if s.attributes.get(sc.DB_OPERATION_NAME) == "search"]
    assert_failed_span(span, error)


@pytest.mark.instrument_only("lancedb")
def test_lancedb_failing_search(otel, tmp_path):
    import lancedb

    table = lancedb.connect(tmp_path / "lance").create_table("kb", data=[{"vector": [0.1, 0.2], "id": 1}])
    query = table.search([0.1, 0.2]).where("missing_column > 1").limit(1)  # fails when run
    error = assert_passes_unchanged(query.to_arrow)
    [span] = [s for s in otel.spans() if s.attributes.get(sc.DB_OPERATION_NAME) == "search"]
    assert_failed_span(span, error)


# -- messaging ---------------------------------------------------------------------------------------------


@pytest.mark.instrument_only("redis")
def test_redis_streams_send_failure(otel, redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    key = f"not-a-stream-{uuid.uuid4().hex[:6]}"
    client.set(key, "a plain string")  # XADD to it fails with WRONGTYPE on the server
    error = assert_passes_unchanged(lambda: client.xadd(key, {"k": "v"}))
    assert type(error).__name__ == "ResponseError" and "WRONGTYPE" in str(error)
    span = _only(otel, f"xadd {key}")
    assert span.kind is SpanKind.PRODUCER
    assert_failed_span(span, error)


@pytest.mark.instrument_only("nats")
def test_nats_publish_failure(otel, nats_url):
    import nats

    async def scenario() -> tuple[BaseException, BaseException]:
        client = await nats.connect(nats_url)
        too_big = b"x" * (client.max_payload + 1)
        errors = []
        for suppressed in (True, False):
            try:
                if suppressed:
                    with suppress_instrumentation():
                        await client.publish("big.subject", too_big)
                else:
                    await client.publish("big.subject", too_big)
            except Exception as error:
                errors.append(error)
        await client.close()
        return errors[0], errors[1]

    plain, error = asyncio.run(scenario())
    assert type(error) is type(plain) and error.args == plain.args
    span = _only(otel, "publish big.subject")
    assert span.kind is SpanKind.PRODUCER
    assert_failed_span(span, error)


# -- MCP ---------------------------------------------------------------------------------------------------


@pytest.fixture
def failing_mcp_url(otel):
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("failing")

    @server.tool()
    def explode() -> str:
        """Always fails."""
        raise RuntimeError("the tool broke")

    @server.tool()
    def fine() -> str:
        """Works, and sees the caller's agent path."""
        return genai_otel.current_agent_path() or "none"

    with serve_asgi(server.streamable_http_app()) as url:
        yield f"{url}/mcp"


async def test_mcp_server_error(otel, failing_mcp_url):
    from mcp import ClientSession
    from mcp.client import streamable_http

    async with (
        streamable_http.streamable_http_client(failing_mcp_url) as streams,
        ClientSession(streams[0], streams[1]) as session,
    ):
        await session.initialize()
        async with genai_otel.agent("caller"):
            broken = await session.call_tool("explode", {})
            # The server's context was restored after the failure: the next call works and sees its caller.
            after = await session.call_tool("fine", {})
    assert broken.is_error and "explode" in broken.content[0].text
    assert not after.is_error and after.content[0].text == "caller"
    wait_until(lambda: any(s.kind is SpanKind.SERVER and s.name == "tools/call fine" for s in otel.spans()))
    server = next(s for s in otel.spans() if s.kind is SpanKind.SERVER and s.name == "tools/call explode")
    assert server.status.status_code is StatusCode.ERROR


# -- A2A ---------------------------------------------------------------------------------------------------


@pytest.fixture
def failing_a2a_card(otel):
    from a2a.server.agent_execution.agent_executor import AgentExecutor
    from a2a.server.request_handlers.default_request_handler_v2 import DefaultRequestHandlerV2
    from a2a.server.routes.agent_card_routes import create_agent_card_routes
    from a2a.server.routes.jsonrpc_routes import create_jsonrpc_routes
    from a2a.server.tasks import InMemoryTaskStore
    from starlette.applications import Starlette

    from .test_a2a import _card

    class Broken(AgentExecutor):
        async def execute(self, context, event_queue):
            raise RuntimeError("the agent broke")

        async def cancel(self, context, event_queue):
            raise NotImplementedError

    port = free_port()
    card = _card(f"http://127.0.0.1:{port}", streaming=False)
    handler = DefaultRequestHandlerV2(
        agent_executor=Broken(), task_store=InMemoryTaskStore(), agent_card=card
    )
    app = Starlette(routes=create_jsonrpc_routes(handler, "/rpc") + create_agent_card_routes(card))
    with serve_asgi(app, port):
        yield card


async def test_a2a_server_error(otel, failing_a2a_card):
    from a2a.client.client_factory import ClientConfig, create_client
    from a2a.helpers.proto_helpers import new_text_message
    from a2a.types.a2a_pb2 import Role, SendMessageRequest

    async def send() -> BaseException:
        client = await create_client(failing_a2a_card, client_config=ClientConfig(streaming=False))
        message = new_text_message("hola", role=Role.ROLE_USER, context_id="ctx-err")
        try:
            async for _event in client.send_message(SendMessageRequest(message=message)):
                pass
        except Exception as error:
            return error
        finally:
            await client.close()
        raise AssertionError("the failing agent did not fail the call")

    with suppress_instrumentation():
        plain = await send()
    error = await send()
    assert type(error) is type(plain) and str(error) == str(plain)
    wait_until(lambda: any(s.kind is SpanKind.SERVER and s.name == "SendMessage" for s in otel.spans()))
    spans = [s for s in otel.spans() if s.instrumentation_scope.name == "genai_otel"]
    client_span = next(s for s in spans if s.kind is SpanKind.CLIENT and s.name == "SendMessage")
    server_span = next(s for s in spans if s.kind is SpanKind.SERVER and s.name == "SendMessage")
    assert_failed_span(client_span, error)
    assert server_span.status.status_code is StatusCode.ERROR
    assert server_span.attributes[sc.ERROR_TYPE]
