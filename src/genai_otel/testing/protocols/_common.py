"""What every wire protocol of the local model server shares: the scenario a model name selects,
deterministic replies, token counts and embeddings."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

TOOL_NAME = "get_weather"
TOOL_ARGUMENTS = '{"city": "Paris"}'
CACHED_TOKENS = 10
CACHE_WRITE_TOKENS = 5
REASONING_TOKENS = 7


def embedding_of(text: str, dims: int = 8) -> list[float]:
    """A deterministic pseudo-embedding (hash-based; equal texts get equal vectors)."""
    digest = hashlib.sha256(text.encode()).digest()
    return [(digest[i % len(digest)] - 128) / 128.0 for i in range(dims)]


def words(text: str) -> list[str]:
    return re.findall(r"\S+\s*", text)


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            text_of(part.get("text") or part.get("content") or "")
            for part in content
            if isinstance(part, dict)
        )
    return ""


_TOOL_RESULT_KEYS = frozenset({"tool_result", "toolResult", "functionResponse"})
_OBSERVATION = "Observation:"
# smolagents writes the calls it made as text: "Calling tools:\n[{'id': ..., 'function': {'name': ...}}]".
_CALLED_IN_TEXT = re.compile(r"'name': '([^']+)'")


def has_tool_result(body: dict[str, Any]) -> bool:
    """Whether a chat request already carries a tool's result (OpenAI/Ollama ``role: tool``,
    Anthropic ``tool_result`` blocks, Responses ``function_call_output``, Cohere/Gemini/Bedrock
    equivalents): a tool-calling model then answers in text, so agent loops end."""
    for message in body.get("messages") or body.get("input") or body.get("contents") or []:
        if not isinstance(message, dict):
            continue
        if message.get("role") == "tool" or message.get("type") == "function_call_output":
            return True
        if message.get("role") == "user" and text_of(message.get("content")).startswith(_OBSERVATION):
            return True  # smolagents hands a tool's output back as a user message "Observation: ..."
        parts = message.get("content") or message.get("parts") or []
        if isinstance(parts, list) and any(
            isinstance(p, dict) and _TOOL_RESULT_KEYS & (set(p) | {p.get("type")}) for p in parts
        ):
            return True
    return False


def declared_tools(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The tools a request declares, name -> JSON schema of the arguments, in every wire shape: OpenAI
    chat (``function``), Responses and Anthropic (top level), Gemini (``functionDeclarations``), Bedrock
    (``toolConfig.tools[].toolSpec``), Ollama/Cohere (OpenAI's)."""
    raw = body.get("tools") or (body.get("toolConfig") or {}).get("tools") or []
    found: dict[str, dict[str, Any]] = {}
    for entry in raw if isinstance(raw, list) else []:
        if not isinstance(entry, dict):
            continue
        for tool in (
            entry.get("functionDeclarations")
            or entry.get("function_declarations")
            or [entry.get("toolSpec") or entry.get("function") or entry]
        ):
            name = tool.get("name") if isinstance(tool, dict) else None
            if isinstance(name, str):
                schema = (
                    tool.get("parameters")
                    or tool.get("parametersJsonSchema")  # google-genai's JSON-schema form (ADK 2.x)
                    or tool.get("input_schema")
                    or tool.get("inputSchema")
                    or {}
                )
                found[name] = schema.get("json", schema) if isinstance(schema, dict) else {}
    return found


def _example(schema: Any) -> Any:
    """A value that satisfies a (simple) JSON schema: what a model would fill in."""
    if not isinstance(schema, dict):
        return "Paris"
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        options = [o for o in schema.get(key) or [] if isinstance(o, dict) and o.get("type") != "null"]
        if options:
            return _example(options[0])
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) and kind else kind
    kind = kind.lower() if isinstance(kind, str) else kind  # Gemini writes STRING, OBJECT, ...
    if kind == "object" or "properties" in schema:
        return arguments_for(schema)
    return {"integer": 1, "number": 1.0, "boolean": True, "array": [], "null": None}.get(kind, "Paris")


def arguments_for(schema: dict[str, Any]) -> dict[str, Any]:
    """Arguments for a tool with this JSON schema: its required properties (all, if none is required)."""
    properties = schema.get("properties") or {}
    names = schema.get("required") or list(properties)
    return {name: _example(properties.get(name)) for name in names}


def _last_tool_result_name(body: dict[str, Any]) -> str | None:
    """The tool whose result the conversation carries last (OpenAI chat ``role: tool`` answers a call made
    in an earlier assistant message)."""
    calls = {}
    name = None
    for message in body.get("messages") or body.get("input") or []:
        if not isinstance(message, dict):
            continue
        for call in message.get("tool_calls") or []:
            calls[call.get("id")] = (call.get("function") or {}).get("name")
        if message.get("type") == "function_call":
            calls[message.get("call_id")] = message.get("name")
        if message.get("role") == "tool":
            name = calls.get(message.get("tool_call_id"), name)
        elif message.get("type") == "function_call_output":
            name = calls.get(message.get("call_id"), name)
        elif message.get("role") == "assistant" and (
            called := _CALLED_IN_TEXT.findall(text_of(message.get("content")))
        ):
            name = called[-1]
    return name


