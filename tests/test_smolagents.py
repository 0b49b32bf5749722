"""smolagents through the real framework, the real OpenAI SDK and the local model server: the trace of a
ToolCallingAgent run (model -> get_weather -> model -> final_answer), streamed and concurrent, managed
agents, CodeAgent, one span per model call, errors, content capture, the loop guard and uninstrument."""

from __future__ import annotations

import asyncio
import json

import pytest

pytest.importorskip("smolagents")

from opentelemetry import context as otel_context
from opentelemetry.trace import StatusCode
from smolagents import CodeAgent, OpenAIServerModel, Tool, ToolCallingAgent, local_python_executor, tool
from smolagents.agents import MultiStepAgent
from smolagents.memory import ActionStep
from smolagents.utils import AgentGenerationError

import genai_otel
from genai_otel import semconv
from genai_otel.config import ContentCapture, LoopGuardAction

from .agent_frameworks import (
    assert_agent_run,
    assert_no_content,
    context_kept,
    merged_chats,
    run_example,
    separate_runs,
)
from .conftest import API_KEY
from .trees import named, render, traces

TREE = [
    "invoke_agent weather_agent",
    "  chat gpt-4o-mini-tool",
    "  execute_tool get_weather",
    "  chat gpt-4o-mini-tool",
    "  execute_tool final_answer",
]
QUESTION = "What is the weather in Paris?"


@tool
def get_weather(city: str) -> str:
    """The weather for a city.

    Args:
        city: The city.
    """
    return f"Sunny in {city}"


def _model(model_server, model: str = "gpt-4o-mini-tool") -> OpenAIServerModel:
    return OpenAIServerModel(
        model,
        api_base=model_server.openai_base_url,
        api_key=API_KEY,
        client_kwargs={"max_retries": 0},
        # smolagents replays a tool's output as a user message ("Observation: ..."), which the model server
        # does not read as a tool result (it would call the tool again); sent as role "tool", it does.
        custom_role_conversions={"tool-response": "tool"},
    )


def _agent(model_server, model: str = "gpt-4o-mini-tool", **kwargs) -> ToolCallingAgent:
    kwargs.setdefault("tools", [get_weather])
    kwargs.setdefault("name", "weather_agent")
    return ToolCallingAgent(model=_model(model_server, model), verbosity_level=-1, **kwargs)


# -- trace shape -------------------------------------------------------------------------------------


