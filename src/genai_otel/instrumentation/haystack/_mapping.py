"""Haystack spans -> invocation records: the GenAI operation of each span (from Haystack's operation
name and component type) and the details read from its input and output tags."""

from __future__ import annotations

from typing import Any

from genai_otel import semconv
from genai_otel.instrumentation._framework import fill
from genai_otel.instrumentation._messages import (
    message,
    role_of,
    split_system,
    text_parts,
    tool_call,
    tool_response,
)
from genai_otel.instrumentation._util import get
from genai_otel.telemetry import (
    AgentInvocation,
    EmbeddingsInvocation,
    InferenceInvocation,
    Invocation,
    RetrievalInvocation,
    ToolInvocation,
)

PROVIDER = "haystack"
COMPONENT_NAME = "haystack.component.name"
COMPONENT_TYPE = "haystack.component.type"
QUALIFIED_TYPE = "haystack.component.fully_qualified_type"
INPUT_TAGS = frozenset({"haystack.component.input", "haystack.agent.step.llm.input", "haystack.agent.input"})
OUTPUT_TAGS = frozenset(
    {"haystack.component.output", "haystack.agent.step.llm.output", "haystack.agent.output"}
)
TOOL_INPUT = "haystack.agent.step.tool.input"
TOOL_OUTPUT = "haystack.agent.step.tool.output"
TOOL_ERROR = "haystack.tool.error"

# Substrings of a component's fully qualified type -> gen_ai.provider.name (first match wins).
_PROVIDERS = (
    ("azure", "azure.ai.openai"),
    ("openai", "openai"),
    ("anthropic", "anthropic"),
    ("ollama", "ollama"),
    ("cohere", "cohere"),
    ("mistral", "mistral_ai"),
    ("amazon_bedrock", "aws.bedrock"),
    ("google_genai", "gcp.gen_ai"),
    ("google_ai", "gcp.gemini"),
    ("vertex", "gcp.vertex_ai"),
    ("huggingface", "huggingface"),
    ("sentence_transformers", "sentence_transformers"),
    ("groq", "groq"),
)


def provider_of(tags: dict[str, Any]) -> str:
    qualified = str(tags.get(QUALIFIED_TYPE) or tags.get(COMPONENT_TYPE) or "").lower()
    return next((provider for key, provider in _PROVIDERS if key in qualified), PROVIDER)


def record_for(operation_name: str, tags: dict[str, Any]) -> Invocation | None:
    """The invocation record for a Haystack span, or ``None`` for an internal span."""
    if operation_name in ("haystack.agent.step.llm", "haystack.chat_generator.run"):
        return _model_call(tags)
    if operation_name == "haystack.agent.run":
        return AgentInvocation(provider=PROVIDER, agent_name="agent")
    if operation_name == "haystack.agent.step.tool":
        return ToolInvocation(
            tool_name=tags.get("haystack.tool.name"),
            tool_description=tags.get("haystack.tool.description") or None,
            tool_type="function",
        )
    if operation_name != "haystack.component.run":
        return None
    kind = str(tags.get(COMPONENT_TYPE) or "")
    if kind.endswith("Generator"):
        return _model_call(tags)
    if kind.endswith("Embedder"):
        return EmbeddingsInvocation(provider=provider_of(tags), owns_client_calls=True)
    if kind.endswith("Retriever"):
        return RetrievalInvocation(provider=PROVIDER, data_source_id=kind)
    if kind == "Agent" or kind.endswith("Agent"):
        return AgentInvocation(provider=PROVIDER, agent_name=str(tags.get(COMPONENT_NAME) or kind))
    if kind.endswith("ToolInvoker"):
        return ToolInvocation(tool_name=str(tags.get(COMPONENT_NAME) or kind), tool_type="function")
    return None


def _model_call(tags: dict[str, Any]) -> InferenceInvocation:
    # Haystack's tags do not name the model (an Agent's LLM step not even the generator): they come from
    # the merged client call or the replies' meta when the call ends; see :func:`finish`.
    provider = provider_of(tags) if tags.get(QUALIFIED_TYPE) or tags.get(COMPONENT_TYPE) else None
    return InferenceInvocation(operation=semconv.OPERATION_CHAT, provider=provider, owns_client_calls=True)


def finish(inv: Invocation) -> None:
    """Before the span ends: what no tag nor client call told us."""
    fill(inv, provider=PROVIDER)


