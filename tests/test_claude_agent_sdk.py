"""Claude Agent SDK through the real SDK and the Claude Code CLI bundled in its wheel, pointed at the local
model server (Anthropic Messages API): turns, model calls, SDK MCP tools, errors, concurrency, content,
the loop guard, context hygiene and uninstrument."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("claude_agent_sdk")

import claude_agent_sdk
from claude_agent_sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    HookMatcher,
    ResultMessage,
    query,
    tool,
)
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

import genai_otel
from genai_otel import semconv
from genai_otel.config import ContentCapture, LoopGuardAction

from .agent_frameworks import assert_failed, context_kept, run_example
from .trees import named, render, traces

TOOL_MODEL = "claude-sonnet-tool"
TOOL = "mcp__weather__get_weather"
QUESTION = "What is the weather in Paris?"
SYSTEM = "You answer weather questions."
AGENT_TREE = [
    "invoke_agent claude-code",
    f"  chat {TOOL_MODEL}",
    f"  execute_tool {TOOL}",
    "    tools/call get_weather",
    "      weather lookup",
    f"  chat {TOOL_MODEL}",
]
_tracer = trace.get_tracer("tests.claude_agent_sdk")


@tool("get_weather", "Current weather for a city", {"city": str})
async def _weather(args: dict[str, Any]) -> dict[str, Any]:
    with _tracer.start_as_current_span("weather lookup"):
        return {"content": [{"type": "text", "text": f"Sunny in {args['city']}"}]}


def _options(model_server: Any, model: str = TOOL_MODEL, **overrides: Any) -> ClaudeAgentOptions:
    # The server is made while instrumented (through the module: a name imported before instrument()
    # is the unwrapped function), so its tools' handlers are wrapped.
    settings: dict[str, Any] = {
        "model": model,
        "system_prompt": SYSTEM,
        "mcp_servers": {"weather": _server(_weather)},
        "tools": [],
        "allowed_tools": [TOOL],
        "env": {
            "ANTHROPIC_BASE_URL": model_server.url,
            "ANTHROPIC_API_KEY": "sk-local-test",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_AUTOUPDATER": "1",
            "ENABLE_TOOL_SEARCH": "false",  # declare the MCP tool to the model directly
            "CLAUDE_CODE_MAX_RETRIES": "0",
        },
    }
    settings.update(overrides)
    return ClaudeAgentOptions(**settings)


def _server(weather_tool: Any) -> Any:
    return claude_agent_sdk.create_sdk_mcp_server("weather", tools=[weather_tool])


async def _ask(options: ClaudeAgentOptions, prompt: str = QUESTION) -> list[Any]:
    return [message async for message in query(prompt=prompt, options=options)]


def _result(messages: list[Any]) -> ResultMessage:
    return next(m for m in messages if isinstance(m, ResultMessage))


def _genai_tree(otel: Any) -> list[str]:
    """The trace of the agent run (MCP's own handshake spans are separate traces)."""
    agent = named(otel.spans(), "invoke_agent")[0]
    return render(traces(otel.spans())[agent.context.trace_id])


def test_three_step_run(otel, model_server):
    messages = asyncio.run(_ask(_options(model_server)))

    assert _result(messages).result == "Echo: Sunny in Paris"
    assert _genai_tree(otel) == AGENT_TREE
    spans = otel.spans()
    agent = named(spans, "invoke_agent")[0]
    assert agent.kind is SpanKind.INTERNAL
    assert agent.attributes[semconv.GEN_AI_AGENT_NAME] == "claude-code"
    assert agent.attributes[semconv.GEN_AI_CONVERSATION_ID] == _result(messages).session_id
    assert agent.attributes[semconv.GEN_AI_PROVIDER_NAME] == "anthropic"
    assert agent.attributes[semconv.GEN_AI_REQUEST_MODEL] == TOOL_MODEL
    # One span per model call: the CLI reported two responses (the first in two content blocks).
    responses = {m.uuid for m in messages if isinstance(m, AssistantMessage)}
    assert len(responses) == 3
    chats = named(spans, "chat")
    assert len(chats) == 2
    for chat in chats:
        assert chat.kind is SpanKind.CLIENT
        assert chat.parent.span_id == agent.context.span_id
        assert chat.attributes[semconv.GEN_AI_RESPONSE_MODEL] == f"{TOOL_MODEL}-20260101"
        assert chat.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] > 0
        assert chat.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
    tool_span = named(spans, "execute_tool")[0]
    assert tool_span.attributes[semconv.GEN_AI_TOOL_NAME] == TOOL
    assert tool_span.attributes[semconv.GEN_AI_TOOL_CALL_ID]
    # The model call asking for the tool ends before the tool starts; the next starts after it.
    assert chats[0].end_time <= tool_span.start_time
    assert tool_span.end_time <= chats[1].start_time
    assert semconv.GEN_AI_INPUT_MESSAGES not in agent.attributes  # content is off by default
    assert semconv.GEN_AI_TOOL_CALL_ARGUMENTS not in tool_span.attributes


