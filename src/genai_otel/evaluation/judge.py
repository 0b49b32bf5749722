"""LLM-as-a-judge through any OpenAI-compatible chat endpoint.

    client = JudgeClient("http://judge:8000/v1", "gpt-4o-mini", requests_per_minute=60, token_budget=200_000)
    evaluators = [FaithfulnessJudge(client), AnswerRelevanceJudge(client), TaskCompletionJudge(client)]

Rubric prompts are package data (``evaluation/rubrics/*.yaml``). The judge is asked for structured output
(``response_format`` json_schema ``{score, label, explanation}``); a reply that does not parse into that
shape is reported as the label ``unparsed`` with no score, never guessed at. 429 and 5xx answers are
retried with exponential backoff (honouring ``Retry-After``). A per-minute request limit and a token
budget bound what judging costs: once the budget is spent, or when no request slot frees up in time,
judging stops and the skipped evaluations are counted (``JudgeClient.skipped``).

The judge's HTTP calls go through ``urllib`` with OpenTelemetry instrumentation suppressed, so they never
appear in the trace being evaluated (nor get evaluated themselves).
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, set_value

from genai_otel import semconv
from genai_otel.evaluation import evidence
from genai_otel.evaluation.api import EvaluationResult, Expectation, SpanView, TraceView
from genai_otel.evaluation.evidence import AGENT_OPERATIONS, ANSWER_OPERATIONS

UNPARSED = "unparsed"
_RETRIED_STATUS = {408, 409, 429, 500, 502, 503, 504, 529}
_MAX_FIELD_CHARS = 8000  # per prompt section: a judge prompt stays bounded whatever the span holds


class JudgeError(RuntimeError):
    """The judge endpoint failed for good (after retries) or answered with something that is not a chat
    completion."""


# -- rubrics ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rubric:
    """A judge prompt: ``prompt`` is a template over named sections (``{question}``, ``{context}``, ...);
    ``labels`` are the verdicts the judge may give."""

    name: str
    labels: tuple[str, ...]
    instructions: str
    prompt: str

    def render(self, **sections: str) -> str:
        return self.prompt.format_map(_Sections(sections))

    def response_format(self) -> dict[str, Any]:
        schema = {
            "type": "object",
            "properties": {
                "score": {"type": "number", "minimum": 0, "maximum": 1},
                "label": {"type": "string", "enum": list(self.labels)},
                "explanation": {"type": "string"},
            },
            "required": ["score", "label", "explanation"],
            "additionalProperties": False,
        }
        return {"type": "json_schema", "json_schema": {"name": self.name, "strict": True, "schema": schema}}


class _Sections(dict):
    def __missing__(self, key: str) -> str:
        return "(none)"


@cache
def load_rubric(name: str) -> Rubric:
    """A rubric shipped in ``genai_otel/evaluation/rubrics/<name>.yaml``."""
    text = resources.files("genai_otel.evaluation").joinpath("rubrics", f"{name}.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    return Rubric(data["name"], tuple(data["labels"]), data["instructions"].strip(), data["prompt"])


def parse_verdict(name: str, reply: str, labels: Iterable[str]) -> EvaluationResult:
    """The judge's reply as a result, or label ``unparsed`` (no score) when it is not a JSON object with a
    score in [0, 1] and one of ``labels`` -- a guess from free text would be noise dressed as a score."""
    text = reply.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", text, re.DOTALL)  # models without structured output
    try:
        verdict = json.loads(fenced.group(1) if fenced else text)
    except ValueError:
        verdict = None
    if isinstance(verdict, dict):
        score, label, explanation = verdict.get("score"), verdict.get("label"), verdict.get("explanation")
        valid_score = isinstance(score, (int, float)) and not isinstance(score, bool) and 0 <= score <= 1
        if valid_score and label in set(labels) and isinstance(explanation, (str, type(None))):
            return EvaluationResult(name, float(score), label, explanation)
    return EvaluationResult(name, None, UNPARSED, f"judge reply did not parse: {reply[:200]!r}")


# -- the client -----------------------------------------------------------------------------------------


class RateLimiter:
    """At most ``per_minute`` acquisitions in any 60 s window; ``acquire`` waits up to ``max_wait`` s."""

    def __init__(
        self,
        per_minute: int,
        max_wait: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.per_minute, self.max_wait, self.clock, self.sleep = per_minute, max_wait, clock, sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        deadline = self.clock() + self.max_wait
        while True:
            with self._lock:
                now = self.clock()
                while self._sent and now - self._sent[0] >= 60.0:
                    self._sent.popleft()
                if len(self._sent) < self.per_minute:
                    self._sent.append(now)
                    return True
                wait = 60.0 - (now - self._sent[0])
            if now + wait > deadline:
                return False
            self.sleep(wait)


class JudgeClient:
    """Asks an OpenAI-compatible ``/chat/completions`` endpoint for verdicts (thread-safe).

    ``requests_per_minute`` (None: unlimited) with ``max_wait`` seconds to wait for a free slot;
    ``token_budget`` (None: unlimited) total tokens, counted from the endpoint's ``usage``; retries
    ``max_retries`` times on 429/5xx/connection errors, waiting ``backoff * 2**attempt`` s (or
    ``Retry-After``, capped at ``max_backoff``). ``structured_output=False`` for endpoints that reject
    ``response_format`` json_schema (the rubric still asks for JSON; the parser accepts a fenced block).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        requests_per_minute: int | None = None,
        max_wait: float = 60.0,
        token_budget: int | None = None,
        structured_output: bool = True,
        max_tokens: int = 300,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.api_key, self.timeout = model, api_key, timeout
        self.max_retries, self.backoff, self.max_backoff = max_retries, backoff, max_backoff
        self.limiter = RateLimiter(requests_per_minute, max_wait) if requests_per_minute else None
        self.token_budget, self.structured_output, self.max_tokens = (
            token_budget,
            structured_output,
            max_tokens,
        )
        self.tokens_used = 0
        self.requests = 0
        self.retries = 0
        #: Evaluations not judged, by reason (``token_budget``, ``rate_limit``).
        self.skipped: Counter[str] = Counter()
        self._lock = threading.Lock()

    def judge(self, evaluation_name: str, rubric: Rubric, **sections: str) -> EvaluationResult | None:
        """The verdict on ``sections`` under ``rubric``; None when skipped (budget or rate limit)."""
        if self.token_budget is not None and self.tokens_used >= self.token_budget:
            return self._skip("token_budget")
        if self.limiter is not None and not self.limiter.acquire():
            return self._skip("rate_limit")
        body: dict[str, Any] = {
            "model": self.model,
            "temperature": 0,
            "max_tokens": self.max_tokens,
            "messages": [
                {"role": "system", "content": rubric.instructions},
                {"role": "user", "content": rubric.render(**sections)},
            ],
        }
        if self.structured_output:
            body["response_format"] = rubric.response_format()
        reply = self._complete(body)
        return parse_verdict(evaluation_name, reply, rubric.labels)

    def stats(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "tokens": self.tokens_used,
            "skipped": dict(self.skipped),
        }

    def _skip(self, reason: str) -> None:
        with self._lock:
            self.skipped[reason] += 1

    def _complete(self, body: dict[str, Any]) -> str:
        data = json.dumps(body).encode()
        headers = {"content-type": "application/json"}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        attempt = 0
        while True:
            try:
                payload = self._post(data, headers)
            except urllib.error.HTTPError as error:
                if error.code not in _RETRIED_STATUS or attempt >= self.max_retries:
                    raise JudgeError(f"judge endpoint answered HTTP {error.code}") from error
                retry_after = error.headers.get("retry-after")
            except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
                if attempt >= self.max_retries:
                    raise JudgeError(f"judge endpoint unreachable: {error}") from error
                retry_after = None
            else:
                return self._reply_text(payload)
            self._wait_before_retry(attempt, retry_after)
            attempt += 1

    def _post(self, data: bytes, headers: dict[str, str]) -> Any:
        request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
        with self._lock:
            self.requests += 1
        # Suppressed: HTTP-client instrumentations must not put the judge's call into the app's trace.
        token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.load(response)
        except ValueError as error:
            raise JudgeError(f"judge endpoint answered with no JSON ({error})") from None
        finally:
            detach(token)

    def _wait_before_retry(self, attempt: int, retry_after: str | None) -> None:
        with self._lock:
            self.retries += 1
        try:
            delay = float(retry_after) if retry_after is not None else self.backoff * 2**attempt
        except ValueError:  # an HTTP date: fall back to our own backoff
            delay = self.backoff * 2**attempt
        time.sleep(min(max(delay, 0.0), self.max_backoff))

    def _reply_text(self, payload: Any) -> str:
        try:
            message = payload["choices"][0]["message"]
        except (KeyError, IndexError, TypeError) as error:
            raise JudgeError("judge endpoint answered without choices[0].message") from error
        usage = payload.get("usage") or {}
        tokens = usage.get("total_tokens")
        if not isinstance(tokens, int):
            tokens = int(usage.get("prompt_tokens") or 0) + int(usage.get("completion_tokens") or 0)
        with self._lock:
            self.tokens_used += tokens
        return message.get("content") or ""


