"""Agent evaluators: are tool calls valid against the tools declared to the model, does an agent run repeat
the same action, and did the run hand off to the agents a dataset expects."""

from __future__ import annotations

import json
from collections import Counter

from genai_otel import semconv
from genai_otel.evaluation import evidence
from genai_otel.evaluation.api import EvaluationResult, Expectation, SpanView, TraceView
from genai_otel.evaluation.schema import violations

_HANDOFF_PREFIX = "transfer_to_"


def _check_call(name: str | None, arguments: object, schemas: dict[str, object]) -> list[str]:
    """What is wrong with one tool call against the declared schemas (empty: valid)."""
    if name not in schemas:
        return [f"{name!r} was not declared to the model"]
    decoded, value = evidence.decoded_arguments(arguments)
    if not decoded:
        return [f"{name}: arguments are not JSON"]
    return [f"{name}: {problem}" for problem in violations(value, schemas[name])]


def _requesting_call(span: SpanView, trace: TraceView) -> SpanView | None:
    """The model call that asked for tool execution ``span``: the one whose output holds its call id,
    else the latest model call before it that declared a tool of its name."""
    call_id = span.attributes.get(semconv.GEN_AI_TOOL_CALL_ID)
    name = span.attributes.get(semconv.GEN_AI_TOOL_NAME)
    chats = trace.before(span, trace.with_operation(*evidence.ANSWER_OPERATIONS))
    if call_id is not None:
        for chat in chats:
            if any(call.id == str(call_id) for call in evidence.tool_calls(chat)):
                return chat
    declaring = [chat for chat in chats if name in evidence.tool_schemas(chat)]
    return max(declaring, key=lambda chat: chat.end_ns, default=None)


class ToolCallValidity:
    """Do tool calls name a declared tool, and do their arguments parse as JSON and match the tool's
    declared parameters schema (``type``, ``required``, ``properties``, ``enum``, ``items``)?

    Judges a model call's own tool calls (``chat`` span: ``gen_ai.output.messages`` tool_call parts against
    its ``gen_ai.tool.definitions``) and a tool execution (``execute_tool`` span:
    ``gen_ai.tool.call.arguments`` against the definitions of the model call that requested it, found by
    ``gen_ai.tool.call.id`` or tool name). Needs content capture (arguments and definitions are content).
    ``score`` 1.0 / ``label`` ``valid``, or 0.0 / ``invalid`` with the violations as explanation."""

    name = "tool_call_validity"

    def applies_to(self, span: SpanView) -> bool:
        if span.operation == semconv.OPERATION_EXECUTE_TOOL:
            return semconv.GEN_AI_TOOL_CALL_ARGUMENTS in span.attributes
        return (
            span.operation in evidence.ANSWER_OPERATIONS
            and semconv.GEN_AI_TOOL_DEFINITIONS in span.attributes
        )

    def evaluate(
        self, span: SpanView, trace: TraceView, expectation: Expectation | None = None
    ) -> EvaluationResult | None:
        if span.operation == semconv.OPERATION_EXECUTE_TOOL:
            requester = _requesting_call(span, trace)
            schemas = evidence.tool_schemas(requester) if requester else {}
            calls = [
                evidence.ToolCall(
                    None,
                    span.attributes.get(semconv.GEN_AI_TOOL_NAME),
                    span.attributes.get(semconv.GEN_AI_TOOL_CALL_ARGUMENTS),
                )
            ]
        else:
            schemas, calls = evidence.tool_schemas(span), evidence.tool_calls(span)
        if not schemas or not calls:
            return None
        problems = [problem for call in calls for problem in _check_call(call.name, call.arguments, schemas)]
        if problems:
            return EvaluationResult(self.name, 0.0, "invalid", "; ".join(problems)[:1000])
        return EvaluationResult(self.name, 1.0, "valid", f"{len(calls)} tool calls match their schemas")


def own_steps(span: SpanView, trace: TraceView) -> list[SpanView]:
    """The descendants of an agent span that belong to its own run: not those under a nested agent run."""
    steps = []
    for step in trace.descendants(span):
        owner = next(
            (a for a in trace.ancestors(step) if a.operation in evidence.AGENT_OPERATIONS),
            None,
        )
        if owner is not None and owner.span_id == span.span_id:
            steps.append(step)
    return steps


