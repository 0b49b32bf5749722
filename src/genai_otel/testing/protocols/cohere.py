"""Cohere's v2 API: ``/v2/chat`` (JSON, or SSE events when ``stream``), ``/v2/embed``, ``/v2/rerank``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from genai_otel.testing.protocols._common import (
    Scenario,
    embedding_of,
    last_user_text,
    reply_for,
    text_of,
    words,
)


def _usage(prompt: int, completion: int) -> dict[str, Any]:
    counts = {"input_tokens": prompt, "output_tokens": completion}
    return {"billed_units": counts, "tokens": counts}


class CohereProtocol:
    ROUTES = {"/v2/chat": "_cohere_chat", "/v2/embed": "_cohere_embed", "/v2/rerank": "_cohere_rerank"}

    def _cohere_chat(self, body: dict[str, Any], s: Scenario) -> None:
        messages = body.get("messages") or []
        prompt = " ".join(text_of(m.get("content")) for m in messages if isinstance(m, dict))
        reply = reply_for(last_user_text(messages))
        usage = _usage(max(1, len(words(prompt))), len(words(reply)))
        finish = "TOOL_CALL" if s.tool else "COMPLETE"
        call = {
            "id": "call_0",
            "type": "function",
            "function": {"name": s.tool_name, "arguments": s.tool_arguments},
        }
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant"}
            if s.tool:
                message.update(tool_plan="I will call the weather tool.", tool_calls=[call])
            else:
                message["content"] = [{"type": "text", "text": reply}]
            return self._json(  # type: ignore[attr-defined]
                200, {"id": "cohere-local123", "finish_reason": finish, "message": message, "usage": usage}
            )

        def events() -> Iterator[tuple[str | None, Any]]:
            yield (
                None,
                {
                    "type": "message-start",
                    "id": "cohere-local123",
                    "delta": {"message": {"role": "assistant"}},
                },
            )
            if s.tool:
                start = {**call, "function": {"name": s.tool_name, "arguments": ""}}
                yield (
                    None,
                    {"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls": start}}},
                )
                half = len(s.tool_arguments) // 2
                for piece in (s.tool_arguments[:half], s.tool_arguments[half:]):
                    delta = {"message": {"tool_calls": {"function": {"arguments": piece}}}}
                    yield None, {"type": "tool-call-delta", "index": 0, "delta": delta}
                yield None, {"type": "tool-call-end", "index": 0}
            else:
                yield (
                    None,
                    {
                        "type": "content-start",
                        "index": 0,
                        "delta": {"message": {"content": {"type": "text", "text": ""}}},
                    },
                )
                for word in words(reply):
                    delta = {"message": {"content": {"text": word}}}
                    yield None, {"type": "content-delta", "index": 0, "delta": delta}
                yield None, {"type": "content-end", "index": 0}
            yield None, {"type": "message-end", "delta": {"finish_reason": finish, "usage": usage}}

        self._sse(events(), break_after=2 if s.stream_break else None)  # type: ignore[attr-defined]

    def _cohere_embed(self, body: dict[str, Any], s: Scenario) -> None:
        texts = [str(t) for t in body.get("texts") or []]
        dims = int(body.get("output_dimension") or 8)
        kinds = body.get("embedding_types") or ["float"]
        self._json(  # type: ignore[attr-defined]
            200,
            {
                "id": "cohere-embed-local",
                "response_type": "embeddings_by_type",
                "embeddings": {kind: [embedding_of(t, dims) for t in texts] for kind in kinds},
                "texts": texts,
                "meta": {"billed_units": {"input_tokens": sum(max(1, len(words(t))) for t in texts)}},
            },
        )

    def _cohere_rerank(self, body: dict[str, Any], s: Scenario) -> None:
        def terms(text: str) -> set[str]:
            return {w.strip() for w in words(text.lower())}

        query = terms(str(body.get("query") or ""))
        documents = [d if isinstance(d, str) else text_of(d.get("text")) for d in body.get("documents") or []]
        scores = [len(query & terms(doc)) / (len(query) or 1) for doc in documents]
        top_n = body.get("top_n") or len(documents)
        ranked = sorted(range(len(documents)), key=lambda i: -scores[i])[:top_n]
        self._json(  # type: ignore[attr-defined]
            200,
            {
                "id": "cohere-rerank-local",
                "results": [{"index": i, "relevance_score": round(scores[i], 4)} for i in ranked],
                "meta": {"billed_units": {"search_units": 1}},
            },
        )