class Scenario:
    """What the model name (and the request) asks of the server.

    A ``...tool...`` model calls a tool: ``get_weather`` (``{"city": "Paris"}``) when the request declares
    it or declares no tools, else the first tool it declares, with arguments made from its schema; a
    ``...handoff...`` model calls the first declared ``transfer_to_*`` tool (an agent SDK's hand-off). Once
    the conversation carries a tool result it answers in text -- or, when the request declares a
    ``final_answer`` tool (smolagents), by calling that with the answer -- so agent loops end.
    """

    def __init__(self, model: str, body: dict[str, Any] | None = None) -> None:
        body = body or {}
        self.model = model or "unknown-model"
        match = re.search(r"error-(\d{3})", self.model)
        self.error_status = int(match.group(1)) if match else None
        self.slow = "slow" in self.model
        self.stream_break = "stream-break" in self.model
        self.cache = "cache" in self.model
        self.reasoning = "reason" in self.model or self.model.startswith(("o1", "o3", "o4"))
        self.tool_name, self.tool_arguments = TOOL_NAME, TOOL_ARGUMENTS
        self.tool = False
        if "tool" in self.model or "handoff" in self.model:
            self._choose_tool(body)

    def _choose_tool(self, body: dict[str, Any]) -> None:
        tools = declared_tools(body)
        if has_tool_result(body):
            if "final_answer" in tools and _last_tool_result_name(body) != "final_answer":
                answer = reply_for(task_text(body.get("messages") or body.get("input") or []))
                self._call("final_answer", {**arguments_for(tools["final_answer"]), "answer": answer})
            return
        handoffs = [name for name in tools if name.startswith("transfer_to")]
        if "handoff" in self.model and handoffs:
            self._call(handoffs[0], arguments_for(tools[handoffs[0]]))
        elif "tool" not in self.model:
            return
        elif not tools or TOOL_NAME in tools:
            self.tool = True
        elif weather := next((n for n in tools if n.endswith("__" + TOOL_NAME)), None):
            self._call(weather, json.loads(TOOL_ARGUMENTS))  # an MCP tool (mcp__<server>__get_weather)
        else:
            name = next((n for n in tools if n not in handoffs and n != "final_answer"), next(iter(tools)))
            self._call(name, arguments_for(tools[name]))

    def _call(self, name: str, arguments: dict[str, Any]) -> None:
        self.tool, self.tool_name = True, name
        self.tool_arguments = json.dumps(arguments)


def task_text(messages: Any) -> str:
    """The task an agent was given: the last line of the first user message (agent frameworks put
    their own preamble above it, e.g. smolagents' "New task:")."""
    for message in messages or []:
        if isinstance(message, dict) and message.get("role") == "user":
            return text_of(message.get("content")).strip().rsplit("\n", 1)[-1]
    return ""


def code_agent_reply(messages: Any) -> str:
    """A ``...code-agent...`` model answers as smolagents' CodeAgent expects: a code block that calls the
    tool, then -- once the conversation carries its ``Observation:`` -- one that gives the final answer."""
    if has_tool_result({"messages": messages}):
        answer = json.dumps(reply_for(task_text(messages)))
        return f"Thought: done.\n<code>\nfinal_answer({answer})\n</code>"
    return f'Thought: call the tool.\n<code>\nprint({TOOL_NAME}(city="Paris"))\n</code>'


_DSPY_FIELD = re.compile(r"\[\[ ## (\w+) ## \]\]")


def dspy_reply(messages: Any) -> str | None:
    """DSPy's ChatAdapter asks for ``[[ ## field ## ]]`` sections (its system message lists "Your output
    fields are:"): answer each output field the last user message asks for, then ``[[ ## completed ## ]]``.
    A ReAct step calls ``get_weather`` until the trajectory holds an observation, then ``finish``."""
    texts = [(m.get("role"), text_of(m.get("content"))) for m in messages or [] if isinstance(m, dict)]
    if not any(role == "system" and "Your output fields are:" in text for role, text in texts):
        return None
    request = next((text for role, text in reversed(texts) if role == "user"), "")
    asked = request.rsplit("Respond with the corresponding output fields", 1)
    fields = [f for f in _DSPY_FIELD.findall(asked[-1]) if f != "completed"] if len(asked) > 1 else []
    question = re.search(r"\[\[ ## question ## \]\]\s*(.*?)\s*(?:\[\[|$)", request, re.S)
    answer = reply_for(question.group(1) if question else task_text(messages))
    done = "[[ ## observation_0 ## ]]" in request
    values = {
        "next_thought": "I have what I need." if done else "I should look up the weather.",
        "next_tool_name": "finish" if done else TOOL_NAME,
        "next_tool_args": "{}" if done else TOOL_ARGUMENTS,
    }
    sections = [f"[[ ## {name} ## ]]\n{values.get(name, answer)}\n\n" for name in fields or ["answer"]]
    return "".join(sections) + "[[ ## completed ## ]]"


def reply_for(text: str) -> str:
    return f"Echo: {text.strip()[:200]}" if text.strip() else "Hello from the local model server."


def last_user_text(messages: Any) -> str:
    """The text of the last ``user`` message of a chat request."""
    for message in reversed(messages or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return text_of(message.get("content"))
    return ""
