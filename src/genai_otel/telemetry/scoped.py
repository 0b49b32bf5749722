"""Run generators with an OpenTelemetry context current only while they run.

A span made current across a ``yield`` leaks into the consumer and fails to detach when the
generator is closed from another task ("Token was created in a different Context"). These drivers
attach the generator's context for each step (and for its close) and restore the consumer's before
handing an item out, so the consumer never sees the generator's context, whichever task closes it.

The generator's context is either fixed (``context``: a span the driver's caller opened) or, with
``context=None``, carried: each step runs in the context the previous step left behind (the
consumer's at the first step), as if the generator had a context of its own -- a framework stream
that starts a run in one step and ends it in a later one keeps its run current for itself only.
``finish(error)`` is called exactly once when the generator ends, fails or is closed early.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Generator
from typing import Any

from opentelemetry import context as otel_context

Finish = Callable[[BaseException | None], None]
Observe = Callable[[Any], None]


def _noop(_item: Any) -> None:
    return None


def drive_sync(
    gen: Any,
    context: otel_context.Context | None = None,
    finish: Finish = _noop,
    observe: Observe = _noop,
) -> Generator:
    """Drive the generator ``gen`` in ``context`` (``None``: its own carried context); see the module doc."""
    inner = context
    method, arg = gen.send, None
    while True:
        token = otel_context.attach(inner if inner is not None else otel_context.get_current())
        try:
            item = method(arg)
        except StopIteration as stop:
            finish(None)
            return stop.value
        except BaseException as error:
            finish(error)
            raise
        finally:
            if context is None:
                inner = otel_context.get_current()
            otel_context.detach(token)
        observe(item)
        try:
            arg = yield item
            method = gen.send
        except GeneratorExit:
            # The consumer stopped early: the generator's cleanup (ending its runs) runs in its context.
            token = otel_context.attach(inner if inner is not None else otel_context.get_current())
            try:
                gen.close()
            except BaseException as error:  # its cleanup failed (e.g. it yielded again): still finish once
                finish(error)
                raise
            finally:
                otel_context.detach(token)
            finish(None)
            raise
        except BaseException as error:
            method, arg = gen.throw, error


async def drive_async(
    agen: Any,
    context: otel_context.Context | None = None,
    finish: Finish = _noop,
    observe: Observe = _noop,
) -> AsyncIterator[Any]:
    """Drive the async generator ``agen`` like :func:`drive_sync`. Closed early (``break`` then garbage
    collection, or ``aclose()``), it closes ``agen`` from whichever task closes it, in ``agen``'s context."""
    inner = context
    method, arg = agen.asend, None
    while True:
        token = otel_context.attach(inner if inner is not None else otel_context.get_current())
        try:
            item = await method(arg)
        except StopAsyncIteration:
            finish(None)
            return
        except BaseException as error:
            finish(error)
            raise
        finally:
            if context is None:
                inner = otel_context.get_current()
            otel_context.detach(token)
        observe(item)
        try:
            arg = yield item
            method = agen.asend
        except GeneratorExit:
            token = otel_context.attach(inner if inner is not None else otel_context.get_current())
            try:
                await agen.aclose()
            except BaseException as error:
                finish(error)
                raise
            finally:
                otel_context.detach(token)
            finish(None)
            raise
        except BaseException as error:
            method, arg = agen.athrow, error
