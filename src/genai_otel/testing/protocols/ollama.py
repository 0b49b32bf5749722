"""Ollama's native API: ``/api/chat``, ``/api/generate``, ``/api/embed`` (and the legacy ``/api/embeddings``),
``/api/show``; NDJSON streams."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from genai_otel.testing.protocols._common import (
    Scenario,
    embedding_of,
    last_user_text,
    reply_for,
    words,
)

_CREATED = "2026-01-01T00:00:00Z"


class OllamaProtocol:
    ROUTES = {
        "/api/chat": "_ollama_chat",
        "/api/generate": "_ollama_generate",
        "/api/embed": "_ollama_embed",
        "/api/embeddings": "_ollama_legacy_embed",
        "/api/show": "_ollama_show",
    }
    #: What ``/api/show`` reports; clients (LlamaIndex's Ollama LLM) read the context window from it.
    CONTEXT_WINDOW = 8192

    def _ollama_answer(self, body: dict[str, Any], s: Scenario, prompt: str, make: Any) -> None:
        reply = reply_for(prompt)
        prompt_tokens, reply_words = max(1, len(words(prompt))), words(reply)
        final = {
            "model": s.model,
            "created_at": _CREATED,
            "done": True,
            "done_reason": "stop",
            "total_duration": 1_000_000,
            "prompt_eval_count": prompt_tokens,
            "eval_count": len(reply_words),
        }
        if body.get("stream", True) is False:
            return self._json(200, {**final, **make(reply, final=True)})  # type: ignore[attr-defined]

        def lines() -> Iterator[dict[str, Any]]:
            for word in reply_words if not s.tool else []:
                yield {"model": s.model, "created_at": _CREATED, "done": False, **make(word, final=False)}
            yield {**final, **make("" if not s.tool else reply, final=True)}

        self._ndjson(lines(), break_after=2 if s.stream_break else None)  # type: ignore[attr-defined]

    def _ollama_chat(self, body: dict[str, Any], s: Scenario) -> None:
        last_user = last_user_text(body.get("messages"))
        call = {"function": {"name": s.tool_name, "arguments": json.loads(s.tool_arguments)}}

        def make(text: str, final: bool) -> dict[str, Any]:
            message: dict[str, Any] = {"role": "assistant", "content": "" if s.tool else text}
            if s.tool and final:
                message["tool_calls"] = [call]
            return {"message": message}

        self._ollama_answer(body, s, last_user, make)

    def _ollama_generate(self, body: dict[str, Any], s: Scenario) -> None:
        self._ollama_answer(body, s, str(body.get("prompt") or ""), lambda text, final: {"response": text})

    def _ollama_embed(self, body: dict[str, Any], s: Scenario) -> None:
        inputs = body.get("input") or ""
        inputs = [inputs] if isinstance(inputs, str) else list(inputs)
        dims = int(body.get("dimensions") or 8)
        self._json(  # type: ignore[attr-defined]
            200,
            {
                "model": s.model,
                "embeddings": [embedding_of(str(text), dims) for text in inputs],
                "total_duration": 1_000_000,
                "prompt_eval_count": sum(max(1, len(words(str(t)))) for t in inputs),
            },
        )

    def _ollama_legacy_embed(self, body: dict[str, Any], s: Scenario) -> None:
        """The pre-``/api/embed`` endpoint (one ``prompt`` in, one ``embedding`` out) older clients use."""
        self._json(200, {"embedding": embedding_of(str(body.get("prompt") or ""))})  # type: ignore[attr-defined]

    def _ollama_show(self, body: dict[str, Any], s: Scenario) -> None:
        model = str(body.get("model") or body.get("name") or s.model)
        info = {"general.architecture": "llama", "llama.context_length": self.CONTEXT_WINDOW}
        self._json(200, {"modelfile": f"FROM {model}", "details": {"family": "llama"}, "model_info": info})  # type: ignore[attr-defined]
