"""LangChain runs -> invocation records: messages, model parameters, usage, documents."""

from __future__ import annotations

from typing import Any

from genai_otel.instrumentation._framework import fill
from genai_otel.instrumentation._messages import (
    message,
    openai_tool_definition,
    split_system,
    text_parts,
    tool_call,
    tool_response,
)
from genai_otel.instrumentation._util import get, number
from genai_otel.telemetry import InferenceInvocation, RetrievalInvocation

#: LangChain's ``ls_provider`` -> ``gen_ai.provider.name`` (well-known values); others are kept as given.
PROVIDERS = {
    "openai": "openai",
    "azure": "azure.ai.openai",
    "anthropic": "anthropic",
    "ollama": "ollama",
    "groq": "groq",
    "mistral": "mistral_ai",
    "mistralai": "mistral_ai",
    "cohere": "cohere",
    "bedrock": "aws.bedrock",
    "amazon_bedrock": "aws.bedrock",
    "bedrock_converse": "aws.bedrock",
    "google_genai": "gcp.gemini",
    "google_vertexai": "gcp.vertex_ai",
    "deepseek": "deepseek",
    "xai": "x_ai",
    "perplexity": "perplexity",
    "ibm": "ibm.watsonx.ai",
}
ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool", "function": "tool"}


def message_json(msg: Any, finish_reason: str | None = None) -> dict[str, Any]:
    """A LangChain message (``HumanMessage``, ``AIMessage``, ``ToolMessage``...) as GenAI message JSON."""
    kind = getattr(msg, "type", None)
    role = ROLES.get(kind) or getattr(msg, "role", None) or kind or "user"
    if role == "tool":
        return message("tool", [tool_response(getattr(msg, "tool_call_id", None), msg.content)])
    parts = text_parts(getattr(msg, "content", None))
    parts += [
        tool_call(c.get("id"), c.get("name"), c.get("args")) for c in getattr(msg, "tool_calls", None) or ()
    ]
    return message(role, parts, finish_reason)


def input_messages(inv: InferenceInvocation, messages: list[Any]) -> None:
    """System messages become ``gen_ai.system_instructions``; the rest the input messages."""
    split_system(inv, messages, lambda m: getattr(m, "type", None), lambda m: m.content, message_json)


def chat_request(
    inv: InferenceInvocation, metadata: dict[str, Any], params: dict[str, Any], capture: bool
) -> None:
    """Request details from the run's ``ls_*`` metadata and the model's invocation params."""
    inv.temperature = number(metadata.get("ls_temperature", params.get("temperature")))
    inv.max_tokens = (
        metadata.get("ls_max_tokens") or params.get("max_tokens") or params.get("max_completion_tokens")
    )
    stop = metadata.get("ls_stop") or params.get("stop")
    inv.stop_sequences = [stop] if isinstance(stop, str) else (list(stop) if stop else None)
    inv.top_p = number(params.get("top_p"))
    inv.top_k = params.get("top_k")
    inv.seed = params.get("seed")
    inv.frequency_penalty = number(params.get("frequency_penalty"))
    inv.presence_penalty = number(params.get("presence_penalty"))
    inv.choice_count = params.get("n")
    if params.get("stream") or params.get("streaming"):
        inv.stream = True
    if capture and params.get("tools"):
        inv.tool_definitions = [openai_tool_definition(t) for t in params["tools"]]


def _finish_reason(generation: Any) -> str | None:
    info = getattr(generation, "generation_info", None) or {}
    meta = getattr(getattr(generation, "message", None), "response_metadata", None) or {}
    for source in (info, meta):
        for key in ("finish_reason", "stop_reason", "done_reason"):
            if source.get(key):
                return str(source[key])
    return None


def llm_result(inv: InferenceInvocation, response: Any, capture: bool) -> None:
    """Usage, response model/id, finish reasons and (content) output from an ``LLMResult``."""
    generations = [g for batch in getattr(response, "generations", None) or () for g in batch]
    llm_output = getattr(response, "llm_output", None) or {}
    reasons = [r for r in map(_finish_reason, generations) if r]
    fill(inv, finish_reasons=reasons or None)
    for generation in generations:
        msg = getattr(generation, "message", None)
        if msg is None:
            continue
        usage = getattr(msg, "usage_metadata", None)
        if usage:
            _usage(inv, usage)
        meta = getattr(msg, "response_metadata", None) or {}
        fill(inv, response_model=meta.get("model_name") or meta.get("model"))
        response_id = meta.get("id") or getattr(msg, "id", None)
        if response_id and not str(response_id).startswith("lc_"):  # lc_run-... is LangChain's own id
            fill(inv, response_id=str(response_id))
    token_usage = llm_output.get("token_usage") or llm_output.get("usage") or {}
    fill(
        inv,
        input_tokens=get(token_usage, "prompt_tokens") or get(token_usage, "input_tokens"),
        output_tokens=get(token_usage, "completion_tokens") or get(token_usage, "output_tokens"),
        response_model=llm_output.get("model_name") or llm_output.get("model"),
    )
    if capture:
        inv.output_messages = [
            message_json(g.message, _finish_reason(g))
            if getattr(g, "message", None) is not None
            else message("assistant", text_parts(getattr(g, "text", "")), _finish_reason(g))
            for g in generations
        ]


def _usage(inv: InferenceInvocation, usage: dict[str, Any]) -> None:
    details_in = usage.get("input_token_details") or {}
    details_out = usage.get("output_token_details") or {}
    fill(
        inv,
        input_tokens=usage.get("input_tokens"),
        output_tokens=usage.get("output_tokens"),
        cache_read_input_tokens=details_in.get("cache_read") or None,
        cache_write_input_tokens=details_in.get("cache_creation") or None,
        reasoning_output_tokens=details_out.get("reasoning") or None,
    )


def retrieval_request(inv: RetrievalInvocation, metadata: dict[str, Any]) -> None:
    # VectorStoreRetriever reports its store (Chroma, Qdrant, ...) as ls_vector_store_provider.
    inv.data_source_id = metadata.get("ls_vector_store_provider") or metadata.get("ls_retriever_name")


def documents_json(documents: Any) -> list[dict[str, Any]]:
    """Returned documents' ids and scores (``gen_ai.retrieval.documents``)."""
    out = []
    for doc in documents or ():
        meta = getattr(doc, "metadata", None) or {}
        entry: dict[str, Any] = {"id": getattr(doc, "id", None) or meta.get("id")}
        score = meta.get("score", meta.get("relevance_score"))
        if isinstance(score, (int, float)):
            entry["score"] = score
        out.append(entry)
    return out