# -- what the judge is shown ------------------------------------------------------------------------------


def _section(text: str) -> str:
    return text if len(text) <= _MAX_FIELD_CHARS else text[:_MAX_FIELD_CHARS] + " [...]"


def _tool_results(span: SpanView) -> list[str]:
    """The tool results a model call was given (``tool_call_response`` parts of its input)."""
    messages = span.json_attribute(semconv.GEN_AI_INPUT_MESSAGES)
    return [
        _as_text(part.get("response"))
        for message in (messages if isinstance(messages, list) else ())
        if isinstance(message, dict) and isinstance(message.get("parts"), list)
        for part in message["parts"]
        if isinstance(part, dict) and part.get("type") == "tool_call_response" and part.get("response")
    ]


def answer_context(span: SpanView, trace: TraceView) -> str | None:
    """What an answer may rest on: what was retrieved before it (``evidence.context``: the documents' text,
    else the prompt the app put them in) and the tool results it was given."""
    pieces = evidence.context(span, trace) + _tool_results(span)
    return _section("\n\n".join(pieces)) if pieces else None


def _agent_task(span: SpanView, trace: TraceView, expectation: Expectation | None) -> str | None:
    task = evidence.question(span)
    if task is None:
        chats = trace.with_operation(*ANSWER_OPERATIONS, spans=trace.descendants(span))
        task = next((text for chat in chats if (text := evidence.question(chat))), None)
    return task or (expectation.input if expectation else None)


def _agent_answer(span: SpanView, trace: TraceView) -> str | None:
    answer = evidence.answer(span)
    if answer is None:
        chats = trace.with_operation(*ANSWER_OPERATIONS, spans=trace.descendants(span))
        answer = next((text for chat in reversed(chats) if (text := evidence.answer(chat))), None)
    return answer


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _step_line(step: SpanView) -> str:
    line = step.name
    if step.operation == semconv.OPERATION_EXECUTE_TOOL:
        arguments = step.attributes.get(semconv.GEN_AI_TOOL_CALL_ARGUMENTS)
        result = step.attributes.get(semconv.GEN_AI_TOOL_CALL_RESULT)
        line += "".join(
            f" {label}={_as_text(value)}"
            for label, value in (("arguments", arguments), ("result", result))
            if value is not None
        )
    elif step.operation in ANSWER_OPERATIONS:
        calls = [f"{call.name}({_as_text(call.arguments)})" for call in evidence.tool_calls(step)]
        text = evidence.answer(step)
        line += f" -> calls {', '.join(calls)}" if calls else (f" -> {text}" if text else "")
    error = step.attributes.get(semconv.ERROR_TYPE)
    if step.status_error or error:
        line += f" [ERROR {error}]" if error else " [ERROR]"
    return line


def agent_steps(span: SpanView, trace: TraceView) -> str:
    steps = trace.with_operation(
        *ANSWER_OPERATIONS, semconv.OPERATION_EXECUTE_TOOL, *AGENT_OPERATIONS, spans=trace.descendants(span)
    )
    return _section("\n".join(f"{index}. {_step_line(step)}" for index, step in enumerate(steps, 1)))


# -- the evaluators -------------------------------------------------------------------------------------


class _JudgeEvaluator:
    rubric_name = ""

    def __init__(self, client: JudgeClient, name: str | None = None) -> None:
        self.client = client
        self.rubric = load_rubric(self.rubric_name)
        self.name = name or f"{self.rubric_name}_judge"


class FaithfulnessJudge(_JudgeEvaluator):
    """Is a model's answer supported by the context it was given (retrieved documents, system
    instructions, earlier messages, tool results)? Needs content capture; skips answers with no context."""

    rubric_name = "faithfulness"

    def applies_to(self, span: SpanView) -> bool:
        return span.operation in ANSWER_OPERATIONS and semconv.GEN_AI_OUTPUT_MESSAGES in span.attributes

    def evaluate(
        self, span: SpanView, trace: TraceView, expectation: Expectation | None = None
    ) -> EvaluationResult | None:
        answer, context = evidence.answer(span), answer_context(span, trace)
        if not answer or not context:
            return None
        question = evidence.question(span) or (expectation.input if expectation else "")
        return self.client.judge(
            self.name, self.rubric, question=_section(question), context=context, answer=_section(answer)
        )


