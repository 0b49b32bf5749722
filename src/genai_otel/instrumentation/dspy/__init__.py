"""DSPy: a callback (``dspy.utils.callback.BaseCallback``) kept in DSPy's global callbacks turns each
call DSPy reports into a span, parented by DSPy's own parent call id:

* ``dspy.ReAct`` (and its subclasses) -> ``invoke_agent ReAct``; other modules -> internal spans named
  after the module's class; ``Predict`` is folded into its caller (it is the plumbing of one model call);
* LM calls (``dspy.LM.__call__`` / ``acall``) -> ``chat {model}``, owning the client call made beneath
  (litellm, openai) so one model call is one span; DSPy's native engine reports its usage and response
  model through ``dspy.clients.execution.finalize``, read here when present;
* tools (``dspy.Tool``) -> ``execute_tool {name}``; ``dspy.Evaluate`` -> an internal ``evaluate`` span
  whose children are the program runs, one per example.

``dspy.configure(callbacks=...)`` and ``dspy.context(callbacks=...)`` replace DSPy's callback list: they
(and ``dspy.settings``'s methods) are wrapped so ours stays in it. ``uninstrument()`` removes it and
restores them. A ``dspy.context`` block entered before ``instrument()`` keeps the list it copied.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from wrapt import wrap_function_wrapper

from genai_otel.instrumentation._base import GenAIInstrumentor, Patch
from genai_otel.safety import report_internal_error

_SETTINGS = "dspy.dsp.utils.settings"


class DSPyInstrumentor(GenAIInstrumentor):
    """Instruments ``dspy`` through its callback API."""

    dependencies = ("dspy >= 3.0",)

    def patches(self) -> Iterable[Patch]:
        yield Patch("dspy.clients.execution", "finalize", lambda handler: self._finalize)
        # DSPy logs what a callback raises: the loop guard's error (action "raise") is raised from the
        # first step inside the call instead, where it reaches the program.
        yield Patch("dspy.clients.execution", "prepare", lambda handler: self._guarded_step)
        yield Patch(
            "dspy.adapters.types.tool", "Tool._validate_and_parse_args", lambda handler: self._guarded_step
        )

    def _on_instrument(self) -> None:
        from genai_otel.instrumentation.dspy._callback import GenAICallback

        self.callback = GenAICallback(self.handler)
        settings = importlib.import_module(_SETTINGS)
        settings.main_thread_config["callbacks"] = _with(
            self.callback, settings.main_thread_config["callbacks"]
        )
        self._wrapped: list[tuple[Any, str]] = []
        # ``dspy.configure`` / ``dspy.context`` are the settings' methods bound at DSPy's import.
        for owner in (settings.Settings, importlib.import_module("dspy")):
            for method in ("configure", "context"):
                wrap_function_wrapper(owner, method, self._keep_callback)
                self._wrapped.append((owner, method))

    def _on_uninstrument(self) -> None:
        from opentelemetry.instrumentation.utils import unwrap

        for owner, method in reversed(self._wrapped):
            unwrap(owner, method)
        self._wrapped = []
        settings = importlib.import_module(_SETTINGS)
        callbacks = settings.main_thread_config.get("callbacks") or []
        settings.main_thread_config["callbacks"] = [c for c in callbacks if c is not self.callback]
        self.callback.close()

    def _keep_callback(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        """A new callback list from the app keeps ours (first, so our span is open around the others')."""
        if "callbacks" in kwargs:
            try:
                kwargs = {**kwargs, "callbacks": _with(self.callback, kwargs["callbacks"])}
            except Exception:
                report_internal_error("dspy.settings")
        return wrapped(*args, **kwargs)

    def _guarded_step(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        callback = getattr(self, "callback", None)
        if callback is not None:
            callback.raise_loop_error()
        return wrapped(*args, **kwargs)

    def _finalize(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        """DSPy's native engine reports usage here, inside the LM call (its call id is the active one)."""
        output = wrapped(*args, **kwargs)
        callback = getattr(self, "callback", None)
        if callback is not None and len(args) >= 3:
            callback.lm_result(args[2])
        return output


def _with(callback: Any, callbacks: Any) -> list[Any]:
    others = [c for c in callbacks or () if c is not callback]
    return [callback, *others]
