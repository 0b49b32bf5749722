"""A2A with the real a2a-sdk over JSON-RPC/HTTP: one trace across client and server, A2A spans per
the conventions, and agent baggage reaching the remote agent's executor."""

from __future__ import annotations

import pytest
from opentelemetry.trace import SpanKind

import genai_otel
from genai_otel import semconv as sc

from .servers import free_port, serve_asgi, wait_until


def _card(url: str, streaming: bool):
    from a2a.types.a2a_pb2 import AgentCapabilities, AgentCard, AgentInterface

    return AgentCard(
        name="translator",
        description="Translates text",
        version="1.2.0",
        supported_interfaces=[AgentInterface(protocol_binding="JSONRPC", url=f"{url}/rpc")],
        capabilities=AgentCapabilities(streaming=streaming),
        default_input_modes=["text"],
        default_output_modes=["text"],
    )


@pytest.fixture(params=[False, True], ids=["send", "stream"])
def a2a_agent(request, otel):
    from a2a.helpers.proto_helpers import new_task_from_user_message, new_text_status_update_event
    from a2a.server.agent_execution.agent_executor import AgentExecutor
    from a2a.server.request_handlers.default_request_handler_v2 import DefaultRequestHandlerV2
    from a2a.server.routes.agent_card_routes import create_agent_card_routes
    from a2a.server.routes.jsonrpc_routes import create_jsonrpc_routes
    from a2a.server.tasks import InMemoryTaskStore
    from a2a.types.a2a_pb2 import TaskState
    from opentelemetry.instrumentation.starlette import StarletteInstrumentor
    from starlette.applications import Starlette

    class Translator(AgentExecutor):
        async def execute(self, context, event_queue):
            async with genai_otel.agent("translator"):
                path = genai_otel.current_agent_path()
            task = context.current_task or new_task_from_user_message(context.message)
            await event_queue.enqueue_event(task)
            await event_queue.enqueue_event(
                new_text_status_update_event(
                    task_id=task.id,
                    context_id=task.context_id,
                    state=TaskState.TASK_STATE_COMPLETED,
                    text=f"path={path}",
                )
            )

        async def cancel(self, context, event_queue):
            raise NotImplementedError

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    card = _card(url, streaming=request.param)
    handler = DefaultRequestHandlerV2(
        agent_executor=Translator(), task_store=InMemoryTaskStore(), agent_card=card
    )
    app = Starlette(routes=create_jsonrpc_routes(handler, "/rpc") + create_agent_card_routes(card))
    StarletteInstrumentor.instrument_app(app)
    with serve_asgi(app, port):
        yield card, request.param


async def test_a2a_call_is_one_trace_with_a2a_spans_and_agent_baggage(otel, a2a_agent):
    from a2a.client.client_factory import ClientConfig, create_client
    from a2a.helpers.proto_helpers import new_text_message
    from a2a.types.a2a_pb2 import Role, SendMessageRequest
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    card, streaming = a2a_agent
    HTTPXClientInstrumentor().instrument()
    try:
        client = await create_client(card, client_config=ClientConfig(streaming=streaming))
        message = new_text_message("hola", role=Role.ROLE_USER, context_id="ctx-42")
        async with genai_otel.agent("supervisor") as sup:
            events = [e async for e in client.send_message(SendMessageRequest(message=message))]
        await client.close()
    finally:
        HTTPXClientInstrumentor().uninstrument()
    assert events
    method = "SendStreamingMessage" if streaming else "SendMessage"
    wait_until(lambda: any(s.kind is SpanKind.SERVER and s.name == method for s in otel.spans()))
    spans = [s for s in otel.spans() if s.instrumentation_scope.name != "a2a-python-sdk"]
    client_span = next(s for s in spans if s.kind is SpanKind.CLIENT and s.name == method)
    server_span = next(s for s in spans if s.kind is SpanKind.SERVER and s.name == method)
    translator = next(s for s in spans if s.name == "invoke_agent translator")
    trace_id = sup.span.get_span_context().trace_id
    assert {client_span.context.trace_id, server_span.context.trace_id, translator.context.trace_id} == {
        trace_id
    }
    assert client_span.parent.span_id == sup.span.get_span_context().span_id
    for span in (client_span, server_span):
        assert span.attributes[sc.A2A_METHOD_NAME] == method
        assert span.attributes[sc.A2A_MESSAGE_ID] == message.message_id
        assert span.attributes[sc.GEN_AI_CONVERSATION_ID] == "ctx-42"
        assert span.attributes[sc.GEN_AI_AGENT_NAME] == "translator"
        assert span.attributes[sc.GEN_AI_AGENT_VERSION] == "1.2.0"
        assert span.attributes[sc.A2A_TASK_STATE] == "TASK_STATE_COMPLETED"
        assert span.attributes[sc.A2A_TASK_ID]
    assert client_span.attributes[sc.SERVER_ADDRESS] == "127.0.0.1"
    assert translator.attributes[sc.GENAI_OTEL_AGENT_PATH] == "supervisor>translator"
