"""The callback handler every LangChain ``CallbackManager`` gets: runs become spans.

Chat models and LLMs -> ``chat`` / ``text_completion`` (owning the client SDK call made inside, so
one model call is one span), retrievers -> ``retrieval``, tools -> ``execute_tool``, LangGraph graphs
and agent executors -> ``invoke_agent``, other runnables (graph nodes included) -> internal spans
named after the runnable. Runs LangChain hides (``langsmith:hidden``) are folded into their parent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler

from genai_otel import semconv
from genai_otel.instrumentation._framework import RunTracker
from genai_otel.instrumentation._messages import message, text_parts
from genai_otel.instrumentation.langchain import _mapping as m
from genai_otel.safety import report_internal_error
from genai_otel.telemetry import (
    AgentInvocation,
    InferenceInvocation,
    RetrievalInvocation,
    TelemetryHandler,
    ToolInvocation,
)
from genai_otel.telemetry.agent_runs import AgentLoopError

_HIDDEN_TAG = "langsmith:hidden"
# gen_ai.provider.name of spans LangChain itself performs (agents, retrievers), not a model provider.
_PROVIDER = "langchain"
_AGENT_EXECUTORS = frozenset({"AgentExecutor"})


def _guarded(method: Callable[..., Any]) -> Callable[..., Any]:
    """Our errors are logged, never raised into the run -- except the loop guard's, on purpose."""

    def wrapper(self: GenAICallbackHandler, *args: Any, **kwargs: Any) -> Any:
        if self.closed:  # uninstrumented; managers made before may still hold the handler
            return None
        try:
            return method(self, *args, **kwargs)
        except AgentLoopError:
            raise
        except Exception:
            report_internal_error(f"langchain.{method.__name__}")
            return None

    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper


class GenAICallbackHandler(BaseCallbackHandler):
    """Turns LangChain/LangGraph runs into GenAI spans. Installed by :class:`LangChainInstrumentor`."""

    # Called in the run's own task (not an executor thread) so the span context it makes current is
    # seen by the model/tool code that follows; errors reach the run only for the loop guard.
    run_inline = True
    raise_error = True

    def __init__(self, handler: TelemetryHandler, graph_runs: set[UUID]) -> None:
        super().__init__()
        self._handler = handler
        self._runs = RunTracker(handler, explicit_parents=True)
        self._graph_runs = graph_runs
        self.closed = False

    @property
    def open_runs(self) -> int:
        return len(self._runs)

    def close(self) -> None:
        self.closed = True
        self._runs.end_all()

    def release(self, run_id: UUID) -> None:
        """Called in the frame that ends the run, before LangChain delivers its end callback (maybe in
        another task): the run stops being current there."""
        if not self.closed:
            self._runs.release(run_id)

    # -- helpers ------------------------------------------------------------------------------

    def _start(
        self, run_id: UUID, parent_run_id: UUID | None, inv: Any = None, name: str | None = None
    ) -> None:
        run = self._runs.start(run_id, parent_run_id, inv, name=name)
        if run.loop_error is not None:
            self._runs.end(run_id, run.loop_error)
            raise run.loop_error

    def _record(self, run_id: UUID) -> Any:
        run = self._runs.get(run_id)
        return run.inv if run is not None else None

    @property
    def _capture(self) -> bool:
        return self._handler.capture_content

    # -- models ---------------------------------------------------------------------------------

    def _model_start(
        self, operation: str, run_id: UUID, parent_run_id: UUID | None, kwargs: dict[str, Any]
    ) -> InferenceInvocation:
        metadata = kwargs.get("metadata") or {}
        params = kwargs.get("invocation_params") or {}
        provider = metadata.get("ls_provider") or params.get("_type") or _PROVIDER
        inv = InferenceInvocation(
            operation=operation,
            provider=m.PROVIDERS.get(provider, provider),
            request_model=metadata.get("ls_model_name") or params.get("model") or params.get("model_name"),
            owns_client_calls=True,
        )
        m.chat_request(inv, metadata, params, self._capture)
        return inv

    @_guarded
    def on_chat_model_start(
        self,
        serialized: Any,
        messages: list[list[Any]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        inv = self._model_start(semconv.OPERATION_CHAT, run_id, parent_run_id, kwargs)
        if self._capture and messages:
            m.input_messages(inv, messages[0])
        self._start(run_id, parent_run_id, inv)

    @_guarded
    def on_llm_start(
        self,
        serialized: Any,
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        inv = self._model_start(semconv.OPERATION_TEXT_COMPLETION, run_id, parent_run_id, kwargs)
        if self._capture:
            inv.input_messages = [message("user", text_parts(p)) for p in prompts]
        self._start(run_id, parent_run_id, inv)

    @_guarded
    def on_llm_new_token(self, token: str, *, run_id: UUID, **kwargs: Any) -> None:
        inv = self._record(run_id)
        if isinstance(inv, InferenceInvocation):
            now = time.perf_counter_ns()
            inv.first_chunk_ns = inv.first_chunk_ns or now
            inv.last_chunk_ns = now
            inv.chunk_count += 1
            inv.stream = True

    @_guarded
    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        inv = self._record(run_id)
        if isinstance(inv, InferenceInvocation) and inv.owner is None:
            m.llm_result(inv, response, self._capture)
        self._runs.end(run_id)

    @_guarded
    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._runs.end(run_id, _unless_control_flow(error))

    # -- chains, graphs, agents -----------------------------------------------------------------

    @_guarded
    def on_chain_start(
        self,
        serialized: Any,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        if tags and _HIDDEN_TAG in tags:
            self._runs.alias(run_id, parent_run_id)
            return
        name = kwargs.get("name") or _serialized_name(serialized) or "chain"
        if run_id in self._graph_runs or name in _AGENT_EXECUTORS:
            self._graph_runs.discard(run_id)
            inv = AgentInvocation(provider=_PROVIDER, agent_name=name)
            if self._capture:
                inv.input_messages = _chain_messages(inputs)
            self._start(run_id, parent_run_id, inv)
            return
        self._start(run_id, parent_run_id, name=name)

    @_guarded
    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        inv = self._record(run_id)
        if isinstance(inv, AgentInvocation) and self._capture:
            inv.output_messages = _chain_messages(outputs, last_only=True)
        self._runs.end(run_id)

    @_guarded
    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._runs.end(run_id, _unless_control_flow(error))

    # -- tools ----------------------------------------------------------------------------------

    @_guarded
    def on_tool_start(
        self,
        serialized: Any,
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        serialized = serialized or {}
        inv = ToolInvocation(
            tool_name=kwargs.get("name") or serialized.get("name"),
            tool_description=serialized.get("description") or None,
            tool_call_id=kwargs.get("tool_call_id"),
            tool_type="function",
        )
        if self._capture:
            inputs = kwargs.get("inputs")
            inv.arguments = inputs if inputs is not None else input_str
        self._start(run_id, parent_run_id, inv)

    @_guarded
    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        inv = self._record(run_id)
        if isinstance(inv, ToolInvocation) and self._capture:
            inv.result = getattr(output, "content", output)
        self._runs.end(run_id)

    @_guarded
    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._runs.end(run_id, _unless_control_flow(error))

    # -- retrievers -----------------------------------------------------------------------------

    @_guarded
    def on_retriever_start(
        self, serialized: Any, query: str, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        inv = RetrievalInvocation(provider=_PROVIDER)
        m.retrieval_request(inv, kwargs.get("metadata") or {})
        inv.data_source_id = inv.data_source_id or kwargs.get("name") or _serialized_name(serialized)
        if self._capture:
            inv.query_text = query
        self._start(run_id, parent_run_id, inv)

    @_guarded
    def on_retriever_end(self, documents: Any, *, run_id: UUID, **kwargs: Any) -> None:
        inv = self._record(run_id)
        if isinstance(inv, RetrievalInvocation) and self._capture:
            inv.documents = m.documents_json(documents)
        self._runs.end(run_id)

    @_guarded
    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._runs.end(run_id, _unless_control_flow(error))


def _serialized_name(serialized: Any) -> str | None:
    if not isinstance(serialized, dict):
        return None
    return serialized.get("name") or (serialized.get("id") or [None])[-1]


def _unless_control_flow(error: BaseException) -> BaseException | None:
    # LangGraph interrupts (human-in-the-loop) and Command-based hand-offs end a run by raising; they
    # are not failures. Neither is a consumer that stops reading a stream early (``break``, ``close()``):
    # LangChain reports that as the GeneratorExit that closed the stream.
    if isinstance(error, GeneratorExit):
        return None
    return None if type(error).__name__ in ("GraphInterrupt", "ParentCommand", "GraphBubbleUp") else error


def _chain_messages(value: Any, last_only: bool = False) -> list[dict[str, Any]] | None:
    """Messages of a graph/agent's input or output state (``{"messages": [...]}``)."""
    messages = value.get("messages") if isinstance(value, dict) else None
    if not isinstance(messages, list) or not messages:
        return None
    if last_only:
        messages = messages[-1:]
    out = []
    for msg in messages:
        if isinstance(msg, tuple) and len(msg) == 2:  # ("user", "text") shorthand
            out.append(message(m.ROLES.get(msg[0], msg[0]), text_parts(msg[1])))
        elif hasattr(msg, "content"):
            out.append(m.message_json(msg))
    return out or None