def test_client_turns_share_the_conversation(otel, model_server):
    async def run() -> list[Any]:
        async with ClaudeSDKClient(options=_options(model_server)) as client:
            results = []
            for prompt in (QUESTION, "And in Rome?"):
                await client.query(prompt)
                results += [m async for m in client.receive_response() if isinstance(m, ResultMessage)]
            return results

    results = asyncio.run(run())

    agents = named(otel.spans(), "invoke_agent")
    assert len(agents) == 2
    assert {a.attributes[semconv.GEN_AI_CONVERSATION_ID] for a in agents} == {results[0].session_id}
    assert agents[0].context.trace_id != agents[1].context.trace_id  # each turn its own trace
    by_trace = traces(otel.spans())
    assert render(by_trace[agents[0].context.trace_id]) == AGENT_TREE
    # The conversation already holds a tool result: the model server answers the second prompt in text.
    assert render(by_trace[agents[1].context.trace_id]) == [
        "invoke_agent claude-code",
        f"  chat {TOOL_MODEL}",
    ]


def test_model_error_propagates_and_marks_spans(otel, model_server):
    from claude_agent_sdk import ResultError

    with pytest.raises(ResultError) as caught:
        asyncio.run(_ask(_options(model_server, model="claude-error-500")))

    assert "500" in str(caught.value)
    agent = named(otel.spans(), "invoke_agent")[0]
    (chat,) = named(otel.spans(), "chat")
    assert chat.status.status_code is StatusCode.ERROR
    assert chat.attributes[semconv.ERROR_TYPE] == "server_error"
    assert agent.status.status_code is StatusCode.ERROR
    assert agent.attributes[semconv.ERROR_TYPE] == "error_result"


def test_tool_error_marks_the_tool_span(otel, model_server):
    @tool("get_weather", "Current weather for a city", {"city": str})
    async def broken(args: dict[str, Any]) -> dict[str, Any]:
        raise LookupError("no weather station")

    options = _options(model_server, mcp_servers={"weather": _server(broken)})
    messages = asyncio.run(_ask(options))

    assert _result(messages).result.startswith("Echo:")  # the CLI told the model; the run went on
    (tool_span,) = named(otel.spans(), "execute_tool")
    assert tool_span.status.status_code is StatusCode.ERROR
    assert tool_span.attributes[semconv.ERROR_TYPE] == "LookupError"


def test_concurrent_runs_do_not_cross(otel, model_server):
    async def run() -> list[list[Any]]:
        return await asyncio.gather(*(_ask(_options(model_server), f"{QUESTION} #{i}") for i in range(3)))

    runs = asyncio.run(run())

    agents = named(otel.spans(), "invoke_agent")
    assert len(agents) == 3
    by_trace = traces(otel.spans())
    assert len({a.context.trace_id for a in agents}) == 3
    for agent in agents:
        assert render(by_trace[agent.context.trace_id]) == AGENT_TREE
    sessions = {_result(messages).session_id for messages in runs}
    assert {a.attributes[semconv.GEN_AI_CONVERSATION_ID] for a in agents} == sessions


