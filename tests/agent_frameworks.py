"""What the agent-framework tests share (tests/test_<framework>.py and tests/side/<framework>/): the weather
tool and the trace of a three-step run (model -> get_weather -> model), the checks every framework's run must
pass (one chat span per model call, the run's content, failed spans, no content by default), and running an
example the way a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind, StatusCode

from genai_otel import semconv

from .servers import REPO
from .trees import named, render, traces

#: A three-step run of an agent named ``weather_agent`` on the model server's tool-calling model.
AGENT_TREE = [
    "invoke_agent weather_agent",
    "  chat gpt-4o-mini-tool",
    "  execute_tool get_weather",
    "  chat gpt-4o-mini-tool",
]


def agent_tree(name: str) -> list[str]:
    """:data:`AGENT_TREE` of an agent of another name."""
    return [f"invoke_agent {name}", *AGENT_TREE[1:]]


#: The attributes that carry content: recorded only under content capture.
CONTENT = (
    semconv.GEN_AI_INPUT_MESSAGES,
    semconv.GEN_AI_OUTPUT_MESSAGES,
    semconv.GEN_AI_SYSTEM_INSTRUCTIONS,
    semconv.GEN_AI_TOOL_DEFINITIONS,
    semconv.GEN_AI_TOOL_CALL_ARGUMENTS,
    semconv.GEN_AI_TOOL_CALL_RESULT,
)
EXAMPLES = REPO / "examples" / "agents"


def get_weather(city: str) -> str:
    """The weather for a city."""
    return f"Sunny in {city}"


def assert_agent_run(spans: list[Any], tree: list[str] = AGENT_TREE) -> Any:
    """The spans are ``tree`` and nothing else (no HTTP span, no second span per model call, no span of the
    framework's own), all beneath the one agent span, which is returned."""
    assert render(spans) == tree
    agent = named(spans, "invoke_agent")[0]
    for child in spans:
        if child is not agent:
            assert child.parent.span_id == agent.context.span_id, child.name
    return agent


@contextmanager
def context_kept() -> Iterator[otel_context.Context]:
    """The caller's OpenTelemetry context is the very same object after the block as before it (yielded, to
    check it in between too): a run must detach all it attached, also when it fails or is broken off."""
    before = otel_context.get_current()
    yield before
    assert otel_context.get_current() is before


def separate_runs(spans: Iterable[Any], count: int = 3) -> list[list[Any]]:
    """The spans of ``count`` concurrent runs, one trace each: runs that cross would share one."""
    runs = list(traces(spans).values())
    assert len(runs) == count, [[span.name for span in run] for run in runs]
    return runs


def merged_chats(spans: Iterable[Any], parent: Any = None) -> list[Any]:
    """The two chat spans of a three-step run, checked to be one span per model call: ours, CLIENT (under
    ``parent`` when given), with what only the openai SDK call knows -- its response id, usage, server --
    merged in; the first asked for the tool."""
    chats = named(spans, "chat")
    assert len(chats) == 2, [chat.name for chat in chats]
    for chat in chats:
        assert chat.kind is SpanKind.CLIENT and chat.instrumentation_scope.name == "genai_otel", chat.name
        if parent is not None:
            assert chat.parent.span_id == parent.context.span_id, chat.name
        assert chat.attributes[semconv.GEN_AI_RESPONSE_ID] == "chatcmpl-local123"
        assert chat.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] > 0
        assert chat.attributes[semconv.SERVER_ADDRESS] == "127.0.0.1"
    assert chats[0].attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    return chats


def assert_weather_content(first: Any, second: Any, tool: Any, question: str) -> None:
    """Under content capture, a three-step run's model calls and tool call carry what they exchanged: the
    tool's definition, the question, the tool call, the tool's answer fed back to the second call."""
    (definition,) = json.loads(first.attributes[semconv.GEN_AI_TOOL_DEFINITIONS])
    assert definition["name"] == "get_weather" and definition["parameters"]["required"] == ["city"]
    assert json.loads(first.attributes[semconv.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": question}]}
    ]
    (call,) = json.loads(first.attributes[semconv.GEN_AI_OUTPUT_MESSAGES])
    assert call["parts"] == [
        {"type": "tool_call", "id": "call_0", "name": "get_weather", "arguments": {"city": "Paris"}}
    ]
    assert json.loads(second.attributes[semconv.GEN_AI_INPUT_MESSAGES])[-1] == {
        "role": "tool",
        "parts": [{"type": "tool_call_response", "id": "call_0", "response": "Sunny in Paris"}],
    }
    assert json.loads(tool.attributes[semconv.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"city": "Paris"}
    assert tool.attributes[semconv.GEN_AI_TOOL_CALL_RESULT] == "Sunny in Paris"


def assert_failed(spans: Iterable[Any], error_type: str) -> None:
    """Each span ended with an error status and the error's type."""
    for span in spans:
        assert span.status.status_code is StatusCode.ERROR, span.name
        assert span.attributes[semconv.ERROR_TYPE] == error_type, span.name


def assert_no_content(spans: Iterable[Any], secret: str | None = None) -> None:
    """No span -- nor any of its events (a framework may add its own to our spans) -- carries a content
    attribute, nor (when given) the secret the run was asked about."""
    for span in spans:
        places = [(span.name, span.attributes), *((event.name, event.attributes) for event in span.events)]
        for where, attributes in places:
            assert not set(CONTENT) & set(attributes or {}), (span.name, where)
            if secret is not None:
                assert secret not in json.dumps(dict(attributes or {}), default=str), (span.name, where)


def run_example(file_name: str, **env: str) -> str:
    """Run ``examples/agents/<file_name>`` in a fresh interpreter, as a user would: none of the caller's
    OTEL_/OPENAI_ settings (the example starts its own model server unless ``OPENAI_BASE_URL`` is in
    ``env``). Returns what it printed; fails the test if it did not exit cleanly."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_"))}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / file_name)],
        cwd=EXAMPLES,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout
