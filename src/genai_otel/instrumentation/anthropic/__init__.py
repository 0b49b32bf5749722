"""Anthropic instrumentation: ``messages.create`` (sync/async, ``stream=True``), ``messages.stream()``
and ``messages.parse``; tool use; cache read/write tokens. Bedrock and Vertex clients report their
own ``gen_ai.provider.name``.

Recent anthropic SDKs emit their own ``anthropic.messages.create`` span whenever a TracerProvider
is set. While genai-otel instruments a call, the SDK's span for that call is suppressed, so the
user sees exactly one span per model call; the SDK's spans for other API calls are untouched.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import wrapt

from genai_otel.instrumentation._base import (
    SDK_SPAN_SUPPRESSED,
    CallSpec,
    GenAIInstrumentor,
    Patch,
    async_wrapper,
    begin_invocation,
    sdk_span_suppressed,
    sync_wrapper,
)
from genai_otel.safety import safely
from genai_otel.telemetry import TelemetryHandler
from genai_otel.telemetry.streams import InstrumentedAsyncStream, InstrumentedStream

_MESSAGES = "anthropic.resources.messages"


def _specs() -> tuple[CallSpec, CallSpec]:
    from genai_otel.instrumentation.anthropic import _mapping as m

    create = CallSpec(
        "anthropic.messages",
        m.build_messages,
        m.message_result,
        m.MessageStreamAccumulator,
        around=sdk_span_suppressed,
    )
    return create, dataclasses.replace(create, name="anthropic.messages.stream", build=m.build_stream)


class _StreamManagerProxy(wrapt.ObjectProxy):
    """Wraps the manager returned by ``messages.stream()``: the request is sent on ``__enter__``."""

    def __init__(
        self, wrapped: Any, handler: TelemetryHandler, spec: CallSpec, inv: Any, is_async: bool
    ) -> None:
        super().__init__(wrapped)
        self._self_handler = handler
        self._self_spec = spec
        self._self_inv = inv
        self._self_proxy = InstrumentedAsyncStream if is_async else InstrumentedStream

    def _instrument_stream(self, message_stream: Any) -> Any:
        # Every way of consuming a MessageStream (iteration, text_stream, get_final_message,
        # until_done, close) goes through its raw SDK stream: wrap that one.
        raw = message_stream._raw_stream
        inv = self._self_inv
        message_stream._raw_stream = self._self_proxy(
            raw, self._self_handler, inv, self._self_spec.accumulator(inv)
        )
        return message_stream

    def __enter__(self) -> Any:
        handler, inv = self._self_handler, self._self_inv
        try:
            with handler.activated(inv), self._self_spec.around():
                message_stream = self.__wrapped__.__enter__()
        except BaseException as error:
            safely(self._self_spec.name, handler.fail, inv, error)
            raise
        return safely(self._self_spec.name, self._instrument_stream, message_stream, default=message_stream)

    async def __aenter__(self) -> Any:
        handler, inv = self._self_handler, self._self_inv
        try:
            with handler.activated(inv), self._self_spec.around():
                message_stream = await self.__wrapped__.__aenter__()
        except BaseException as error:
            safely(self._self_spec.name, handler.fail, inv, error)
            raise
        return safely(self._self_spec.name, self._instrument_stream, message_stream, default=message_stream)

    def __exit__(self, *exc: Any) -> Any:
        return self.__wrapped__.__exit__(*exc)

    async def __aexit__(self, *exc: Any) -> Any:
        return await self.__wrapped__.__aexit__(*exc)


def _stream_wrapper(handler: TelemetryHandler, spec: CallSpec, is_async: bool):
    def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        manager = wrapped(*args, **kwargs)
        inv = begin_invocation(handler, spec, instance, args, kwargs, activate=False)
        if inv is None:
            return manager
        return _StreamManagerProxy(manager, handler, spec, inv, is_async)

    return wrapper


def _sdk_tracer(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    return None if SDK_SPAN_SUPPRESSED.get() else wrapped(*args, **kwargs)


class AnthropicInstrumentor(GenAIInstrumentor):
    """Instruments the ``anthropic`` Python SDK."""

    dependencies = ("anthropic >= 0.40",)

    def patches(self) -> Iterable[Patch]:
        create, stream = _specs()
        yield Patch(_MESSAGES, "Messages.create", lambda h: sync_wrapper(h, create))
        yield Patch(_MESSAGES, "AsyncMessages.create", lambda h: async_wrapper(h, create))
        yield Patch(_MESSAGES, "Messages.parse", lambda h: sync_wrapper(h, create))
        yield Patch(_MESSAGES, "AsyncMessages.parse", lambda h: async_wrapper(h, create))
        yield Patch(_MESSAGES, "Messages.stream", lambda h: _stream_wrapper(h, stream, is_async=False))
        yield Patch(_MESSAGES, "AsyncMessages.stream", lambda h: _stream_wrapper(h, stream, is_async=True))

    def _on_instrument(self) -> None:
        # The SDK reads its tracer through the private ``BaseClient._tracer`` property (SDKs with
        # built-in OpenTelemetry only); answer None while we own the call.
        try:
            from anthropic import _base_client
        except ImportError:
            return
        prop = getattr(_base_client.BaseClient, "_tracer", None)
        if isinstance(prop, property) and prop.fget is not None:
            self._original_tracer_property = prop
            _base_client.BaseClient._tracer = property(wrapt.FunctionWrapper(prop.fget, _sdk_tracer))

    def _on_uninstrument(self) -> None:
        original = getattr(self, "_original_tracer_property", None)
        if original is not None:
            from anthropic import _base_client

            _base_client.BaseClient._tracer = original
            self._original_tracer_property = None