def on_input(inv: Invocation, value: Any, capture: bool) -> None:
    """A component's (or agent step's) inputs: messages or prompt, generation kwargs, the query."""
    if not isinstance(value, dict):
        return
    if isinstance(inv, AgentInvocation):
        if capture:
            inv.input_messages = _messages(value.get("messages"))
    elif isinstance(inv, InferenceInvocation):
        kwargs = value.get("generation_kwargs") or {}
        inv.temperature = kwargs.get("temperature")
        inv.max_tokens = kwargs.get("max_tokens") or kwargs.get("max_completion_tokens")
        inv.top_p = kwargs.get("top_p")
        inv.stream = True if value.get("streaming_callback") else None
        if capture:
            if value.get("messages") is not None:
                split_system(inv, list(value["messages"]), role_of, _text, chat_message)
            elif value.get("prompt") is not None:
                inv.input_messages = [message("user", text_parts(str(value["prompt"])))]
    elif isinstance(inv, RetrievalInvocation):
        inv.top_k = value.get("top_k")
        if capture and value.get("query") is not None:
            inv.query_text = str(value["query"])


def on_output(inv: Invocation, value: Any, capture: bool) -> None:
    """A span's outputs: replies and their meta (model, usage), embeddings, documents, agent messages."""
    if not isinstance(value, dict):
        return
    if isinstance(inv, AgentInvocation):
        if capture:
            last = value.get("last_message") or (value.get("messages") or [None])[-1]
            inv.output_messages = [chat_message(last)] if last is not None else None
    elif isinstance(inv, InferenceInvocation):
        _replies(inv, value, capture)
    elif isinstance(inv, EmbeddingsInvocation):
        meta = value.get("meta") or {}
        fill(inv, response_model=meta.get("model"), request_model=meta.get("model"))
        usage = meta.get("usage") or {}
        fill(inv, input_tokens=usage.get("prompt_tokens") or usage.get("input_tokens"))
        vector = value.get("embedding")
        if vector is None and value.get("documents"):
            vector = get(value["documents"][0], "embedding")
        fill(inv, dimension_count=len(vector) if vector else None)
    elif isinstance(inv, RetrievalInvocation) and capture:
        inv.documents = [_document(d) for d in value.get("documents") or ()]


def on_tool(inv: ToolInvocation, key: str, value: Any, capture: bool) -> None:
    if key == TOOL_ERROR and value:
        inv.error_type = "tool_error"
    elif capture and key == TOOL_INPUT:
        inv.arguments = value
    elif capture and key == TOOL_OUTPUT:
        inv.result = value


def _replies(inv: InferenceInvocation, value: dict[str, Any], capture: bool) -> None:
    replies = value.get("replies") or []
    metas = value.get("meta") or [get(r, "meta") or {} for r in replies]
    reasons = []
    for meta in metas:
        usage = meta.get("usage") or {}
        model = meta.get("model")
        fill(
            inv,
            response_model=model,
            request_model=model,
            input_tokens=usage.get("prompt_tokens") or usage.get("input_tokens"),
            output_tokens=usage.get("completion_tokens") or usage.get("output_tokens"),
        )
        if meta.get("finish_reason"):
            reasons.append(str(meta["finish_reason"]))
    fill(inv, finish_reasons=reasons or None)
    if capture:
        inv.output_messages = [
            chat_message(r, reasons[i] if i < len(reasons) else None)
            if not isinstance(r, str)
            else message("assistant", text_parts(r))
            for i, r in enumerate(replies)
        ]


def _document(doc: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": get(doc, "id")}
    score = get(doc, "score")
    if isinstance(score, (int, float)):
        entry["score"] = score
    return entry


def _text(msg: Any) -> Any:
    return getattr(msg, "text", None) if not isinstance(msg, dict) else msg.get("content")


def _messages(messages: Any) -> list[dict[str, Any]] | None:
    return [chat_message(m) for m in messages] if messages else None


def chat_message(msg: Any, finish_reason: str | None = None) -> dict[str, Any]:
    """A Haystack ``ChatMessage`` as GenAI message JSON (text, tool calls, tool results)."""
    role = role_of(msg)
    parts = text_parts(_text(msg))
    for call in getattr(msg, "tool_calls", None) or ():
        parts.append(tool_call(call.id, call.tool_name, call.arguments))
    for result in getattr(msg, "tool_call_results", None) or ():
        parts.append(tool_response(getattr(result.origin, "id", None), result.result))
    return message(role, parts, finish_reason)
