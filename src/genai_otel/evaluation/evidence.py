"""What evaluators read from spans: the question, the answer, the retrieved documents, the context a prompt
carried, tool calls and tool definitions -- decoded from the content attributes, tolerant of any shape.

Everything here returns empty results (``None``, ``[]``) when content was not captured or a value does not
have the expected shape: the evaluators then return no result instead of a wrong one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from genai_otel import semconv
from genai_otel.evaluation.api import SpanView, TraceView

#: Operations whose output is a model's answer.
ANSWER_OPERATIONS = (
    semconv.OPERATION_CHAT,
    semconv.OPERATION_TEXT_COMPLETION,
    semconv.OPERATION_GENERATE_CONTENT,
)
#: Operations that run agents.
AGENT_OPERATIONS = (
    semconv.OPERATION_INVOKE_AGENT,
    semconv.OPERATION_HANDLE_CONVERSATION_TURN,
    semconv.OPERATION_INVOKE_WORKFLOW,
)
#: Text an evaluator looks at, per value: the lexical ones are linear, but a megabyte answer is an attack.
MAX_TEXT = 100_000


@dataclass(frozen=True)
class Document:
    """A retrieved document: its id, and its text when the retrieval recorded it."""

    id: str | None
    text: str | None


@dataclass(frozen=True)
class ToolCall:
    """A tool call a model asked for (an output ``tool_call`` part): ``arguments`` as recorded (a JSON
    string, or already a structure)."""

    id: str | None
    name: str | None
    arguments: Any


def _decoded(span: SpanView, attribute: str) -> Any:
    """``span.json_attribute``, and ``None`` for JSON nested deeper than the parser can recurse."""
    try:
        return span.json_attribute(attribute)
    except RecursionError:
        return None


def _parts(messages: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    for message in messages if isinstance(messages, list) else ():
        if not isinstance(message, dict):
            continue
        role = message.get("role") if isinstance(message.get("role"), str) else ""
        for part in message.get("parts") if isinstance(message.get("parts"), list) else ():
            if isinstance(part, dict):
                yield role, part


def _bounded(text: str) -> str:
    return text[:MAX_TEXT]


def _part_text(part: dict[str, Any]) -> str | None:
    content = part.get("content")
    return _bounded(content) if part.get("type", "text") == "text" and isinstance(content, str) else None


def texts(span: SpanView, attribute: str, roles: tuple[str, ...] | None = None) -> list[str]:
    """The text parts of a messages attribute, of the given roles (all when ``None``)."""
    return [
        text
        for role, part in _parts(_decoded(span, attribute))
        if (roles is None or role in roles) and (text := _part_text(part))
    ]


def question(span: SpanView) -> str | None:
    """The last user message of a model call or agent run."""
    asked = texts(span, semconv.GEN_AI_INPUT_MESSAGES, roles=("user",))
    return asked[-1] if asked else None


def answer(span: SpanView) -> str | None:
    """The text a model call or agent run answered with."""
    said = texts(span, semconv.GEN_AI_OUTPUT_MESSAGES, roles=("assistant", ""))
    return "\n".join(said) or None


def system_texts(span: SpanView) -> list[str]:
    value = _decoded(span, semconv.GEN_AI_SYSTEM_INSTRUCTIONS)
    return (
        [text for part in value if isinstance(part, dict) and (text := _part_text(part))]
        if isinstance(value, list)
        else []
    )


def documents(span: SpanView) -> list[Document]:
    """The documents a retrieval (or vector store query) span recorded (content capture on)."""
    value = _decoded(span, semconv.GEN_AI_RETRIEVAL_DOCUMENTS)
    found = []
    for item in value if isinstance(value, list) else ():
        if isinstance(item, dict):
            text = item.get("content", item.get("text"))
            found.append(
                Document(
                    str(item["id"]) if item.get("id") is not None else None,
                    _bounded(text) if isinstance(text, str) else None,
                )
            )
    return found


def retrievals_before(span: SpanView, trace: TraceView) -> list[SpanView]:
    """The retrieval spans of the trace that ended before ``span`` started: what it could have used."""
    return trace.before(span, trace.with_operation(semconv.OPERATION_RETRIEVAL))


def retrieval_query(retrieval: SpanView) -> str | None:
    query = retrieval.attributes.get(semconv.GEN_AI_RETRIEVAL_QUERY_TEXT)
    return _bounded(query) if isinstance(query, str) else None


def context(span: SpanView, trace: TraceView) -> list[str]:
    """What an answer may be grounded in: the text of the documents retrieved before it, else -- when the
    retrievals recorded ids only, as most do -- the prompt it was given (system instructions and input
    messages: the app put the documents there). Empty without content capture or without retrieval."""
    retrievals = retrievals_before(span, trace)
    if not retrievals:
        return []
    texts_found = [d.text for r in retrievals for d in documents(r) if d.text]
    return texts_found or system_texts(span) + texts(span, semconv.GEN_AI_INPUT_MESSAGES)


def tool_calls(span: SpanView) -> list[ToolCall]:
    """The tool calls in a model call's output."""
    return [
        ToolCall(
            str(part["id"]) if part.get("id") is not None else None,
            part.get("name") if isinstance(part.get("name"), str) else None,
            part.get("arguments"),
        )
        for role, part in _parts(_decoded(span, semconv.GEN_AI_OUTPUT_MESSAGES))
        if part.get("type") == "tool_call" and role in ("assistant", "")
    ]


