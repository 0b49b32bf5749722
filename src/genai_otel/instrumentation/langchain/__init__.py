"""LangChain and LangGraph: a callback handler added to every ``CallbackManager``, so every run --
``invoke``, ``ainvoke``, ``batch``, ``stream``, ``astream``, ``astream_events``, parallel branches --
becomes a span parented by its ``parent_run_id``:

* chat models / LLMs -> ``chat`` / ``text_completion`` (provider and model from LangChain's ``ls_*``
  metadata); the client SDK call made inside (openai, anthropic, ollama, ... when instrumented too)
  merges its exact usage, response id and model into that span instead of opening a second one;
* retrievers -> ``retrieval`` (query and returned document ids/scores under content capture);
* tools -> ``execute_tool`` with ``gen_ai.tool.*``;
* LangGraph graphs (``create_agent`` agents included) and ``AgentExecutor`` -> ``invoke_agent``;
  graph nodes and other runnables -> internal spans named after the runnable.

LangChain embeddings report no runs; their client SDK's instrumentation records them.

Context: a run's span is made current when the run starts (so the client call, the vector store query
or the user's own spans inside it nest under it), and the caller gets its own context back exactly as
it was when the call returns, raises, is cancelled, or a stream is closed early. LangChain ends async
runs in other tasks than the caller's (its end callbacks are shielded tasks; a stream abandoned with
``break`` is closed by the event loop's finaliser), where the attach cannot be undone, so:

* the async run managers' end/error methods are wrapped: the run stops being current in the frame that
  calls them, before LangChain hands the callback to another task;
* the generators that start runs (``stream``/``astream`` of models, graphs, branches, fallbacks and the
  transform helper every other runnable streams through) are driven by :func:`drive_sync` /
  :func:`drive_async`, so a run started in one step stays current for the stream's own later steps
  and never for the consumer between them.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterable
from typing import Any
from uuid import UUID, uuid4

from wrapt import wrap_function_wrapper

from genai_otel.instrumentation._base import GenAIInstrumentor, Patch
from genai_otel.safety import report_internal_error
from genai_otel.telemetry.scoped import drive_async, drive_sync

# Graph run ids noted before their run starts; bounded in case a run never starts.
_MAX_PENDING_GRAPH_RUNS = 10_000

_MANAGER = "langchain_core.callbacks.manager"
# Async run managers: (class, its end/error methods). Their end callbacks may run in another task.
_RUN_ENDS = (
    ("AsyncCallbackManagerForChainRun", ("on_chain_end", "on_chain_error")),
    ("AsyncCallbackManagerForLLMRun", ("on_llm_end", "on_llm_error")),
    ("AsyncCallbackManagerForToolRun", ("on_tool_end", "on_tool_error")),
    ("AsyncCallbackManagerForRetrieverRun", ("on_retriever_end", "on_retriever_error")),
)
# Generators that start a run in their own frame (other runnables' streams delegate to these).
_STREAMS = (
    ("langchain_core.runnables.base", "Runnable", ("_transform_stream_with_config",)),
    ("langchain_core.runnables.base", "Runnable", ("_atransform_stream_with_config",)),
    ("langchain_core.language_models.chat_models", "BaseChatModel", ("stream", "astream")),
    ("langchain_core.language_models.llms", "BaseLLM", ("stream", "astream")),
    ("langchain_core.runnables.branch", "RunnableBranch", ("stream", "astream")),
    ("langchain_core.runnables.fallbacks", "RunnableWithFallbacks", ("stream", "astream")),
)
# LangGraph's: patched by post-import hooks on their own modules, not from the set-up, which runs when
# langchain_core is imported -- LangGraph imports langchain_core midway through its own import, when
# these modules are only partly initialised. Pregel is in ``langgraph.pregel.main`` since 0.3 (re-exported
# by ``langgraph.pregel``, where it was before; the base class wraps a re-exported class once).
_GRAPH_STREAMS = (("langgraph._internal._runnable", "RunnableSeq"),)  # LangGraph node sequences
_PREGEL_MODULES = ("langgraph.pregel.main", "langgraph.pregel")


class LangChainInstrumentor(GenAIInstrumentor):
    """Instruments ``langchain_core`` (and LangGraph's ``Pregel`` when installed)."""

    dependencies = ("langchain-core >= 0.3",)

    def patches(self) -> Iterable[Patch]:
        for method in ("stream", "astream"):
            for module, cls in _GRAPH_STREAMS:
                yield Patch(module, f"{cls}.{method}", lambda h: self._scoped_stream, _defines_generator)
            for module in _PREGEL_MODULES:
                yield Patch(module, f"Pregel.{method}", lambda h: self._graph_stream, _defines_generator)

    def _on_instrument(self) -> None:
        from genai_otel.instrumentation.langchain._callbacks import GenAICallbackHandler

        self._graph_runs: set[UUID] = set()
        self.callback_handler = GenAICallbackHandler(self.handler, self._graph_runs)
        self._wrapped: list[tuple[Any, str]] = []
        self._wrap("langchain_core.callbacks", "BaseCallbackManager", "__init__", self._add_handler)
        for cls, methods in _RUN_ENDS:
            for method in methods:
                self._wrap(_MANAGER, cls, method, self._release_run)
        for module, cls, methods in _STREAMS:
            for method in methods:
                self._wrap(module, cls, method, self._scoped_stream, generator=True)

    def _wrap(self, module: str, cls: str, method: str, wrapper: Any, generator: bool = False) -> None:
        try:
            owner = getattr(importlib.import_module(module), cls)
            if generator and not _defines_generator(owner, method):
                return  # another shape in this version: drive only what is a generator
            wrap_function_wrapper(owner, method, wrapper)
        except (ImportError, AttributeError, KeyError):
            return
        self._wrapped.append((owner, method))

    def _on_uninstrument(self) -> None:
        from opentelemetry.instrumentation.utils import unwrap

        for owner, method in reversed(self._wrapped):
            unwrap(owner, method)
        self._wrapped = []
        self.callback_handler.close()

    def _add_handler(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> None:
        wrapped(*args, **kwargs)
        # Hot: LangChain makes dozens of managers per chain run (children, copies), so no helper calls.
        handler = self.callback_handler
        try:
            if handler not in instance.inheritable_handlers:  # identity first: cheap for the usual hit
                instance.add_handler(handler, inherit=True)
        except Exception:
            report_internal_error("langchain.callback_manager")

    def _release_run(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        """The run ends: it stops being current in the frame that ends it, before LangChain may hand the
        callback to a shielded task, where undoing the attach made at start is impossible."""
        try:
            self.callback_handler.release(instance.run_id)
        except Exception:
            report_internal_error("langchain.release")
        return wrapped(*args, **kwargs)

    @staticmethod
    def _scoped_stream(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        """The stream keeps the context its runs make current to itself (see the module doc)."""
        stream = wrapped(*args, **kwargs)
        if inspect.isasyncgen(stream):
            return drive_async(stream)
        return drive_sync(stream) if inspect.isgenerator(stream) else stream

    def _graph_stream(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        """A graph run is an agent: note the run id it will report (assigning one if the caller did not)."""
        try:
            args, kwargs = _with_run_id(args, kwargs, self._graph_runs)
        except Exception:  # never keep the graph from running
            report_internal_error("langgraph.stream")
        return self._scoped_stream(wrapped, instance, args, kwargs)


def _defines_generator(owner: Any, method: str) -> bool:
    """``owner`` itself defines ``method`` as a (async) generator function: the shape the drivers expect."""
    own = vars(owner).get(method)
    return inspect.isgeneratorfunction(own) or inspect.isasyncgenfunction(own)


def _with_run_id(args: tuple, kwargs: dict, graph_runs: set[UUID]) -> tuple[tuple, dict]:
    in_args = len(args) > 1
    config = dict((args[1] if in_args else kwargs.get("config")) or {})
    run_id = config.get("run_id")
    if run_id is None:
        run_id = config["run_id"] = uuid4()
    if len(graph_runs) >= _MAX_PENDING_GRAPH_RUNS:
        graph_runs.clear()
    graph_runs.add(run_id)
    if in_args:
        return (args[0], config, *args[2:]), kwargs
    return args, {**kwargs, "config": config}
