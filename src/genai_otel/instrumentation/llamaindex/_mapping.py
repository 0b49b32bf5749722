"""LlamaIndex dispatcher spans -> invocation records: which span is which GenAI operation, and the
details read from the instance, the bound arguments and the result."""

from __future__ import annotations

import inspect
from typing import Any

from genai_otel import semconv
from genai_otel.instrumentation._framework import fill
from genai_otel.instrumentation._messages import message, role_of, split_system, text_parts, tool_call
from genai_otel.instrumentation._util import get
from genai_otel.telemetry import (
    AgentInvocation,
    EmbeddingsInvocation,
    InferenceInvocation,
    Invocation,
    RetrievalInvocation,
    ToolInvocation,
)

#: ``gen_ai.provider.name`` of what LlamaIndex itself performs (agents, retrievers).
PROVIDER = "llama_index"

_CHAT = frozenset({"chat", "achat", "stream_chat", "astream_chat"})
_COMPLETION = frozenset({"complete", "acomplete", "stream_complete", "astream_complete"})
_EMBEDDING = frozenset(
    {
        "get_query_embedding",
        "aget_query_embedding",
        "get_text_embedding",
        "aget_text_embedding",
        "get_text_embedding_batch",
        "aget_text_embedding_batch",
        "get_agg_embedding_from_queries",
        "aget_agg_embedding_from_queries",
    }
)
_RETRIEVE = frozenset({"retrieve", "aretrieve"})
_TOOL_CALL = frozenset({"call", "acall", "__call__"})
_AGENT_CLASSES = frozenset({"BaseWorkflowAgent", "AgentWorkflow"})
# Workflow-agent steps that are bookkeeping, not work a user looks for in a trace.
_AGENT_PLUMBING_STEPS = frozenset({"init_run", "setup_agent", "parse_agent_output", "aggregate_tool_results"})

#: LLM / embedding class name -> ``gen_ai.provider.name``.
_PROVIDERS = {
    "Ollama": "ollama",
    "OllamaEmbedding": "ollama",
    "OpenAI": "openai",
    "OpenAIEmbedding": "openai",
    "OpenAILike": "openai",
    "OpenAIResponses": "openai",
    "AzureOpenAI": "azure.ai.openai",
    "AzureOpenAIEmbedding": "azure.ai.openai",
    "Anthropic": "anthropic",
    "Bedrock": "aws.bedrock",
    "BedrockConverse": "aws.bedrock",
    "BedrockEmbedding": "aws.bedrock",
    "GoogleGenAI": "gcp.gen_ai",
    "GoogleGenAIEmbedding": "gcp.gen_ai",
    "Gemini": "gcp.gemini",
    "Vertex": "gcp.vertex_ai",
    "MistralAI": "mistral_ai",
    "MistralAIEmbedding": "mistral_ai",
    "Groq": "groq",
    "Cohere": "cohere",
    "CohereEmbedding": "cohere",
    "HuggingFaceEmbedding": "huggingface",
}


def split_id(span_id: str) -> tuple[str, str]:
    """``"Ollama.chat-<uuid>"`` -> ``("Ollama", "chat")``; plain functions have no class."""
    name = span_id.rsplit("-", 5)[0]
    owner, _, method = name.rpartition(".")
    return owner.rpartition(".")[2], method


def is_plumbing(owner: str, method: str, instance: Any, classes: Any) -> bool:
    """Spans not shown: private helpers, text splitting, agent bookkeeping steps."""
    if method.startswith("_") and method != "__call__":
        return True
    if instance is None:
        return owner in _AGENT_CLASSES and method in _AGENT_PLUMBING_STEPS
    return isinstance(instance, classes.node_parser)


