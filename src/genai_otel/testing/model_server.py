"""A local model server that speaks the providers' HTTP wire protocols: OpenAI (and the Groq,
Mistral and Azure AI Inference dialects), Anthropic, Gemini, Bedrock Runtime (AWS event stream),
Cohere v2 and Ollama (NDJSON) -- see ``genai_otel.testing.protocols``.

The real SDKs make real HTTP requests to it; answers are deterministic so tests can assert on
them. The model name steers behaviour:

* ``...tool...``          answer with a tool call (``get_weather`` with ``{"city": "Paris"}``, or the
                          tool the request declares: see ``protocols._common.Scenario``), in text once
                          the conversation carries a tool result (or by a declared ``final_answer`` tool)
* ``...handoff...``       call the first declared ``transfer_to_*`` tool (agent SDK hand-offs)
* ``...code-agent...``    answer in code blocks, as smolagents' CodeAgent expects
* DSPy ChatAdapter requests: answered in its ``[[ ## field ## ]]`` format (``_common.dspy_reply``)
* ``error-<status>``      answer with that HTTP error status in the provider's error format
* ``...slow...``          wait 2 s before answering (for client timeouts)
* ``...stream-break...``  send two stream chunks, then drop the connection
* ``...cache...``         report cached input tokens (OpenAI) / cache read+write (Anthropic)
* ``...reason...`` or ``o1``/``o3``/``o4`` prefixes: report reasoning tokens
* ``...judge...``         answer as a deterministic LLM judge (``protocols.judge``)

Run standalone: ``genai-otel model-server --port 8000``.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import socket
import struct
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from genai_otel.testing.protocols._common import (
    CACHE_WRITE_TOKENS,
    CACHED_TOKENS,
    REASONING_TOKENS,
    TOOL_ARGUMENTS,
    TOOL_NAME,
    code_agent_reply,
    dspy_reply,
    embedding_of,
    reply_for,
)
from genai_otel.testing.protocols._common import (
    Scenario as _Scenario,
)
from genai_otel.testing.protocols._common import (
    text_of as _text_of,
)
from genai_otel.testing.protocols._common import (
    words as _words,
)
from genai_otel.testing.protocols.bedrock import BedrockProtocol
from genai_otel.testing.protocols.cohere import CohereProtocol
from genai_otel.testing.protocols.google import GoogleProtocol
from genai_otel.testing.protocols.judge import judge_response
from genai_otel.testing.protocols.ollama import OllamaProtocol

__all__ = ["TOOL_ARGUMENTS", "TOOL_NAME", "ModelServer", "embedding_of"]


class _Handler(OllamaProtocol, CohereProtocol, GoogleProtocol, BedrockProtocol, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ModelServer  # type: ignore[assignment]

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without NODELAY, delayed ACKs add ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- plumbing -------------------------------------------------------------------------

    def _dialect(self) -> str:
        """Which OpenAI-compatible API the client expects, from its SDK's user agent."""
        agent = (self.headers.get("user-agent") or "").lower()
        for name in ("groq", "mistral", "azsdk", "litellm"):
            if name in agent:
                return "azure" if name == "azsdk" else name
        return "openai"

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        try:
            return json.loads(raw or b"{}")
        except json.JSONDecodeError:
            return {}

    def _json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-request-id", "req_local")
        self.end_headers()
        self.wfile.write(data)

    def _ndjson(self, objects: Iterator[Any], break_after: int | None = None) -> None:
        """Newline-delimited JSON, chunked (Ollama's streaming framing)."""
        self.send_response(200)
        self.send_header("content-type", "application/x-ndjson")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for sent, obj in enumerate(objects):
            if break_after is not None and sent >= break_after:
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            line = json.dumps(obj).encode() + b"\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def _sse(self, events: Iterator[tuple[str | None, Any]], break_after: int | None = None) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for sent, (event, data) in enumerate(events):
            if break_after is not None and sent >= break_after:
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            text = (
                f"event: {event}\n" if event else ""
            ) + f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"
            chunk = text.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def do_POST(self) -> None:
        body = self._body()
        self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        # Most APIs name the model in the body; Gemini and Bedrock in the path.
        path_model = re.search(r"/models?/([^/:]+)", self.path.split("?")[0])
        model = body.get("model") or (unquote(path_model.group(1)) if path_model else "")
        scenario = _Scenario(str(model), body)
        if scenario.slow:
            time.sleep(2.0)
        path = self.path.split("?")[0]
        anthropic = path.endswith("/messages")
        if scenario.error_status:
            if re.search(r"/model/[^/]+/(converse|invoke)", path):
                return self._bedrock_error(scenario.error_status)
            return self._error(scenario.error_status, anthropic)
        routes = {
            # The other protocols first: Ollama's legacy /api/embeddings must not match OpenAI's /embeddings.
            **{
                suffix: getattr(self, method)
                for protocol in (OllamaProtocol, CohereProtocol, GoogleProtocol, BedrockProtocol)
                for suffix, method in protocol.ROUTES.items()
            },
            "/chat/completions": self._chat,
            "/completions": self._completions,
            "/responses": self._responses,
            "/embeddings": self._embeddings,
            "/messages": self._messages,
        }
        for suffix, route in routes.items():
            if path.endswith(suffix):
                return route(body, scenario)
        self._json(404, {"error": {"message": f"no route {path}", "type": "not_found"}})

    def _error(self, status: int, anthropic: bool) -> None:
        message = f"simulated error {status}"
        if anthropic:
            kind = {
                400: "invalid_request_error",
                401: "authentication_error",
                429: "rate_limit_error",
                529: "overloaded_error",
            }.get(status, "api_error")
            return self._json(status, {"type": "error", "error": {"type": kind, "message": message}})
        self._json(
            status,
            {
                "error": {
                    "message": message,
                    "type": "server_error" if status >= 500 else "invalid_request_error",
                    "code": str(status),
                }
            },
        )

    # -- OpenAI ---------------------------------------------------------------------------

    _reply_for = staticmethod(reply_for)

    def _openai_usage(self, prompt: int, completion: int, s: _Scenario) -> dict[str, Any]:
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": CACHED_TOKENS if s.cache else 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": REASONING_TOKENS if s.reasoning else 0,
                "audio_tokens": 0,
            },
        }

    def _chat(self, body: dict[str, Any], s: _Scenario) -> None:
        if "judge" in s.model and (judged := judge_response(self.server, body, s.model)):
            return self._json(*judged)  # a deterministic LLM judge (protocols/judge.py)
        messages = body.get("messages") or []
        prompt_text = " ".join(_text_of(m.get("content")) for m in messages if isinstance(m, dict))
        last_user = next(
            (_text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), ""
        )
        prompt_tokens = max(1, len(_words(prompt_text))) + (CACHED_TOKENS if s.cache else 0)
        if "code-agent" in s.model:
            reply = code_agent_reply(messages)
        else:
            reply = dspy_reply(messages) or self._reply_for(last_user)
        if (body.get("response_format") or {}).get("type") in ("json_object", "json_schema"):
            reply = json.dumps({"text": reply})
        completion_tokens = len(_words(reply)) + (REASONING_TOKENS if s.reasoning else 0)
        n = int(body.get("n") or 1)
        finish = "tool_calls" if s.tool else "stop"
        created = int(time.time())
        base = {
            "id": "chatcmpl-local123",
            "created": created,
            "model": f"{s.model}-2026-01-01",
            "system_fingerprint": "fp_local",
            "service_tier": "default",
        }
        if not body.get("stream"):
            choices = []
            for index in range(n):
                message: dict[str, Any] = {"role": "assistant", "content": None if s.tool else reply}
                if s.tool:
                    message["tool_calls"] = [
                        {
                            "id": f"call_{index}",
                            "type": "function",
                            "function": {"name": s.tool_name, "arguments": s.tool_arguments},
                        }
                    ]
                choices.append(
                    {"index": index, "message": message, "finish_reason": finish, "logprobs": None}
                )
            return self._json(
                200,
                {
                    **base,
                    "object": "chat.completion",
                    "choices": choices,
                    "usage": self._openai_usage(prompt_tokens, completion_tokens, s),
                },
            )

        def chunk(choices: list[dict[str, Any]], **extra: Any) -> tuple[None, dict[str, Any]]:
            return None, {**base, "object": "chat.completion.chunk", "choices": choices, **extra}

        dialect = self._dialect()

        def events() -> Iterator[tuple[str | None, Any]]:
            for index in range(n):
                yield chunk(
                    [{"index": index, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]
                )
            if s.tool:
                # OpenAI-style APIs split the arguments over deltas; Mistral sends whole calls.
                half = 0 if dialect == "mistral" else len(s.tool_arguments) // 2
                for index in range(n):
                    yield chunk(
                        [
                            {
                                "index": index,
                                "finish_reason": None,
                                "delta": {
                                    "tool_calls": [
                                        {
                                            "index": 0,
                                            "id": f"call_{index}",
                                            "type": "function",
                                            "function": {
                                                "name": s.tool_name,
                                                "arguments": s.tool_arguments[: half or None],
                                            },
                                        }
                                    ]
                                },
                            }
                        ]
                    )
                    if half:
                        yield chunk(
                            [
                                {
                                    "index": index,
                                    "finish_reason": None,
                                    "delta": {
                                        "tool_calls": [
                                            {"index": 0, "function": {"arguments": s.tool_arguments[half:]}}
                                        ]
                                    },
                                }
                            ]
                        )
            else:
                for word in _words(reply):
                    for index in range(n):
                        yield chunk([{"index": index, "delta": {"content": word}, "finish_reason": None}])
            for index in range(n):
                yield chunk([{"index": index, "delta": {}, "finish_reason": finish}])
            usage = self._openai_usage(prompt_tokens, completion_tokens, s)
            if dialect == "groq":  # Groq reports stream usage in x_groq on the last chunk
                yield chunk([], x_groq={"id": "req_local", "usage": usage})
            elif dialect in ("mistral", "azure") or (body.get("stream_options") or {}).get("include_usage"):
                yield chunk([], usage=usage)  # Mistral and Azure AI Inference always send it
            yield None, "[DONE]"

        self._sse(events(), break_after=2 if s.stream_break else None)

    def _completions(self, body: dict[str, Any], s: _Scenario) -> None:
        prompt = body.get("prompt") or ""
        prompt = prompt if isinstance(prompt, str) else " ".join(map(str, prompt))
        reply = self._reply_for(prompt)
        usage = self._openai_usage(max(1, len(_words(prompt))), len(_words(reply)), s)
        base = {
            "id": "cmpl-local123",
            "object": "text_completion",
            "created": int(time.time()),
            "model": f"{s.model}-2026-01-01",
        }
        if not body.get("stream"):
            return self._json(
                200,
                {
                    **base,
                    "usage": usage,
                    "choices": [{"index": 0, "text": reply, "finish_reason": "stop", "logprobs": None}],
                },
            )

        def events() -> Iterator[tuple[str | None, Any]]:
            for word in _words(reply):
                yield (
                    None,
                    {
                        **base,
                        "choices": [{"index": 0, "text": word, "finish_reason": None, "logprobs": None}],
                    },
                )
            yield (
                None,
                {**base, "choices": [{"index": 0, "text": "", "finish_reason": "stop", "logprobs": None}]},
            )
            if (body.get("stream_options") or {}).get("include_usage"):
                yield None, {**base, "choices": [], "usage": usage}
            yield None, "[DONE]"

        self._sse(events(), break_after=2 if s.stream_break else None)

    def _responses(self, body: dict[str, Any], s: _Scenario) -> None:
        value = body.get("input") or ""
        text = (
            value
            if isinstance(value, str)
            else " ".join(_text_of(item.get("content")) for item in value if isinstance(item, dict))
        )
        reply = self._reply_for(text)
        input_tokens = max(1, len(_words(text))) + (CACHED_TOKENS if s.cache else 0)
        output_tokens = len(_words(reply)) + (REASONING_TOKENS if s.reasoning else 0)
        if s.tool:
            item: dict[str, Any] = {
                "type": "function_call",
                "id": "fc_local",
                "call_id": "call_0",
                "name": s.tool_name,
                "arguments": s.tool_arguments,
                "status": "completed",
            }
        else:
            item = {
                "type": "message",
                "id": "msg_local",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": reply, "annotations": []}],
            }
        response: dict[str, Any] = {
            "id": "resp_local123",
            "object": "response",
            "created_at": int(time.time()),
            "status": "completed",
            "model": f"{s.model}-2026-01-01",
            "output": [item],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": body.get("tools") or [],
            "temperature": body.get("temperature"),
            "top_p": body.get("top_p"),
            "service_tier": "default",
            "error": None,
            "incomplete_details": None,
            "instructions": body.get("instructions"),
            "metadata": {},
            "usage": {
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "total_tokens": input_tokens + output_tokens,
                "input_tokens_details": {"cached_tokens": CACHED_TOKENS if s.cache else 0},
                "output_tokens_details": {"reasoning_tokens": REASONING_TOKENS if s.reasoning else 0},
            },
        }
        if not body.get("stream"):
            return self._json(200, response)

        def events() -> Iterator[tuple[str | None, Any]]:
            seq = iter(range(1_000_000))
            pending = {**response, "status": "in_progress", "output": [], "usage": None}

            def event(kind: str, **data: Any) -> tuple[str, dict[str, Any]]:
                return kind, {"type": kind, "sequence_number": next(seq), **data}

            yield event("response.created", response=pending)
            yield event("response.in_progress", response=pending)
            if s.tool:
                yield event(
                    "response.output_item.added",
                    output_index=0,
                    item={**item, "arguments": "", "status": "in_progress"},
                )
                yield event(
                    "response.function_call_arguments.delta",
                    item_id="fc_local",
                    output_index=0,
                    delta=s.tool_arguments,
                )
                yield event(
                    "response.function_call_arguments.done",
                    item_id="fc_local",
                    output_index=0,
                    arguments=s.tool_arguments,
                    name=s.tool_name,
                )
            else:
                yield event(
                    "response.output_item.added",
                    output_index=0,
                    item={**item, "content": [], "status": "in_progress"},
                )
                yield event(
                    "response.content_part.added",
                    item_id="msg_local",
                    output_index=0,
                    content_index=0,
                    part={"type": "output_text", "text": "", "annotations": []},
                )
                for word in _words(reply):
                    yield event(
                        "response.output_text.delta",
                        item_id="msg_local",
                        output_index=0,
                        content_index=0,
                        delta=word,
                        logprobs=[],
                    )
                yield event(
                    "response.output_text.done",
                    item_id="msg_local",
                    output_index=0,
                    content_index=0,
                    text=reply,
                    logprobs=[],
                )
                yield event(
                    "response.content_part.done",
                    item_id="msg_local",
                    output_index=0,
                    content_index=0,
                    part=item["content"][0],
                )
            yield event("response.output_item.done", output_index=0, item=item)
            yield event("response.completed", response=response)

        self._sse(events(), break_after=3 if s.stream_break else None)

    def _embeddings(self, body: dict[str, Any], s: _Scenario) -> None:
        inputs = body.get("input") or body.get("inputs") or ""  # OpenAI: input; Mistral: inputs
        inputs = [inputs] if isinstance(inputs, str) else list(inputs)
        dims = int(body.get("dimensions") or body.get("output_dimension") or 8)
        data = []
        for index, text in enumerate(inputs):
            vector = embedding_of(str(text), dims)
            embedding: Any = vector
            if body.get("encoding_format") == "base64":
                embedding = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        tokens = sum(max(1, len(_words(str(t)))) for t in inputs)
        self._json(
            200,
            {
                "id": "embd-local123",
                "object": "list",
                "data": data,
                "model": f"{s.model}-2026-01-01",
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    # -- Anthropic ------------------------------------------------------------------------

    def _messages(self, body: dict[str, Any], s: _Scenario) -> None:
        messages = body.get("messages") or []
        prompt_text = (
            _text_of(body.get("system") or "")
            + " "
            + " ".join(_text_of(m.get("content")) for m in messages if isinstance(m, dict))
        )
        last_user = next(
            (_text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), ""
        )
        reply = self._reply_for(last_user)
        usage = {
            "input_tokens": max(1, len(_words(prompt_text))),
            "output_tokens": len(_words(reply)) + (REASONING_TOKENS if s.reasoning else 0),
            "cache_read_input_tokens": CACHED_TOKENS if s.cache else 0,
            "cache_creation_input_tokens": CACHE_WRITE_TOKENS if s.cache else 0,
        }
        content: list[dict[str, Any]] = [{"type": "text", "text": reply}]
        if s.tool:
            content.append(
                {
                    "type": "tool_use",
                    # Unique per call: agents that nest (sub-agents) match results to calls by id.
                    "id": f"toolu_local_{next(self.server.tool_ids)}",
                    "name": s.tool_name,
                    "input": json.loads(s.tool_arguments),
                }
            )
        stop_reason = "tool_use" if s.tool else "end_turn"
        message = {
            "id": "msg_local123",
            "type": "message",
            "role": "assistant",
            "model": f"{s.model}-20260101",
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }
        if not body.get("stream"):
            return self._json(200, message)

        def events() -> Iterator[tuple[str | None, Any]]:
            start_usage = {**usage, "output_tokens": 1}
            yield (
                "message_start",
                {
                    "type": "message_start",
                    "message": {**message, "content": [], "stop_reason": None, "usage": start_usage},
                },
            )
            yield "ping", {"type": "ping"}
            for index, block in enumerate(content):
                if block["type"] == "text":
                    yield (
                        "content_block_start",
                        {
                            "type": "content_block_start",
                            "index": index,
                            "content_block": {"type": "text", "text": ""},
                        },
                    )
                    for word in _words(block["text"]):
                        yield (
                            "content_block_delta",
                            {
                                "type": "content_block_delta",
                                "index": index,
                                "delta": {"type": "text_delta", "text": word},
                            },
                        )
                else:
                    yield (
                        "content_block_start",
                        {
                            "type": "content_block_start",
                            "index": index,
                            "content_block": {**block, "input": {}},
                        },
                    )
                    half = len(s.tool_arguments) // 2
                    for piece in (s.tool_arguments[:half], s.tool_arguments[half:]):
                        yield (
                            "content_block_delta",
                            {
                                "type": "content_block_delta",
                                "index": index,
                                "delta": {"type": "input_json_delta", "partial_json": piece},
                            },
                        )
                yield "content_block_stop", {"type": "content_block_stop", "index": index}
            yield (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": usage["output_tokens"]},
                },
            )
            yield "message_stop", {"type": "message_stop"}

        self._sse(events(), break_after=3 if s.stream_break else None)


class ModelServer(ThreadingHTTPServer):
    """``with ModelServer() as server:`` serves on a free loopback port in a background thread."""

    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.requests: list[dict[str, Any]] = []
        self.tool_ids = itertools.count(1)
        self._thread: threading.Thread | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients dropping connections (closed streams, timeouts) are expected here

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    def start(self) -> ModelServer:
        self._thread = threading.Thread(
            target=self.serve_forever, name="genai-otel-model-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
