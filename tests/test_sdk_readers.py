"""The readers the hot path uses on SDK objects (instrumentation/_util.py) and the checked record constructor:
each gives what the plain, slower way gives, for every shape an SDK hands us."""

from __future__ import annotations

import pytest
from openai.types.chat import ChatCompletion

from genai_otel.instrumentation._util import fields_reader, get
from genai_otel.telemetry.invocation import InferenceInvocation, check_fields

RESPONSE = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Hi"}}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
}
NAMES = ("id", "model", "usage", "service_tier")


class AttributeDict(dict):
    """A dict subclass (as some SDKs return): read by key, as ``get`` reads it."""


class Slotted:
    __slots__ = ("id", "model")

    def __init__(self) -> None:
        self.id = "r-1"
        self.model = "m"


@pytest.mark.parametrize(
    "response",
    [
        ChatCompletion.model_validate(RESPONSE),  # a pydantic model: fields by attribute
        ChatCompletion.model_construct(**RESPONSE),  # built without validation, as SDKs parse responses
        RESPONSE,  # a plain dict (litellm and others hand these over)
        AttributeDict(RESPONSE),
        {"id": "only-an-id"},  # keys missing: None for them
        Slotted(),  # an object lacking some of the fields
        None,
    ],
    ids=["model", "constructed", "dict", "dict-subclass", "partial-dict", "partial-object", "none"],
)
def test_fields_reader_reads_what_get_reads(response: object) -> None:
    read = fields_reader(*NAMES)
    assert read(response) == tuple(get(response, name) for name in NAMES)
    assert read(response) == read(response)  # the type cache changes nothing the second time


def test_fields_reader_reads_real_values_and_none_for_a_field_a_model_lacks() -> None:
    completion = ChatCompletion.model_validate(RESPONSE)
    # ``x_groq`` is no ChatCompletion field: pydantic's __getattr__ fails; the other fields still come back.
    values = fields_reader("id", "x_groq", "model")(completion)
    assert values == ("chatcmpl-1", None, "gpt-4o-mini-2024-07-18")


def test_fields_reader_wants_two_names() -> None:
    with pytest.raises(ValueError):
        fields_reader("id")


def test_checked_records_hold_their_fields_and_fresh_extra_attribute_dicts() -> None:
    first = InferenceInvocation.from_checked({"operation": "chat", "request_model": "m", "temperature": 0.5})
    second = InferenceInvocation.from_checked({"operation": "chat"})
    assert (first.operation, first.request_model, first.temperature) == ("chat", "m", 0.5)
    assert first.top_p is None and first.chunk_count == 0  # fields not given keep their defaults
    first.attributes["a"] = 1
    assert second.attributes == {} and second.response_attributes == {}
    assert first == first and first != second  # records compare by identity, as the dataclass says


def test_check_fields_names_a_misspelt_field() -> None:
    check_fields(InferenceInvocation, ["request_model", "temperature"])
    with pytest.raises(TypeError, match="temprature"):
        check_fields(InferenceInvocation, ["request_model", "temprature"])