class RepeatedActions:
    """Does an agent run repeat itself: the same tool with the same arguments ``threshold`` times or more?

    Needs: an agent span (``invoke_agent``, ``handle_conversation_turn``, ``invoke_workflow``) and its
    ``execute_tool`` spans (those of nested agent runs count for those runs). With content capture the
    arguments tell calls apart; without it, calls of one tool count as the same action (as the processor's
    loop flag does). ``score`` 1.0 / ``label`` ``ok``, or 0.0 / ``loop``."""

    name = "repeated_actions"

    def __init__(self, threshold: int = 3) -> None:
        self.threshold = threshold

    def applies_to(self, span: SpanView) -> bool:
        return span.operation in evidence.AGENT_OPERATIONS

    def evaluate(
        self, span: SpanView, trace: TraceView, expectation: Expectation | None = None
    ) -> EvaluationResult | None:
        tools = trace.with_operation(semconv.OPERATION_EXECUTE_TOOL, spans=own_steps(span, trace))
        if not tools:
            return None
        actions = Counter(
            (
                str(t.attributes.get(semconv.GEN_AI_TOOL_NAME)),
                _canonical(t.attributes.get(semconv.GEN_AI_TOOL_CALL_ARGUMENTS)),
            )
            for t in tools
        )
        (tool, _arguments), count = actions.most_common(1)[0]
        if count >= self.threshold:
            return EvaluationResult(
                self.name, 0.0, "loop", f"{tool} called {count} times with the same arguments"
            )
        return EvaluationResult(self.name, 1.0, "ok", f"{len(tools)} tool calls, at most {count} alike")


def _canonical(arguments: object) -> str:
    """Arguments compared by value: ``{"a":1,"b":2}`` and ``{"b": 2, "a": 1}`` are one action."""
    decoded, value = evidence.decoded_arguments(arguments)
    if not decoded:
        return str(arguments)[: evidence.MAX_TEXT]
    try:
        return json.dumps(value, sort_keys=True, default=str)[: evidence.MAX_TEXT]
    except (ValueError, RecursionError):
        return str(arguments)[: evidence.MAX_TEXT]


def agent_path(span: SpanView, trace: TraceView) -> list[str]:
    """The agents a run went through, in order: itself, nested agent runs and ``transfer_to_*`` hand-offs."""
    path = (
        [str(span.attributes[semconv.GEN_AI_AGENT_NAME])]
        if semconv.GEN_AI_AGENT_NAME in span.attributes
        else []
    )
    for step in trace.descendants(span):
        name = step.attributes.get(semconv.GEN_AI_AGENT_NAME)
        tool = step.attributes.get(semconv.GEN_AI_TOOL_NAME)
        if step.operation == semconv.OPERATION_INVOKE_AGENT and isinstance(name, str):
            target = name
        elif step.operation == semconv.OPERATION_EXECUTE_TOOL and str(tool).startswith(_HANDOFF_PREFIX):
            target = str(tool)[len(_HANDOFF_PREFIX) :]
        else:
            continue
        if not path or path[-1] != target:
            path.append(target)
    return path


class HandoffCorrectness:
    """Did the run go through the agents the dataset expects, in that order?

    Needs: an agent span whose run hands off (nested ``invoke_agent`` spans, ``transfer_to_*`` tool
    calls), and ``Expectation.expected_agents``. No content needed (agent and tool names are not content).
    ``score``: the share of expected agents met in order; ``label`` ``correct`` (all of them) or
    ``incorrect``. Judges the outermost agent span only (a nested run is part of its parent's path)."""

    name = "handoff_correctness"

    def applies_to(self, span: SpanView) -> bool:
        return span.operation in evidence.AGENT_OPERATIONS

    def evaluate(
        self, span: SpanView, trace: TraceView, expectation: Expectation | None = None
    ) -> EvaluationResult | None:
        expected = expectation.expected_agents if expectation else ()
        if not expected or any(a.operation in evidence.AGENT_OPERATIONS for a in trace.ancestors(span)):
            return None
        path = agent_path(span, trace)
        if not path:
            return None
        met, position = 0, 0
        for agent in expected:  # in order: an expected agent counts when it comes after the previous one
            try:
                position = path.index(agent, position) + 1
                met += 1
            except ValueError:
                break
        score = met / len(expected)
        label = "correct" if met == len(expected) else "incorrect"
        return EvaluationResult(
            self.name, score, label, f"path {' -> '.join(path)[:500]}, expected {' -> '.join(expected)[:500]}"
        )
