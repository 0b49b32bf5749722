"""Claude Code stream messages and hook inputs -> invocation records.

The CLI's stream-JSON messages are plain dicts (``{"type": "assistant", "message": {...}}``); the CLI
reports each content block of one model response as its own ``assistant`` message, all carrying the
response's id, model and usage.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from genai_otel.instrumentation._framework import fill
from genai_otel.instrumentation._messages import message, text_parts, tool_call, tool_response
from genai_otel.telemetry import AgentInvocation, InferenceInvocation

#: The agent name when the options name none: the CLI itself is the agent.
DEFAULT_AGENT_NAME = "claude-code"
#: The model the CLI reports for a response it made up itself (an API error turned into a message).
SYNTHETIC_MODEL = "<synthetic>"
# The CLI's switches for the cloud that serves the model (its default is Anthropic's API).
_PROVIDER_SWITCHES = (
    ("CLAUDE_CODE_USE_BEDROCK", "aws.bedrock"),
    ("CLAUDE_CODE_USE_VERTEX", "gcp.vertex_ai"),
    ("CLAUDE_CODE_USE_FOUNDRY", "azure.ai.inference"),
)


def provider_of(env: Mapping[str, str]) -> str:
    """``gen_ai.provider.name`` of the model calls the CLI makes, from its environment."""
    for switch, provider in _PROVIDER_SWITCHES:
        if (env.get(switch) or os.environ.get(switch) or "").lower() in ("1", "true"):
            return provider
    return "anthropic"


def system_instructions(system_prompt: Any) -> list[dict[str, Any]] | None:
    """A custom system prompt as instruction parts; presets (the CLI's own prompt) are not known here."""
    if isinstance(system_prompt, str) and system_prompt:
        return text_parts(system_prompt)
    if isinstance(system_prompt, dict) and system_prompt.get("type") == "custom":
        return text_parts(system_prompt.get("content") or system_prompt.get("text"))
    return None


def tool_definition(name: str, mcp_tool: Mapping[str, Any]) -> dict[str, Any]:
    """A tool the model is offered: an SDK MCP tool's listed definition, else (a built-in tool of the
    CLI, whose schema this process never sees) its name."""
    definition: dict[str, Any] = {"type": "function", "name": name}
    if mcp_tool.get("description"):
        definition["description"] = mcp_tool["description"]
    if mcp_tool.get("inputSchema"):
        definition["parameters"] = mcp_tool["inputSchema"]
    return definition


def prompt_message(data: Mapping[str, Any]) -> dict[str, Any] | None:
    """The user message the SDK writes to the CLI, as GenAI message JSON."""
    content = (data.get("message") or {}).get("content")
    parts = _parts(content)
    return message("user", parts) if parts else None


def _parts(content: Any) -> list[dict[str, Any]]:
    if not isinstance(content, list):
        return text_parts(content)
    parts: list[dict[str, Any]] = []
    for block in content:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "tool_use":
            parts.append(tool_call(block.get("id"), block.get("name"), block.get("input")))
        elif kind == "tool_result":
            parts.append(tool_response(block.get("tool_use_id"), block.get("content")))
        elif kind == "thinking":
            parts.append({"type": "reasoning", "content": block.get("thinking")})
        else:
            parts.extend(text_parts([block]))
    return parts


def tool_results(data: Mapping[str, Any]) -> dict[str, Any] | None:
    """A ``user`` message carrying tool results (what the CLI sends the model next), else ``None``."""
    content = (data.get("message") or {}).get("content")
    if not isinstance(content, list) or not any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content
    ):
        return None
    return message("tool", _parts(content))


def add_response_block(inv: InferenceInvocation, data: Mapping[str, Any], capture: bool) -> None:
    """Fold one ``assistant`` message (a content block of the response) into the model call's record."""
    body = data.get("message") or {}
    model = body.get("model")
    if model and model != SYNTHETIC_MODEL:
        inv.response_model = model
        fill(inv, request_model=model)
    if body.get("id") and model != SYNTHETIC_MODEL:
        inv.response_id = body["id"]
    if body.get("stop_reason"):
        inv.finish_reasons = [body["stop_reason"]]
    if data.get("error"):
        # The CLI turned a failed API call into this message (``server_error``, ``rate_limit``, ...).
        inv.error_type = str(data["error"])
    _usage(inv, body.get("usage"))
    if capture:
        parts = _parts(body.get("content"))
        if inv.output_messages:
            inv.output_messages[0]["parts"].extend(parts)
        else:
            inv.output_messages = [message("assistant", parts)]


def add_stream_event(inv: InferenceInvocation, event: Mapping[str, Any]) -> None:
    """A raw streaming event of the call: content chunks' timing, the stop reason."""
    kind = event.get("type")
    if kind == "content_block_delta":
        now = time.perf_counter_ns()
        inv.first_chunk_ns = inv.first_chunk_ns or now
        inv.last_chunk_ns = now
        inv.chunk_count += 1
    elif kind == "message_delta" and (event.get("delta") or {}).get("stop_reason"):
        inv.finish_reasons = [event["delta"]["stop_reason"]]


def finish_response(inv: InferenceInvocation) -> None:
    """The output message's finish reason: the one reported, else what its content says."""
    for out in inv.output_messages or ():
        calls = any(p.get("type") == "tool_call" for p in out["parts"])
        out["finish_reason"] = (inv.finish_reasons or ["tool_use" if calls else "end_turn"])[0]


def _usage(inv: InferenceInvocation, usage: Any) -> None:
    if not isinstance(usage, dict):
        return
    raw_input = usage.get("input_tokens")
    cache_read = usage.get("cache_read_input_tokens")
    cache_write = usage.get("cache_creation_input_tokens")
    if isinstance(raw_input, int):
        # The conventions count cached tokens as input; Anthropic reports them separately.
        inv.input_tokens = raw_input + (cache_read or 0) + (cache_write or 0)
    inv.cache_read_input_tokens = cache_read or None
    inv.cache_write_input_tokens = cache_write or None
    if isinstance(usage.get("output_tokens"), int):
        inv.output_tokens = usage["output_tokens"]


def add_result(inv: AgentInvocation, data: Mapping[str, Any], capture: bool) -> None:
    """The turn's ``result`` message on the agent record: session, errors, the final answer."""
    fill(inv, conversation_id=data.get("session_id"))
    if data.get("is_error"):
        inv.error_type = _result_error(data)
    if capture and isinstance(data.get("result"), str):
        inv.output_messages = [message("assistant", text_parts(data["result"]), data.get("stop_reason"))]


def _result_error(data: Mapping[str, Any]) -> str:
    # ``error_max_turns``, ``error_during_execution``, ...; an API failure reports subtype ``success``.
    subtype = data.get("subtype")
    return subtype if isinstance(subtype, str) and subtype.startswith("error") else "error_result"
