"""What every wire protocol of the local model server shares: the scenario a model name selects,
deterministic replies, token counts and embeddings."""

from __future__ import annotations

import hashlib
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


def has_tool_result(body: dict[str, Any]) -> bool:
    """Whether a chat request already carries a tool's result (OpenAI/Ollama ``role: tool``,
    Anthropic ``tool_result`` blocks, Responses ``function_call_output``, Cohere/Gemini/Bedrock
    equivalents): a tool-calling model then answers in text, so agent loops end."""
    for message in body.get("messages") or body.get("input") or body.get("contents") or []:
        if not isinstance(message, dict):
            continue
        if message.get("role") == "tool" or message.get("type") == "function_call_output":
            return True
        parts = message.get("content") or message.get("parts") or []
        if isinstance(parts, list) and any(
            isinstance(p, dict) and _TOOL_RESULT_KEYS & (set(p) | {p.get("type")}) for p in parts
        ):
            return True
    return False


class Scenario:
    def __init__(self, model: str, body: dict[str, Any] | None = None) -> None:
        self.model = model or "unknown-model"
        match = re.search(r"error-(\d{3})", self.model)
        self.error_status = int(match.group(1)) if match else None
        self.tool = "tool" in self.model and not has_tool_result(body or {})
        self.slow = "slow" in self.model
        self.stream_break = "stream-break" in self.model
        self.cache = "cache" in self.model
        self.reasoning = "reason" in self.model or self.model.startswith(("o1", "o3", "o4"))


def reply_for(text: str) -> str:
    return f"Echo: {text.strip()[:200]}" if text.strip() else "Hello from the local model server."


def last_user_text(messages: Any) -> str:
    """The text of the last ``user`` message of a chat request."""
    for message in reversed(messages or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return text_of(message.get("content"))
    return ""
