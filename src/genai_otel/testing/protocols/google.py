"""The Gemini API (google-genai): ``models/{model}:generateContent``, ``:streamGenerateContent``
(SSE with ``alt=sse``), ``:batchEmbedContents`` / ``:embedContent``. The model is in the path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from genai_otel.testing.protocols._common import (
    CACHED_TOKENS,
    REASONING_TOKENS,
    Scenario,
    embedding_of,
    reply_for,
    words,
)


def _text(contents: Any) -> list[str]:
    """The texts of every part of ``contents`` (a string, a Content, or a list of either)."""
    if isinstance(contents, str):
        return [contents]
    if isinstance(contents, dict):
        return [p.get("text", "") for p in contents.get("parts") or [] if isinstance(p, dict)]
    return [t for item in contents or [] for t in _text(item)]


class GoogleProtocol:
    ROUTES = {
        ":generateContent": "_google_generate",
        ":streamGenerateContent": "_google_generate",
        ":batchEmbedContents": "_google_embed",
        ":embedContent": "_google_embed",
    }

    def _google_generate(self, body: dict[str, Any], s: Scenario) -> None:
        contents = body.get("contents") or []
        user_turns = [c for c in contents if isinstance(c, dict) and c.get("role", "user") == "user"]
        prompt_texts = _text(contents)
        reply = reply_for(" ".join(_text(user_turns[-1:])))
        usage = {
            "promptTokenCount": max(1, len(words(" ".join(prompt_texts))))
            + (CACHED_TOKENS if s.cache else 0),
            "candidatesTokenCount": len(words(reply)),
        }
        if s.cache:
            usage["cachedContentTokenCount"] = CACHED_TOKENS
        if s.reasoning:
            usage["thoughtsTokenCount"] = REASONING_TOKENS
        usage["totalTokenCount"] = sum(usage.values())
        usage["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": usage["promptTokenCount"]}]
        base = {"modelVersion": f"{s.model}-001", "responseId": "gemini-local123"}

        def candidate(parts: list[dict[str, Any]], finish: str | None) -> dict[str, Any]:
            out: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
            if finish:
                out["finishReason"] = finish
            return out

        call = [{"functionCall": {"name": s.tool_name, "args": json.loads(s.tool_arguments)}}]
        if "streamGenerateContent" not in self.path:  # type: ignore[attr-defined]
            parts = call if s.tool else [{"text": reply}]
            payload = {**base, "candidates": [candidate(parts, "STOP")], "usageMetadata": usage}
            return self._json(200, payload)  # type: ignore[attr-defined]

        def events() -> Iterator[tuple[str | None, Any]]:
            pieces = [] if s.tool else words(reply)
            for piece in pieces[:-1]:
                yield None, {**base, "candidates": [candidate([{"text": piece}], None)]}
            last = call if s.tool else [{"text": pieces[-1]}]
            yield None, {**base, "candidates": [candidate(last, "STOP")], "usageMetadata": usage}

        self._sse(events(), break_after=2 if s.stream_break else None)  # type: ignore[attr-defined]

    def _google_embed(self, body: dict[str, Any], s: Scenario) -> None:
        requests = body.get("requests") or [body]
        embeddings = []
        for request in requests:
            text = " ".join(_text(request.get("content")))
            dims = int(request.get("outputDimensionality") or 8)
            embeddings.append({"values": embedding_of(text, dims)})
        payload: dict[str, Any] = (
            {"embeddings": embeddings} if "requests" in body else {"embedding": embeddings[0]}
        )
        self._json(200, payload)  # type: ignore[attr-defined]
