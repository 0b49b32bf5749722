"""The OpenAI-compatible mapping: chat-completions and embeddings requests/responses -> invocation records.

Shared by every SDK that speaks the OpenAI API's shapes: openai itself (its Responses API and legacy
completions are in :mod:`genai_otel.instrumentation.openai._mapping`), groq, mistralai,
azure-ai-inference and litellm build their records here, passing their own ``provider``; cohere,
google-genai and ollama reuse its tool-call and tool-definition shapes. The ``openai.*`` attributes
are written only for OpenAI and Azure OpenAI. No telemetry logic here.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from genai_otel import semconv
from genai_otel.instrumentation._messages import text_parts
from genai_otel.instrumentation._util import (
    arg,
    as_list,
    fields_reader,
    get,
    given,
    modality_tokens,
    parsed_response,
    server_of,
)
from genai_otel.telemetry import EmbeddingsInvocation, InferenceInvocation, TelemetryHandler
from genai_otel.telemetry.invocation import check_fields

PROVIDER_OPENAI = "openai"
PROVIDER_AZURE_OPENAI = "azure.ai.openai"
OUTPUT_TYPES = {"json_object": "json", "json_schema": "json", "text": "text"}


def _provider(client: Any, host: str | None) -> str:
    if type(client).__name__.startswith("AsyncAzure") or type(client).__name__.startswith("Azure"):
        return PROVIDER_AZURE_OPENAI
    if host and (host.endswith(".openai.azure.com") or host.endswith(".services.ai.azure.com")):
        return PROVIDER_AZURE_OPENAI
    return PROVIDER_OPENAI


OPENAI_PROVIDERS = frozenset({PROVIDER_OPENAI, PROVIDER_AZURE_OPENAI})


#: id(base URL object) -> (that URL, the client's type, (provider, host, port)): the SDK's ``base_url``
#: property re-imports and re-parses on every read (a microsecond per call); its URL object is immutable
#: and replaced, never changed, when the client's base URL is set, so what it tells is kept per URL object
#: (and client type: Azure clients are told apart by type).
_SERVERS: dict[int, tuple[Any, type, tuple[str, str | None, int | None]]] = {}
_MAX_SERVERS = 256
_NO_FIELDS: dict[str, Any] = {}


def _base(resource: Any, provider: str | None = None) -> tuple[str, str | None, int | None]:
    """``(provider, server.address, server.port)`` of the client behind an SDK resource."""
    client = getattr(resource, "_client", None)
    url = getattr(client, "__dict__", _NO_FIELDS).get("_base_url")  # the Stainless SDKs' own field
    known = _SERVERS.get(id(url)) if url is not None else None
    if known is None or known[0] is not url or known[1] is not type(client):
        host, port = server_of(client)
        known = (url, type(client), (_provider(client, host), host, port))
        if url is not None:
            if len(_SERVERS) >= _MAX_SERVERS:
                _SERVERS.clear()
            _SERVERS[id(url)] = known
    base = known[2]
    return base if provider is None else (provider, base[1], base[2])


# -- content ------------------------------------------------------------------------------


def tool_call_part(call: Any) -> dict[str, Any]:
    """An OpenAI-shaped ``{id, function: {name, arguments}}`` tool call as a GenAI message part."""
    function = get(call, "function")
    return {
        "type": "tool_call",
        "id": get(call, "id"),
        "name": get(function, "name"),
        "arguments": get(function, "arguments"),
    }


def chat_input_messages(messages: Any) -> list[dict[str, Any]]:
    out = []
    for message in messages or ():
        role = get(message, "role")
        if role == "tool":
            out.append(
                {
                    "role": "tool",
                    "parts": [
                        {
                            "type": "tool_call_response",
                            "id": get(message, "tool_call_id"),
                            "response": get(message, "content"),
                        }
                    ],
                }
            )
            continue
        parts = text_parts(get(message, "content"))
        parts += [tool_call_part(call) for call in get(message, "tool_calls") or ()]
        out.append({"role": role, "parts": parts})
    return out


def tool_definitions(tools: Any) -> list[dict[str, Any]] | None:
    if not tools:
        return None
    out = []
    for tool in tools:
        function = get(tool, "function") or tool
        out.append(
            {
                "type": get(tool, "type", "function"),
                "name": get(function, "name"),
                "description": get(function, "description"),
                "parameters": get(function, "parameters"),
            }
        )
    return out


# -- chat completions -------------------------------------------------------------------------


def inference_record(
    resource: Any, kwargs: dict, operation: str, max_tokens: Any, provider: str | None = None
) -> InferenceInvocation:
    """The request fields chat, legacy completions and Responses share (absent ones stay None)."""
    provider, host, port = _base(resource, provider)
    return compatible_request(kwargs, operation, provider, host, port, max_tokens)


#: OpenAI-shaped request argument -> the record field it fills (``stop`` and ``stream`` normalised after).
_REQUEST_FIELDS = {
    "model": "request_model",
    "temperature": "temperature",
    "top_p": "top_p",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
    "seed": "seed",
    "n": "choice_count",
    "stop": "stop_sequences",
    "stream": "stream",
}
check_fields(
    InferenceInvocation,
    [*_REQUEST_FIELDS.values(), "operation", "provider", "server_address", "server_port", "max_tokens"],
)


def compatible_request(
    kwargs: dict, operation: str, provider: str, host: str | None, port: int | None, max_tokens: Any
) -> InferenceInvocation:
    """An OpenAI-shaped request (``temperature``, ``top_p``, ``stop``, penalties, ``seed``, ``n``)."""
    fields = {"operation": operation, "provider": provider, "server_address": host, "server_port": port}
    # One pass over the arguments the caller gave (a handful), not a lookup per argument we know.
    for name, value in kwargs.items():
        field_name = _REQUEST_FIELDS.get(name)
        if field_name is not None and given(value):
            fields[field_name] = value
    if "stop_sequences" in fields:
        fields["stop_sequences"] = as_list(fields["stop_sequences"])
    if "stream" in fields:
        if fields["stream"]:
            fields["stream"] = True
        else:
            del fields["stream"]
    if max_tokens is not None:
        fields["max_tokens"] = max_tokens
    return InferenceInvocation.from_checked(fields)


def service_tier(inv: InferenceInvocation, kwargs: dict, api_type: str) -> None:
    """The ``openai.request.*`` attributes (OpenAI and Azure OpenAI only)."""
    if inv.provider not in OPENAI_PROVIDERS:
        return
    tier = arg(kwargs, "service_tier")
    if tier:
        inv.attributes[semconv.OPENAI_REQUEST_SERVICE_TIER] = tier
    inv.attributes[semconv.OPENAI_API_TYPE] = api_type


def build_chat(
    handler: TelemetryHandler, resource: Any, args: tuple, kwargs: dict, provider: str | None = None
) -> InferenceInvocation:
    provider, host, port = _base(resource, provider)
    max_tokens = arg(kwargs, "max_completion_tokens") or arg(kwargs, "max_tokens")
    inv = compatible_request(kwargs, semconv.OPERATION_CHAT, provider, host, port, max_tokens)
    chat_request_details(handler, inv, kwargs)
    service_tier(inv, kwargs, "chat_completions")
    return inv


def chat_request_details(handler: TelemetryHandler, inv: InferenceInvocation, kwargs: dict) -> None:
    """Output type and (under content capture) messages and tools of an OpenAI-shaped chat request."""
    response_format = arg(kwargs, "response_format")
    if isinstance(response_format, dict):
        inv.output_type = OUTPUT_TYPES.get(response_format.get("type"))
    elif isinstance(response_format, type):  # parse(response_format=PydanticModel)
        inv.output_type = "json"
    if handler.capture_content:
        inv.input_messages = chat_input_messages(arg(kwargs, "messages"))
        inv.tool_definitions = tool_definitions(arg(kwargs, "tools"))


def openai_response_attributes(inv: InferenceInvocation, response: Any) -> None:
    """The ``openai.response.*`` attributes (OpenAI and Azure OpenAI only)."""
    if inv.provider in OPENAI_PROVIDERS:
        _openai_attributes(inv, *_tier_and_fingerprint(response))


def _openai_attributes(inv: InferenceInvocation, tier: Any, fingerprint: Any) -> None:
    if tier:
        inv.response_attributes[semconv.OPENAI_RESPONSE_SERVICE_TIER] = tier
    if fingerprint:
        inv.response_attributes[semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] = fingerprint


# Responses are read on every call: the fields each object holds, read at once (see fields_reader).
_tier_and_fingerprint = fields_reader("service_tier", "system_fingerprint")
_chat_response = fields_reader("id", "model", "choices", "usage", "service_tier", "system_fingerprint")
_usage_counts = fields_reader(
    "prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details"
)
_prompt_details = fields_reader("cached_tokens", "audio_tokens")
_completion_details = fields_reader("reasoning_tokens", "audio_tokens")


def _chat_usage(inv: InferenceInvocation, usage: Any) -> None:
    if usage is None:
        return
    inv.input_tokens, inv.output_tokens, prompt_details, completion_details = _usage_counts(usage)
    inv.cache_read_input_tokens, input_audio = _prompt_details(prompt_details)
    inv.reasoning_output_tokens, output_audio = _completion_details(completion_details)
    # Reported as 0 for text-only calls: only a real audio count is worth an attribute.
    if input_audio:
        inv.response_attributes.update(modality_tokens("input", [("audio", input_audio)]))
    if output_audio:
        inv.response_attributes.update(modality_tokens("output", [("audio", output_audio)]))


def choices_result(inv: InferenceInvocation, result: Any, output_message: Any) -> None:
    """A ``choices`` response (chat or legacy completions); ``output_message`` maps one choice."""
    # A model object (the common case) is the response itself: asking it for the raw-response wrapper's
    # ``http_response`` goes through pydantic's failing __getattr__, dearer than all the mapping.
    response = result if "http_response" not in getattr(result, "__dict__", ()) else parsed_response(result)
    inv.response_id, inv.response_model, choices, usage, tier, fingerprint = _chat_response(response)
    choices = choices or ()
    inv.finish_reasons = [_reason(get(c, "finish_reason")) for c in choices]
    _chat_usage(inv, usage)
    if inv.provider in OPENAI_PROVIDERS:
        _openai_attributes(inv, tier, fingerprint)
    if inv.input_messages is not None:
        inv.output_messages = [output_message(c) for c in choices]


def _reason(value: Any) -> str:
    """A finish reason as plain text (some SDKs return str enums)."""
    if type(value) is str:  # the common case, without a failing attribute lookup
        return value
    return str(getattr(value, "value", value) or "")


def chat_result(inv: InferenceInvocation, result: Any) -> None:
    choices_result(inv, result, lambda c: _chat_output_message(get(c, "message"), get(c, "finish_reason")))


def _chat_output_message(message: Any, finish_reason: Any) -> dict[str, Any]:
    parts = text_parts(get(message, "content"))
    parts += [tool_call_part(call) for call in get(message, "tool_calls") or ()]
    return {"role": "assistant", "parts": parts, "finish_reason": _reason(finish_reason)}


class ChatStreamAccumulator:
    """Reassembles streamed chat deltas (text and tool-call fragments) per choice."""

    def __init__(self, inv: InferenceInvocation) -> None:
        self.capture = inv.input_messages is not None
        self.response_id = self.model = None
        self.usage = None
        self.last_chunk: Any = None
        self.finish: dict[int, str] = {}
        self.text: dict[int, list[str]] = {}
        self.tools: dict[int, dict[int, dict[str, Any]]] = {}

    def feed(self, chunk: Any) -> None:
        # Hot path (once per chunk): SDK chunks are models, so plain attribute reads of declared fields
        # only -- a missing one costs a pydantic __getattr__ and an AttributeError (see x_groq in apply).
        self.last_chunk = chunk
        if self.response_id is None:
            self.response_id = getattr(chunk, "id", None)
            self.model = getattr(chunk, "model", None)
        try:  # a plain read: cheaper than getattr() with a default, and OpenAI-shaped chunks all have it
            choices = chunk.choices
        except AttributeError:
            choices = None
        ended = not choices
        if choices:
            for choice in choices:
                reason = choice.finish_reason
                if reason:
                    self.finish[choice.index] = _reason(reason)
                    ended = True
                if self.capture:
                    self._collect(choice)
        if ended:
            # Usage comes with the end of the stream: on a chunk without choices (OpenAI, Azure, Mistral's
            # and litellm's usage chunk) or on the one that finishes a choice (Mistral's API, vLLM), so
            # the content chunks in between are not asked for it.
            usage = getattr(chunk, "usage", None)
            if usage is not None:
                self.usage = usage

    def _collect(self, choice: Any) -> None:
        index, delta = choice.index, choice.delta
        if delta is None:
            return
        text = get(delta, "content")
        if text:
            texts = self.text.get(index)  # not setdefault: that builds a list on every chunk
            if texts is None:
                self.text[index] = [text]
            else:
                texts.append(text)
        for call in get(delta, "tool_calls") or ():
            slot = self.tools.setdefault(index, {}).setdefault(
                get(call, "index", 0), {"type": "tool_call", "id": None, "name": None, "arguments": ""}
            )
            slot["id"] = get(call, "id") or slot["id"]
            function = get(call, "function")
            slot["name"] = get(function, "name") or slot["name"]
            slot["arguments"] += get(function, "arguments") or ""

    def apply(self, inv: InferenceInvocation) -> None:
        inv.response_id = self.response_id
        inv.response_model = self.model
        if self.finish:
            inv.finish_reasons = [self.finish[i] for i in sorted(self.finish)]
        # Groq reports stream usage in ``x_groq`` on the last chunk: read there, not on every chunk.
        _chat_usage(inv, self.usage or get(get(self.last_chunk, "x_groq"), "usage"))
        if self.last_chunk is not None:
            openai_response_attributes(inv, self.last_chunk)
        if self.capture and inv.input_messages is not None:
            indexes = sorted(set(self.text) | set(self.tools) | set(self.finish))
            inv.output_messages = [
                {
                    "role": "assistant",
                    "parts": ([{"type": "text", "content": "".join(self.text[i])}] if i in self.text else [])
                    + [self.tools[i][k] for k in sorted(self.tools.get(i, {}))],
                    "finish_reason": self.finish.get(i, ""),
                }
                for i in indexes
            ]


# -- embeddings ---------------------------------------------------------------------------------


def build_embeddings(
    handler: TelemetryHandler, resource: Any, args: tuple, kwargs: dict, provider: str | None = None
) -> EmbeddingsInvocation:
    provider, host, port = _base(resource, provider)
    return embeddings_request(kwargs, provider, host, port)


def embeddings_request(
    kwargs: dict,
    provider: str,
    host: str | None,
    port: int | None,
    format_key: str = "encoding_format",
    dimensions_key: str = "dimensions",
) -> EmbeddingsInvocation:
    """An embeddings request: model, encoding format and requested dimensions (keys vary by SDK)."""
    fmt = arg(kwargs, format_key)
    return EmbeddingsInvocation(
        provider=provider,
        request_model=arg(kwargs, "model"),
        server_address=host,
        server_port=port,
        encoding_formats=[str(fmt)] if fmt else None,
        dimension_count=arg(kwargs, dimensions_key),
    )


def embeddings_result(inv: EmbeddingsInvocation, result: Any) -> None:
    response = parsed_response(result)
    inv.response_model = get(response, "model")
    inv.input_tokens = get(get(response, "usage"), "prompt_tokens")
    data = get(response, "data") or ()
    if data and inv.dimension_count is None:
        inv.dimension_count = _dimension(get(data[0], "embedding"))


def _dimension(vector: Any) -> int | None:
    if isinstance(vector, str):  # base64 of float32s
        try:
            return len(base64.b64decode(vector)) // 4
        except (binascii.Error, ValueError):
            return None
    return len(vector) if vector is not None else None