def test_tool_calling_agent_is_one_trace_agent_over_chats_and_tools(otel, model_server):
    output = _agent(model_server, description="Knows the weather").run(QUESTION)

    assert "Echo" in output
    spans = otel.spans()
    assert len(traces(spans)) == 1
    agent = assert_agent_run(spans, TREE)
    assert agent.attributes[semconv.GEN_AI_AGENT_NAME] == "weather_agent"
    assert agent.attributes[semconv.GEN_AI_AGENT_DESCRIPTION] == "Knows the weather"
    assert agent.attributes[semconv.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini-tool"
    assert agent.attributes[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    tool_span = named(spans, "execute_tool get_weather")[0]
    assert tool_span.attributes[semconv.GEN_AI_TOOL_CALL_ID] == "call_0"
    assert tool_span.attributes[semconv.GEN_AI_TOOL_DESCRIPTION] == "The weather for a city."
    assert tool_span.attributes[semconv.GEN_AI_TOOL_TYPE] == "function"


def test_chat_span_is_the_framework_call_merged_with_the_client_call(otel, model_server):
    _agent(model_server).run(QUESTION)

    for chat in merged_chats(otel.spans()):
        assert chat.attributes[semconv.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-tool-2026-01-01"
        assert chat.attributes[semconv.GEN_AI_PROVIDER_NAME] == "openai"
        assert chat.attributes[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] == ("Observation:", "Calling tools:")


def test_unnamed_agent_span_has_no_name(otel, model_server):
    _agent(model_server, name=None).run(QUESTION)

    agent = named(otel.spans(), "invoke_agent")[0]
    assert agent.name == "invoke_agent"
    assert semconv.GEN_AI_AGENT_NAME not in agent.attributes


def test_managed_agent_is_a_nested_invoke_agent(otel, model_server):
    helper = _agent(model_server, description="Finds the weather")
    manager = ToolCallingAgent(
        tools=[], managed_agents=[helper], model=_model(model_server), name="manager", verbosity_level=-1
    )
    manager.run("Ask the weather agent about Paris")

    spans = otel.spans()
    assert len(traces(spans)) == 1
    assert render(spans) == [
        "invoke_agent manager",
        "  chat gpt-4o-mini-tool",
        *("  " + line for line in TREE),
        "  chat gpt-4o-mini-tool",
        "  execute_tool final_answer",
    ]


def test_three_concurrent_runs_do_not_cross(otel, model_server):
    agents = [_agent(model_server) for _ in range(3)]

    async def main():
        return await asyncio.gather(
            *(asyncio.to_thread(a.run, f"weather {i}?") for i, a in enumerate(agents))
        )

    asyncio.run(main())
    for spans in separate_runs(otel.spans()):
        assert_agent_run(spans, TREE)


# -- streaming ---------------------------------------------------------------------------------------


def test_streamed_run_with_streamed_model_output(otel, model_server):
    agent = _agent(model_server, stream_outputs=True)
    agent.logger.console.quiet = True  # smolagents renders streamed output live on its console

    steps = list(agent.run(QUESTION, stream=True))

    assert type(steps[-1]).__name__ == "FinalAnswerStep"
    spans = otel.spans()
    assert_agent_run(spans, TREE)
    for chat in named(spans, "chat"):
        assert chat.attributes[semconv.GEN_AI_REQUEST_STREAM] is True
        assert chat.attributes[semconv.GEN_AI_RESPONSE_ID] == "chatcmpl-local123"


def test_stream_broken_off_early_ends_the_run_and_restores_the_context(otel, model_server):
    agent = _agent(model_server)
    with context_kept() as before:
        # Stopped after the first step (smolagents cannot be closed mid-step: it yields from a ``finally``).
        stream = agent.run(QUESTION, stream=True)
        for step in stream:
            assert otel_context.get_current() is before
            if isinstance(step, ActionStep):
                break
        stream.close()

    spans = otel.spans()
    assert render(spans) == TREE[:3]
    assert all(s.status.status_code is not StatusCode.ERROR for s in spans)


def test_caller_context_is_unchanged_after_a_run(otel, model_server):
    with context_kept():
        _agent(model_server).run(QUESTION)


# -- CodeAgent ---------------------------------------------------------------------------------------


def test_code_agent_run_as_far_as_the_model_server_goes(otel, model_server):
    """The model server answers in plain text, not code: each step fails to parse (smolagents keeps the
    error in the step and goes on), then the agent asks for a final answer. Every model call is traced."""
    agent = CodeAgent(
        tools=[get_weather], model=_model(model_server, "gpt-4o-mini"), max_steps=2, verbosity_level=-1
    )
    agent.run(QUESTION)

    assert render(otel.spans()) == [
        "invoke_agent",
        "  chat gpt-4o-mini",
        "  chat gpt-4o-mini",
        "  chat gpt-4o-mini",
    ]


class CodeReplies(OpenAIServerModel):
    """The model server's replies rewritten into the code a CodeAgent runs: call the tool, then answer."""

    def generate(self, messages, *args, **kwargs):
        reply = super().generate(messages, *args, **kwargs)
        observed = any(getattr(m.role, "value", m.role) == "tool-response" for m in messages)
        code = 'final_answer("It is sunny")' if observed else 'print(get_weather(city="Paris"))'
        reply.content = f"Thought: next step.\n<code>\n{code}\n</code>"
        return reply


def test_code_agent_tool_calls_from_code_are_traced(otel, model_server):
    model = CodeReplies("gpt-4o-mini", api_base=model_server.openai_base_url, api_key=API_KEY)
    agent = CodeAgent(tools=[get_weather], model=model, name="coder", verbosity_level=-1)

    assert agent.run(QUESTION) == "It is sunny"
    assert render(otel.spans()) == [
        "invoke_agent coder",
        "  chat gpt-4o-mini",
        "  execute_tool get_weather",
        "  chat gpt-4o-mini",
        "  execute_tool final_answer",
    ]


# -- errors ------------------------------------------------------------------------------------------


def test_model_error_propagates_unchanged_and_marks_spans(otel, model_server):
    import openai

    with pytest.raises(AgentGenerationError) as raised:
        _agent(model_server, "gpt-4o-mini-error-500").run(QUESTION)

    assert isinstance(raised.value.__cause__, openai.InternalServerError)
    spans = otel.spans()
    chat = named(spans, "chat")[0]
    assert chat.status.status_code is StatusCode.ERROR
    assert chat.attributes[semconv.ERROR_TYPE] == "InternalServerError"
    agent = named(spans, "invoke_agent")[0]
    assert agent.status.status_code is StatusCode.ERROR
    assert agent.attributes[semconv.ERROR_TYPE] == "AgentGenerationError"
    assert len(named(spans, "chat")) == 1


def test_tool_error_marks_the_tool_span_and_the_agent_goes_on(otel, model_server):
    @tool
    def get_weather(city: str) -> str:
        """Always fails.

        Args:
            city: The city.
        """
        raise ValueError("tool exploded")

    _agent(model_server, tools=[get_weather], max_steps=1).run(QUESTION)  # smolagents keeps tool errors

    tool_span = named(otel.spans(), "execute_tool get_weather")[0]
    assert tool_span.status.status_code is StatusCode.ERROR
    assert tool_span.attributes[semconv.ERROR_TYPE] == "ValueError"


# -- content -----------------------------------------------------------------------------------------


def test_content_is_off_by_default(otel, model_server):
    _agent(model_server).run(QUESTION)
    assert_no_content(otel.spans())


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_content_capture_records_messages_instructions_tools(otel, model_server):
    _agent(model_server).run(QUESTION)

    spans = otel.spans()
    first, second = named(spans, "chat")
    system = json.loads(first.attributes[semconv.GEN_AI_SYSTEM_INSTRUCTIONS])
    assert system[0]["type"] == "text" and "get_weather" in system[0]["content"]
    definitions = json.loads(first.attributes[semconv.GEN_AI_TOOL_DEFINITIONS])
    assert [d["name"] for d in definitions] == ["get_weather", "final_answer"]
    assert definitions[0]["parameters"]["properties"]["city"]["type"] == "string"
    messages = json.loads(first.attributes[semconv.GEN_AI_INPUT_MESSAGES])
    assert messages[0]["role"] == "user" and QUESTION in messages[0]["parts"][0]["content"]
    call = json.loads(first.attributes[semconv.GEN_AI_OUTPUT_MESSAGES])[0]["parts"][0]
    assert (call["type"], call["name"], call["id"]) == ("tool_call", "get_weather", "call_0")
    roles = [m["role"] for m in json.loads(second.attributes[semconv.GEN_AI_INPUT_MESSAGES])]
    assert roles == ["user", "assistant", "tool"]
    tool_span = named(spans, "execute_tool get_weather")[0]
    assert json.loads(tool_span.attributes[semconv.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"city": "Paris"}
    assert tool_span.attributes[semconv.GEN_AI_TOOL_CALL_RESULT] == "Sunny in Paris"
    agent = named(spans, "invoke_agent")[0]
    assert QUESTION in json.loads(agent.attributes[semconv.GEN_AI_INPUT_MESSAGES])[0]["parts"][0]["content"]
    assert "Echo" in json.loads(agent.attributes[semconv.GEN_AI_OUTPUT_MESSAGES])[0]["parts"][0]["content"]


# -- loop guard --------------------------------------------------------------------------------------


@pytest.mark.genai_settings(max_agent_steps=1)
def test_loop_guard_marks_the_agent_span(otel, model_server):
    _agent(model_server).run(QUESTION)  # the default action records, the run goes on

    agent = named(otel.spans(), "invoke_agent")[0]
    assert agent.attributes[semconv.GENAI_OTEL_LOOP_GUARD_LIMIT] == "steps"
    assert any(e.name == "genai_otel.loop_guard.triggered" for s in otel.spans() for e in s.events)


@pytest.mark.genai_settings(max_agent_steps=2, loop_guard_action=LoopGuardAction.RAISE)
def test_loop_guard_raise_stops_the_run(otel, model_server):
    # The extra (second) model call raises; smolagents reports a failed model call as AgentGenerationError.
    with pytest.raises(AgentGenerationError) as raised:
        _agent(model_server).run(QUESTION)

    assert isinstance(raised.value.__cause__, genai_otel.AgentLoopError)
    spans = otel.spans()
    assert named(spans, "chat")[-1].attributes[semconv.ERROR_TYPE] == "AgentLoopError"
    assert named(spans, "invoke_agent")[0].attributes[semconv.GENAI_OTEL_LOOP_GUARD_LIMIT] == "steps"


# -- uninstrument ------------------------------------------------------------------------------------


def test_uninstrument_restores_smolagents(otel, model_server):
    genai_otel.uninstrument()

    assert not hasattr(MultiStepAgent._run_stream, "__wrapped__")
    assert not hasattr(Tool.__call__, "__wrapped__")
    assert not hasattr(OpenAIServerModel.generate, "__wrapped__")
    assert not hasattr(OpenAIServerModel.generate_stream, "__wrapped__")
    assert not hasattr(local_python_executor.timeout, "__wrapped__")
    _agent(model_server).run(QUESTION)
    assert otel.spans() == []


# -- example -----------------------------------------------------------------------------------------


def test_example_prints_the_agent_tree():
    out = run_example("smolagents_example.py")
    assert "invoke_agent weather_agent" in out
    assert "execute_tool get_weather" in out
    assert "chat gpt-4o-mini-tool" in out