class AnswerRelevanceJudge(_JudgeEvaluator):
    """Does a model's answer address the question (the last user message)? Needs content capture."""

    rubric_name = "answer_relevance"

    def applies_to(self, span: SpanView) -> bool:
        return span.operation in ANSWER_OPERATIONS and semconv.GEN_AI_OUTPUT_MESSAGES in span.attributes

    def evaluate(
        self, span: SpanView, trace: TraceView, expectation: Expectation | None = None
    ) -> EvaluationResult | None:
        answer = evidence.answer(span)
        question = evidence.question(span) or (expectation.input if expectation else None)
        if not answer or not question:
            return None
        return self.client.judge(self.name, self.rubric, question=_section(question), answer=_section(answer))


class TaskCompletionJudge(_JudgeEvaluator):
    """Did an agent run (``invoke_agent``, ``handle_conversation_turn``, ``invoke_workflow``) accomplish its
    task, judged from its steps (model calls, tool calls with arguments, results and errors) and final
    answer, against the dataset's expected answer when there is one? Needs content capture."""

    rubric_name = "task_completion"

    def applies_to(self, span: SpanView) -> bool:
        return span.operation in AGENT_OPERATIONS

    def evaluate(
        self, span: SpanView, trace: TraceView, expectation: Expectation | None = None
    ) -> EvaluationResult | None:
        task = _agent_task(span, trace, expectation)
        if not task:
            return None
        expected = expectation.expected_answer if expectation else None
        return self.client.judge(
            self.name,
            self.rubric,
            question=_section(task),
            steps=agent_steps(span, trace) or "(no steps)",
            answer=_section(_agent_answer(span, trace) or "(no answer)"),
            expected=expected or "(none)",
        )


_HANDOFF_PREFIX = "transfer_to_"


class HandoffJudge(_JudgeEvaluator):
    """Was the request handed to the right agent? Judges agent runs that hand off (a ``transfer_to_*``
    tool call, or a sub-agent run), against the hand-off tools the model was offered and the dataset's
    expected agents when given."""

    rubric_name = "handoff_correctness"

    def applies_to(self, span: SpanView) -> bool:
        return span.operation in AGENT_OPERATIONS

    def evaluate(
        self, span: SpanView, trace: TraceView, expectation: Expectation | None = None
    ) -> EvaluationResult | None:
        descendants = trace.descendants(span)
        chosen = [
            s.attributes[semconv.GEN_AI_TOOL_NAME][len(_HANDOFF_PREFIX) :]
            for s in trace.with_operation(semconv.OPERATION_EXECUTE_TOOL, spans=descendants)
            if str(s.attributes.get(semconv.GEN_AI_TOOL_NAME, "")).startswith(_HANDOFF_PREFIX)
        ] or [
            str(child.attributes.get(semconv.GEN_AI_AGENT_NAME))
            for child in trace.with_operation(semconv.OPERATION_INVOKE_AGENT, spans=trace.children(span))
            if child.attributes.get(semconv.GEN_AI_AGENT_NAME)
        ]
        task = _agent_task(span, trace, expectation)
        if not chosen or not task:
            return None
        expected = ", ".join(expectation.expected_agents) if expectation else ""
        return self.client.judge(
            self.name,
            self.rubric,
            question=_section(task),
            agents=_handoff_targets(trace.with_operation(*ANSWER_OPERATIONS, spans=descendants))
            or "(unknown)",
            handoff=", ".join(dict.fromkeys(chosen)),
            expected=expected or "(none)",
        )


def _handoff_targets(chats: list[SpanView]) -> str:
    """``agent: description`` lines from the ``transfer_to_*`` tools the model was offered."""
    targets: dict[str, str] = {}
    for chat in chats:
        definitions = chat.json_attribute(semconv.GEN_AI_TOOL_DEFINITIONS)
        for definition in definitions if isinstance(definitions, list) else ():
            if not isinstance(definition, dict):
                continue
            name = str(definition.get("name") or (definition.get("function") or {}).get("name") or "")
            if name.startswith(_HANDOFF_PREFIX):
                description = definition.get("description") or (definition.get("function") or {}).get(
                    "description"
                )
                targets[name[len(_HANDOFF_PREFIX) :]] = str(description or "")
    return "\n".join(f"{name}: {description}" for name, description in targets.items())