def record_for(
    owner: str, method: str, instance: Any, arguments: dict[str, Any], classes: Any, capture: bool
):
    """The invocation record for a span, or ``None`` for an internal span."""
    if instance is None:
        if owner in _AGENT_CLASSES and method == "call_tool":
            return _tool_step(arguments.get("ev"), capture)
        return None
    if isinstance(instance, classes.llm) and (method in _CHAT or method in _COMPLETION):
        return _model_call(method, instance, arguments, capture)
    if isinstance(instance, classes.embedding) and method in _EMBEDDING:
        return EmbeddingsInvocation(
            provider=provider_of(instance),
            request_model=getattr(instance, "model_name", None),
            owns_client_calls=True,
            guessed=_guessed(instance),
        )
    if isinstance(instance, classes.retriever) and method in _RETRIEVE:
        inv = RetrievalInvocation(provider=PROVIDER, data_source_id=_data_source(instance))
        inv.top_k = getattr(instance, "similarity_top_k", None) or getattr(
            instance, "_similarity_top_k", None
        )
        if capture:
            query = arguments.get("str_or_query_bundle")
            inv.query_text = getattr(query, "query_str", query)
        return inv
    if isinstance(instance, classes.tool) and method in _TOOL_CALL:
        return _tool(instance, arguments, capture)
    if isinstance(instance, classes.agent) and method == "run":
        return AgentInvocation(
            provider=PROVIDER,
            agent_name=getattr(instance, "name", None) or type(instance).__name__,
            agent_description=getattr(instance, "description", None) or None,
        )
    return None


def provider_of(instance: Any) -> str:
    for cls in type(instance).__mro__:
        if cls.__name__ in _PROVIDERS:
            return _PROVIDERS[cls.__name__]
    return type(instance).__name__.lower()


def _guessed(instance: Any, *fields: str) -> frozenset[str]:
    """What the client call merged into this record knows better: the operation (a custom LLM's
    ``complete`` may make a chat call) and, for a class we do not know, the provider."""
    known = any(cls.__name__ in _PROVIDERS for cls in type(instance).__mro__)
    return frozenset(fields if known else (*fields, "provider"))


def _data_source(retriever: Any) -> str:
    # A vector index retriever names its store (ChromaVectorStore, ...); others their own class.
    index = getattr(retriever, "_index", None)
    store = getattr(index, "vector_store", None) if index is not None else None
    return type(store).__name__ if store is not None else type(retriever).__name__


def _model_call(method: str, llm: Any, arguments: dict[str, Any], capture: bool) -> InferenceInvocation:
    chat = method in _CHAT
    inv = InferenceInvocation(
        operation=semconv.OPERATION_CHAT if chat else semconv.OPERATION_TEXT_COMPLETION,
        provider=provider_of(llm),
        request_model=getattr(llm, "model", None) or getattr(llm, "model_name", None),
        owns_client_calls=True,
        guessed=_guessed(llm, "operation"),
    )
    temperature = getattr(llm, "temperature", None)
    inv.temperature = float(temperature) if isinstance(temperature, (int, float)) else None
    max_tokens = getattr(llm, "max_tokens", None)
    inv.max_tokens = max_tokens if isinstance(max_tokens, int) else None
    inv.stream = method.startswith(("stream", "astream")) or None
    if capture:
        if chat:
            split_system(inv, list(arguments.get("messages") or ()), role_of, _content, chat_message)
        else:
            inv.input_messages = [message("user", text_parts(arguments.get("prompt")))]
    return inv


def _tool(tool: Any, arguments: dict[str, Any], capture: bool) -> ToolInvocation:
    metadata = getattr(tool, "metadata", None)
    inv = ToolInvocation(
        tool_name=getattr(metadata, "name", None) or type(tool).__name__,
        tool_description=getattr(metadata, "description", None) or None,
        tool_type="function",
    )
    if capture:
        inv.arguments = arguments.get("kwargs") or {k: v for k, v in arguments.items() if k != "args"}
    return inv