def test_runs_under_the_callers_span_and_leave_its_context_unchanged(otel, model_server):
    async def run() -> None:
        with _tracer.start_as_current_span("request handler") as parent, context_kept() as before:
            await _ask(_options(model_server))
            assert otel_context.get_current() is before
            # Broken off after the first message: still the caller's context, the run's spans closed.
            stream = query(prompt=QUESTION, options=_options(model_server))
            async for _ in stream:
                break
            await stream.aclose()
        return parent

    parent = asyncio.run(run())

    agents = named(otel.spans(), "invoke_agent")
    assert len(agents) == 2
    assert all(a.parent.span_id == parent.get_span_context().span_id for a in agents)
    assert all(s.end_time is not None for s in otel.spans())


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_content_capture(otel, model_server):
    import json

    asyncio.run(_ask(_options(model_server)))

    spans = otel.spans()
    agent = named(spans, "invoke_agent")[0]
    assert json.loads(agent.attributes[semconv.GEN_AI_SYSTEM_INSTRUCTIONS]) == [
        {"type": "text", "content": SYSTEM}
    ]
    assert json.loads(agent.attributes[semconv.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": QUESTION}]}
    ]
    output = json.loads(agent.attributes[semconv.GEN_AI_OUTPUT_MESSAGES])
    assert output[0]["parts"] == [{"type": "text", "content": "Echo: Sunny in Paris"}]
    first, second = named(spans, "chat")
    first_output = json.loads(first.attributes[semconv.GEN_AI_OUTPUT_MESSAGES])[0]
    assert [p["type"] for p in first_output["parts"]] == ["text", "tool_call"]
    assert first_output["parts"][1]["name"] == TOOL
    assert first_output["finish_reason"] == "tool_use"
    # The second call sees the conversation so far: the prompt, the first response, the tool result.
    second_input = json.loads(second.attributes[semconv.GEN_AI_INPUT_MESSAGES])
    assert [m["role"] for m in second_input] == ["user", "assistant", "tool"]
    assert second_input[2]["parts"][0]["type"] == "tool_call_response"
    for span in (agent, first, second):
        (definition,) = json.loads(span.attributes[semconv.GEN_AI_TOOL_DEFINITIONS])
        assert definition["name"] == TOOL and definition["description"] == "Current weather for a city"
        assert definition["parameters"]["properties"]["city"]["type"] == "string"
    tool_span = named(spans, "execute_tool")[0]
    assert json.loads(tool_span.attributes[semconv.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"city": "Paris"}
    assert "Sunny in Paris" in tool_span.attributes[semconv.GEN_AI_TOOL_CALL_RESULT]


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_streamed_prompts_join_the_running_turn(otel, model_server):
    import json

    async def prompts() -> Any:
        for text in (QUESTION, "And in Rome?"):
            yield {"type": "user", "message": {"role": "user", "content": text}, "parent_tool_use_id": None}

    async def run() -> list[Any]:
        return [m async for m in query(prompt=prompts(), options=_options(model_server))]

    messages = asyncio.run(run())

    # The CLI hands a prompt arriving during a turn to that turn (here usually both make one turn); one
    # arriving after it makes a turn of its own: one agent span per turn either way, each prompt on one.
    agents = named(otel.spans(), "invoke_agent")
    assert len(agents) == len([m for m in messages if isinstance(m, ResultMessage)])
    inputs = [json.loads(a.attributes.get(semconv.GEN_AI_INPUT_MESSAGES, "[]")) for a in agents]
    assert [m["parts"][0]["content"] for turn in inputs for m in turn] == [QUESTION, "And in Rome?"]
    assert render(traces(otel.spans())[agents[0].context.trace_id])[:3] == AGENT_TREE[:3]


@pytest.mark.genai_settings(max_agent_steps=1)
def test_loop_guard_marks_the_agent(otel, model_server):
    asyncio.run(_ask(_options(model_server)))

    agent = named(otel.spans(), "invoke_agent")[0]
    assert agent.attributes[semconv.GENAI_OTEL_LOOP_GUARD_LIMIT] == "steps"
    assert agent.attributes[semconv.GENAI_OTEL_AGENT_STEPS] == 3


@pytest.mark.genai_settings(max_agent_steps=1, loop_guard_action=LoopGuardAction.RAISE)
def test_loop_guard_raise_stops_the_run_before_the_tool(otel, model_server):
    """The CLI cannot receive our exception: the tool call is denied and the run stopped instead."""
    messages = asyncio.run(_ask(_options(model_server)))

    assert _result(messages).num_turns == 2  # no model call after the denied tool
    assert _genai_tree(otel) == ["invoke_agent claude-code", f"  chat {TOOL_MODEL}", f"  execute_tool {TOOL}"]
    agent = named(otel.spans(), "invoke_agent")[0]
    tool_span = named(otel.spans(), "execute_tool")[0]
    assert_failed((agent, tool_span), "AgentLoopError")


def test_partial_messages_make_streamed_calls(otel, model_server):
    messages = asyncio.run(_ask(_options(model_server, include_partial_messages=True)))

    assert _genai_tree(otel) == AGENT_TREE  # stream events never add a model call
    assert any(type(m).__name__ == "StreamEvent" for m in messages)
    first, second = named(otel.spans(), "chat")
    for chat in (first, second):
        assert chat.attributes[semconv.GEN_AI_REQUEST_STREAM] is True
        assert chat.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    # The CLI starts a tool as soon as its block is complete, before the response's last event: the
    # call asking for the tool ends there, so only the last call knows its stop reason.
    assert second.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("end_turn",)


def test_application_hooks_keep_working_and_uninstrument_restores(otel, model_server):
    from claude_agent_sdk._internal.query import Query
    from claude_agent_sdk._internal.transport.subprocess_cli import SubprocessCLITransport

    seen: list[str] = []

    async def on_tool(data: dict[str, Any], tool_use_id: str | None, context: Any) -> dict[str, Any]:
        seen.append(data["hook_event_name"])
        return {}

    hooks = {"PreToolUse": [HookMatcher(hooks=[on_tool])], "PostToolUse": [HookMatcher(hooks=[on_tool])]}
    asyncio.run(_ask(_options(model_server, hooks=hooks)))
    assert seen == ["PreToolUse", "PostToolUse"]
    assert named(otel.spans(), "execute_tool")

    genai_otel.uninstrument()
    for owner, method in (
        (Query, "__init__"),
        (Query, "_handle_sdk_mcp_request"),
        (SubprocessCLITransport, "write"),
        (SubprocessCLITransport, "read_messages"),
    ):
        assert not hasattr(vars(owner)[method], "__wrapped__"), method
    assert not hasattr(claude_agent_sdk.create_sdk_mcp_server, "__wrapped__")
    otel_spans = len(otel.spans())
    seen.clear()
    asyncio.run(_ask(_options(model_server, hooks=hooks)))
    assert seen == ["PreToolUse", "PostToolUse"]
    assert not named(otel.spans()[otel_spans:], "invoke_agent")


def test_example_prints_the_agent_tree(model_server):
    out = run_example("claude_agent_sdk_example.py", OPENAI_BASE_URL=model_server.openai_base_url)
    assert "answer: Echo: Sunny and 21 C in Paris" in out
    assert "invoke_agent claude-code" in out
    assert f"execute_tool {TOOL}" in out
    assert out.count(f"chat {TOOL_MODEL}") == 2


def test_subagents_nest_under_their_task_call(otel, model_server):
    # The model server's tool-calling model calls the first declared tool, Agent, at every level (each
    # sub-agent may start another) until the nesting limit, where it is left with Read.
    options = _options(model_server, tools=["Agent", "Read"], allowed_tools=["Agent", "Read"], mcp_servers={})
    options.env["CLAUDE_CODE_DISABLE_BACKGROUND_TASKS"] = "1"  # the Task call waits for its sub-agent
    messages = asyncio.run(_ask(options))

    tree = _genai_tree(otel)
    assert tree[:5] == [
        "invoke_agent claude-code",
        f"  chat {TOOL_MODEL}",
        "  execute_tool Agent",
        "    invoke_agent general-purpose",
        f"      chat {TOOL_MODEL}",
    ]
    assert tree[-1] == f"  chat {TOOL_MODEL}"
    spans = otel.spans()
    by_id = {s.context.span_id: s for s in spans}
    subagents = [s for s in named(spans, "invoke_agent") if s.name != "invoke_agent claude-code"]
    assert len(subagents) >= 2
    session_id = _result(messages).session_id
    for subagent in subagents:
        assert by_id[subagent.parent.span_id].name == "execute_tool Agent"
        assert subagent.attributes[semconv.GEN_AI_AGENT_ID]
        assert subagent.attributes[semconv.GEN_AI_CONVERSATION_ID] == session_id
        # Every agent's spans end inside it.
        assert subagent.end_time <= by_id[subagent.parent.span_id].end_time


def test_cli_span_export_is_off_while_ours_cover_the_session(otel, model_server):
    """The CLI's own tracing (turn, model call and tool spans: copies of ours) exports nothing while the
    session is traced here; after uninstrument it exports as configured."""
    from genai_otel.testing.otlp_receiver import OtlpReceiver

    with OtlpReceiver() as receiver:

        def cli_tracing_options() -> ClaudeAgentOptions:
            options = _options(model_server)
            options.env.pop("DISABLE_TELEMETRY")
            options.env.update(
                {
                    "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
                    "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA": "1",
                    "OTEL_TRACES_EXPORTER": "otlp",
                    "OTEL_METRICS_EXPORTER": "none",
                    "OTEL_LOGS_EXPORTER": "none",
                    "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                    "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                }
            )
            return options

        asyncio.run(_ask(cli_tracing_options()))
        assert _genai_tree(otel) == AGENT_TREE
        assert receiver.spans() == []

        genai_otel.uninstrument()
        asyncio.run(_ask(cli_tracing_options()))
        names = {span.name for _, span in receiver.spans()}
        assert {"claude_code.interaction", "claude_code.llm_request", "claude_code.tool"} <= names
