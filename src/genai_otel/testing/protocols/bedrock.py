"""Amazon Bedrock Runtime: ``/model/{id}/converse``, ``/converse-stream`` (AWS event stream binary
framing), ``/invoke`` (each model family's native body) and ``/invoke-with-response-stream``."""

from __future__ import annotations

import base64
import binascii
import json
import struct
from collections.abc import Iterator
from typing import Any

from genai_otel.testing.protocols._common import (
    CACHE_WRITE_TOKENS,
    CACHED_TOKENS,
    Scenario,
    embedding_of,
    reply_for,
    words,
)

EVENT_STREAM = "application/vnd.amazon.eventstream"


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return (
        struct.pack("B", len(raw_name)) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value
    )


def event_message(event_type: str, payload: dict[str, Any], message_type: str = "event") -> bytes:
    """One AWS event stream message: prelude (lengths + CRC), headers, JSON payload, message CRC."""
    headers = (
        _header(":event-type", event_type)
        + _header(":content-type", "application/json")
        + _header(":message-type", message_type)
    )
    body = json.dumps(payload).encode()
    total = 12 + len(headers) + len(body) + 4
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", binascii.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + headers + body
    return message + struct.pack(">I", binascii.crc32(message) & 0xFFFFFFFF)


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    return [block["text"] for block in content or [] if isinstance(block, dict) and "text" in block]


def _last_user(messages: list[dict[str, Any]]) -> str:
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    return " ".join(_texts(users[-1].get("content"))) if users else ""