def tool_schemas(span: SpanView) -> dict[str, Any]:
    """The parameters JSON schema of each tool declared in ``gen_ai.tool.definitions``, by name (the
    conventions' flat shape, the OpenAI ``{"function": {...}}`` and Anthropic ``input_schema`` shapes)."""
    value = _decoded(span, semconv.GEN_AI_TOOL_DEFINITIONS)
    schemas: dict[str, Any] = {}
    for item in value if isinstance(value, list) else ():
        if not isinstance(item, dict):
            continue
        spec = item.get("function") if isinstance(item.get("function"), dict) else item
        name = spec.get("name")
        if isinstance(name, str):
            schemas[name] = spec.get("parameters", spec.get("input_schema", {}))
    return schemas


def decoded_arguments(arguments: Any) -> tuple[bool, Any]:
    """Tool call arguments as a value, and whether they decoded: a JSON string is parsed, a structure
    is taken as it is, an empty string or ``None`` is no arguments (``{}``)."""
    if arguments is None or arguments == "":
        return True, {}
    if not isinstance(arguments, str):
        return True, arguments
    try:
        return True, json.loads(arguments)
    except (ValueError, RecursionError):
        return False, None


# -- lexical -------------------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[^a-z])|\n+")
#: Words a full stop follows inside a sentence ("Dr. Okafor"): no sentence ends there.
_ABBREVIATIONS = frozenset(
    {"dr.", "mr.", "mrs.", "ms.", "st.", "prof.", "e.g.", "i.e.", "etc.", "vs.", "no."}
)
#: Words that carry no claim: they never make a sentence "supported" or a document "relevant".
_STOPWORDS_TEXT = """
a an the and or but if of to in on at by for with from as is are was were be been being it its this
that these those there here what which who whom whose when where why how do does did done have has
had not no yes can could should would will shall may might must i you he she we they me him her us
them my your his our their than then so such very also just only about into over under up down out
any some all each both more most other own same too again further once answer question context
please
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


_SUFFIXES = ("ations", "ation", "ingly", "able", "ible", "ing", "ed", "es", "ly", "s", "e")


def stem(word: str) -> str:
    """A crude stem: one common suffix off when three letters stay ("refunded", "refundable" -> "refund";
    "completed", "complete" -> "complet"). Enough for overlap; no language model."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)]
    return word


def words(text: str) -> list[str]:
    """Content words of ``text``: lower-cased, stopwords out, stemmed (:func:`stem`)."""
    return [
        stem(word)
        for word in _WORD.findall(text.lower())
        if word not in STOPWORDS and (len(word) > 1 or word.isdigit())
    ]


def sentences(text: str) -> list[str]:
    """``text`` split after ``.``, ``!``, ``?`` (not after an abbreviation, nor before a lower-case word)
    and at line breaks."""
    found: list[str] = []
    for piece in _SENTENCE_END.split(text):
        piece = piece.strip()
        if found and found[-1].rsplit(None, 1)[-1].lower() in _ABBREVIATIONS:
            found[-1] += " " + piece
        elif piece:
            found.append(piece)
    return found


def coverage(part: list[str], whole: set[str]) -> float:
    """The share of ``part``'s words found in ``whole`` (1.0 for no words: nothing unsupported)."""
    return sum(w in whole for w in part) / len(part) if part else 1.0
