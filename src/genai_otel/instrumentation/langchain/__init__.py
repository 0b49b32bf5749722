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
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable
from typing import Any
from uuid import UUID, uuid4

from wrapt import wrap_function_wrapper

from genai_otel.instrumentation._base import GenAIInstrumentor, Patch
from genai_otel.telemetry.safety import report_internal_error

# Graph run ids noted before their run starts; bounded in case a run never starts.
_MAX_PENDING_GRAPH_RUNS = 10_000


class LangChainInstrumentor(GenAIInstrumentor):
    """Instruments ``langchain_core`` (and LangGraph's ``Pregel`` when installed)."""

    dependencies = ("langchain-core >= 0.3",)

    def patches(self) -> Iterable[Patch]:
        return ()

    def _on_instrument(self) -> None:
        from genai_otel.instrumentation.langchain._callbacks import GenAICallbackHandler

        self._graph_runs: set[UUID] = set()
        self.callback_handler = GenAICallbackHandler(self.handler, self._graph_runs)
        self._wrapped: list[tuple[Any, str]] = []
        self._wrap("langchain_core.callbacks", "BaseCallbackManager", "__init__", self._add_handler)
        module = _pregel_module()
        for method in ("stream", "astream") if module else ():
            self._wrap(module, "Pregel", method, self._mark_graph_run)

    def _wrap(self, module: str, cls: str, method: str, wrapper: Any) -> None:
        try:
            wrap_function_wrapper(module, f"{cls}.{method}", wrapper)
        except (ImportError, AttributeError):
            return
        self._wrapped.append((getattr(importlib.import_module(module), cls), method))

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

    def _mark_graph_run(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        """A graph run is an agent: note the run id it will report (assigning one if the caller did not)."""
        try:
            args, kwargs = _with_run_id(args, kwargs, self._graph_runs)
        except Exception:  # never keep the graph from running
            report_internal_error("langgraph.stream")
        return wrapped(*args, **kwargs)


def _pregel_module() -> str | None:
    """Where LangGraph's ``Pregel`` is: ``langgraph.pregel.main`` since 0.3, ``langgraph.pregel`` before."""
    try:
        return (
            "langgraph.pregel.main"
            if importlib.util.find_spec("langgraph.pregel.main")
            else "langgraph.pregel"
        )
    except ImportError:  # no langgraph
        return None


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
