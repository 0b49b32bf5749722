"""Amazon Bedrock Runtime through boto3/botocore: ``converse``, ``converse_stream``, ``invoke_model``
and ``invoke_model_with_response_stream`` (Anthropic, Amazon Nova and Titan, Meta Llama bodies;
embedding models), tool use, cache read/write tokens.

botocore generates its client methods at run time, so genai-otel wraps the one place every call
goes through (``BaseClient._make_api_call``) and only acts on ``bedrock-runtime`` operations. If the
contrib botocore instrumentation's Bedrock extension is also enabled it emits its own GenAI spans:
disable one of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from genai_otel.instrumentation._base import CallSpec, GenAIInstrumentor, Patch, begin_invocation
from genai_otel.instrumentation._util import get
from genai_otel.instrumentation.bedrock._mapping import OPERATIONS, build
from genai_otel.safety import report_internal_error, safely
from genai_otel.telemetry import TelemetryHandler
from genai_otel.telemetry.streams import InstrumentedStream

_SPEC = CallSpec("bedrock", build, lambda inv, result: None)
_STREAM_KEYS = {"ConverseStream": "stream", "InvokeModelWithResponseStream": "body"}


def _make_api_call(handler: TelemetryHandler) -> Any:
    def wrapper(wrapped: Any, client: Any, args: tuple, kwargs: dict) -> Any:
        inv = begin_invocation(handler, _SPEC, client, args, kwargs)
        if inv is None:
            return wrapped(*args, **kwargs)
        try:
            response = wrapped(*args, **kwargs)
        except BaseException as error:
            code = get(get(getattr(error, "response", None), "Error"), "Code")
            inv.error_type = code or None
            safely("bedrock", handler.fail, inv, error)
            raise
        on_result, accumulator = OPERATIONS[args[0]]
        try:
            if accumulator is not None:
                handler.deactivate(inv)
                key = _STREAM_KEYS[args[0]]
                response[key] = InstrumentedStream(response[key], handler, inv, accumulator(inv))
                return response
            on_result(inv, response)
        except Exception:
            report_internal_error("bedrock")
        safely("bedrock", handler.stop, inv)
        return response

    return wrapper


class BedrockInstrumentor(GenAIInstrumentor):
    """Instruments Bedrock Runtime calls made through boto3 / botocore."""

    dependencies = ("botocore >= 1.34",)

    def patches(self) -> Iterable[Patch]:
        yield Patch("botocore.client", "BaseClient._make_api_call", _make_api_call)