class BedrockProtocol:
    ROUTES = {
        "/converse": "_bedrock_converse",
        "/converse-stream": "_bedrock_converse",
        "/invoke": "_bedrock_invoke",
        "/invoke-with-response-stream": "_bedrock_invoke",
    }

    def _bedrock_error(self, status: int) -> None:
        kind = {429: "ThrottlingException", 400: "ValidationException", 404: "ResourceNotFoundException"}
        code = kind.get(status, "InternalServerException")
        data = json.dumps({"message": f"simulated error {status}"}).encode()
        self.send_response(status)  # type: ignore[attr-defined]
        self.send_header("content-type", "application/json")  # type: ignore[attr-defined]
        self.send_header("x-amzn-ErrorType", f"{code}:")  # type: ignore[attr-defined]
        self.send_header("content-length", str(len(data)))  # type: ignore[attr-defined]
        self.end_headers()  # type: ignore[attr-defined]
        self.wfile.write(data)  # type: ignore[attr-defined]

    def _event_stream(self, messages: Iterator[bytes]) -> None:
        self.send_response(200)  # type: ignore[attr-defined]
        self.send_header("content-type", EVENT_STREAM)  # type: ignore[attr-defined]
        self.send_header("transfer-encoding", "chunked")  # type: ignore[attr-defined]
        self.end_headers()  # type: ignore[attr-defined]
        for message in messages:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(message), message))  # type: ignore[attr-defined]
            self.wfile.flush()  # type: ignore[attr-defined]
        self.wfile.write(b"0\r\n\r\n")  # type: ignore[attr-defined]

    def _bedrock_usage(self, prompt: str, reply: str, s: Scenario) -> dict[str, int]:
        usage = {"inputTokens": max(1, len(words(prompt))), "outputTokens": len(words(reply))}
        if s.cache:
            usage.update(cacheReadInputTokens=CACHED_TOKENS, cacheWriteInputTokens=CACHE_WRITE_TOKENS)
        usage["totalTokens"] = usage["inputTokens"] + usage["outputTokens"]
        return usage

    def _bedrock_converse(self, body: dict[str, Any], s: Scenario) -> None:
        messages = body.get("messages") or []
        prompt = " ".join(t for m in messages for t in _texts(m.get("content")))
        reply = reply_for(_last_user(messages))
        usage = self._bedrock_usage(prompt, reply, s)
        stop = "tool_use" if s.tool else "end_turn"
        tool = {"toolUseId": "tooluse_0", "name": s.tool_name, "input": json.loads(s.tool_arguments)}
        if not self.path.split("?")[0].endswith("-stream"):  # type: ignore[attr-defined]
            content = [{"toolUse": tool}] if s.tool else [{"text": reply}]
            return self._json(  # type: ignore[attr-defined]
                200,
                {
                    "output": {"message": {"role": "assistant", "content": content}},
                    "stopReason": stop,
                    "usage": usage,
                    "metrics": {"latencyMs": 5},
                },
            )

        def events() -> Iterator[bytes]:
            yield event_message("messageStart", {"role": "assistant"})
            if s.tool:
                start = {"toolUse": {"toolUseId": "tooluse_0", "name": s.tool_name}}
                yield event_message("contentBlockStart", {"contentBlockIndex": 0, "start": start})
                half = len(s.tool_arguments) // 2
                for piece in (s.tool_arguments[:half], s.tool_arguments[half:]):
                    delta = {"contentBlockIndex": 0, "delta": {"toolUse": {"input": piece}}}
                    yield event_message("contentBlockDelta", delta)
            else:
                for word in words(reply):
                    yield event_message(
                        "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": word}}
                    )
            yield event_message("contentBlockStop", {"contentBlockIndex": 0})
            yield event_message("messageStop", {"stopReason": stop})
            yield event_message("metadata", {"usage": usage, "metrics": {"latencyMs": 5}})

        self._event_stream(events())

    def _bedrock_invoke(self, body: dict[str, Any], s: Scenario) -> None:
        """Native bodies: Anthropic messages, Amazon Nova, Meta Llama, Titan text and embeddings."""
        model = s.model
        if "embed" in model:
            text = str(body.get("inputText") or " ".join(body.get("texts") or []))
            tokens = max(1, len(words(text)))
            payload: dict[str, Any] = {"embedding": embedding_of(text, int(body.get("dimensions") or 8))}
            payload["inputTextTokenCount"] = tokens
            return self._invoke_reply(payload, tokens, 0)
        messages = body.get("messages") or []
        prompt = str(body.get("prompt") or body.get("inputText") or _last_user(messages))
        reply = reply_for(prompt if "prompt" in body or "inputText" in body else _last_user(messages))
        prompt_tokens, reply_tokens = max(1, len(words(prompt))), len(words(reply))
        if model.startswith("anthropic."):
            payload = {
                "id": "msg_bedrock_local",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": reply}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": prompt_tokens, "output_tokens": reply_tokens},
            }
        elif model.startswith("amazon.nova"):
            payload = {
                "output": {"message": {"role": "assistant", "content": [{"text": reply}]}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": prompt_tokens, "outputTokens": reply_tokens},
            }
        elif model.startswith("meta."):
            payload = {
                "generation": reply,
                "prompt_token_count": prompt_tokens,
                "generation_token_count": reply_tokens,
                "stop_reason": "stop",
            }
        else:  # amazon.titan-text
            payload = {
                "inputTextTokenCount": prompt_tokens,
                "results": [{"tokenCount": reply_tokens, "outputText": reply, "completionReason": "FINISH"}],
            }
        if self.path.split("?")[0].endswith("-stream"):  # type: ignore[attr-defined]
            metrics = {"inputTokenCount": prompt_tokens, "outputTokenCount": reply_tokens}
            payload["amazon-bedrock-invocationMetrics"] = metrics
            chunk = {"bytes": base64.b64encode(json.dumps(payload).encode()).decode()}
            return self._event_stream(iter([event_message("chunk", chunk)]))
        self._invoke_reply(payload, prompt_tokens, reply_tokens)

    def _invoke_reply(self, payload: dict[str, Any], prompt_tokens: int, reply_tokens: int) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)  # type: ignore[attr-defined]
        self.send_header("content-type", "application/json")  # type: ignore[attr-defined]
        self.send_header("content-length", str(len(data)))  # type: ignore[attr-defined]
        # Bedrock reports token counts of every InvokeModel call in these headers.
        self.send_header("x-amzn-bedrock-input-token-count", str(prompt_tokens))  # type: ignore[attr-defined]
        self.send_header("x-amzn-bedrock-output-token-count", str(reply_tokens))  # type: ignore[attr-defined]
        self.end_headers()  # type: ignore[attr-defined]
        self.wfile.write(data)  # type: ignore[attr-defined]