def _tool_step(event: Any, capture: bool) -> ToolInvocation:
    """A workflow agent's ``call_tool`` step: the one place that knows the model's tool-call id."""
    inv = ToolInvocation(
        tool_name=getattr(event, "tool_name", None),
        tool_call_id=getattr(event, "tool_id", None),
        tool_type="function",
    )
    if capture:
        inv.arguments = getattr(event, "tool_kwargs", None)
    return inv


def folded_details(parent: Invocation, instance: Any) -> dict[str, Any]:
    """What a nested call of the same kind (a tool's ``acall`` under the agent's ``call_tool`` step) adds
    to the record it folds into: request fields for ``TelemetryHandler.update_request``."""
    description = getattr(getattr(instance, "metadata", None), "description", None)
    if isinstance(parent, ToolInvocation) and description and parent.tool_description is None:
        return {"tool_description": description}
    return {}


def is_stream(result: Any) -> bool:
    return inspect.isgenerator(result) or inspect.isasyncgen(result)


def on_result(inv: Invocation, result: Any, capture: bool) -> None:
    """What the span's return value tells: model response, embeddings, documents, tool output."""
    if isinstance(inv, AgentInvocation):
        if capture:
            text = str(get(result, "response", result) or "")
            inv.output_messages = [message("assistant", text_parts(text))] if text else None
    elif isinstance(inv, InferenceInvocation):
        model_response(inv, result, capture)
    elif isinstance(inv, EmbeddingsInvocation):
        vector = result[0] if result and isinstance(result[0], list) else result
        fill(inv, dimension_count=len(vector) if isinstance(vector, list) and vector else None)
    elif isinstance(inv, RetrievalInvocation):
        if capture:
            inv.documents = [_document(n) for n in result or ()]
    elif isinstance(inv, ToolInvocation):
        output = get(result, "tool_output", result)
        if get(output, "is_error"):
            inv.error_type = "tool_error"
        if capture:
            inv.result = get(output, "content", output)


def _document(node: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": getattr(node, "node_id", None)}
    if isinstance(getattr(node, "score", None), (int, float)):
        entry["score"] = node.score
    return entry


def model_response(inv: InferenceInvocation, response: Any, capture: bool) -> None:
    """A ``ChatResponse`` / ``CompletionResponse``: usage and ids from the provider's raw response."""
    if response is None:
        return
    raw = get(response, "raw")
    usage = get(raw, "usage")
    fill(
        inv,
        response_id=_str(get(raw, "id")),
        response_model=_str(get(raw, "model")),
        input_tokens=get(usage, "prompt_tokens")
        or get(usage, "input_tokens")
        or get(raw, "prompt_eval_count"),
        output_tokens=get(usage, "completion_tokens")
        or get(usage, "output_tokens")
        or get(raw, "eval_count"),
    )
    reason = get(raw, "done_reason") or get(raw, "stop_reason") or _openai_finish_reason(raw)
    fill(inv, finish_reasons=[str(reason)] if reason else None)
    if capture:
        msg = get(response, "message")
        if msg is not None:
            inv.output_messages = [chat_message(msg, reason)]
        else:
            inv.output_messages = [message("assistant", text_parts(get(response, "text")), reason)]


def _openai_finish_reason(raw: Any) -> Any:
    choices = get(raw, "choices")
    return get(choices[0], "finish_reason") if choices else None


def _str(value: Any) -> str | None:
    return str(value) if value else None


def _content(msg: Any) -> Any:
    content = getattr(msg, "content", None)
    return content if content is not None else get(msg, "content")


def chat_message(msg: Any, finish_reason: Any = None) -> dict[str, Any]:
    """A LlamaIndex ``ChatMessage`` as GenAI message JSON (text and tool calls)."""
    parts = text_parts(_content(msg))
    kwargs = get(msg, "additional_kwargs") or {}
    for call in kwargs.get("tool_calls") or ():
        function = get(call, "function") or call
        parts.append(tool_call(get(call, "id"), get(function, "name"), get(function, "arguments")))
    return message(role_of(msg), parts, str(finish_reason) if finish_reason else None)
