"""A deterministic LLM judge: OpenAI chat requests whose model name contains ``judge`` get a JSON verdict
``{score, label, explanation}`` computed from the rubric's tagged prompt sections
(``genai_otel/evaluation/rubrics``), so tests exercise real verdict parsing instead of an echo.

The rubric is the request's ``response_format.json_schema.name`` (else read from the prompt's sections):

* ``faithfulness``        the fraction of the ``<answer>``'s sentences found verbatim (case and spacing
                          aside) in ``<context>``; ``faithful`` when all are
* ``answer_relevance``    the fraction of the ``<question>``'s words (4+ letters) in the ``<answer>``
* ``task_completion``     ``completed`` when there is an ``<answer>``, no step is marked ``[ERROR``, and the
                          answer contains the ``<expected>`` answer when one is given
* ``handoff_correctness`` ``correct`` when the ``<handoff>`` agent is the expected one, else when its
                          description in ``<agents>`` shares a word with the ``<question>``

Model names: ``...judge-garbage...`` answers free text that is no verdict; ``...judge-flaky...`` answers
HTTP 429 to the first request for each prompt, then the verdict.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from typing import Any
from weakref import WeakKeyDictionary

from genai_otel.testing.protocols._common import text_of, words

GARBAGE = "I think the answer is pretty good overall, maybe a four or so."
_flaky_seen: WeakKeyDictionary[Any, set[str]] = WeakKeyDictionary()
_flaky_lock = threading.Lock()


def judge_response(server: Any, body: dict[str, Any], model: str) -> tuple[int, dict[str, Any]] | None:
    """(HTTP status, JSON payload) for a judge request to ``server``; None for a prompt that is not one of
    the rubrics (no ``response_format`` schema name, no tagged sections): the ordinary reply serves it."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    prompt = "\n".join(text_of(m.get("content")) for m in messages)
    rubric = _rubric_name(body, prompt)
    if rubric is None:
        return None
    if "judge-flaky" in model and _first_time(server, prompt):
        return 429, {"error": {"message": "rate limited", "type": "rate_limit_error", "code": "429"}}
    reply = GARBAGE if "judge-garbage" in model else json.dumps(verdict(rubric, prompt))
    prompt_tokens, completion_tokens = max(1, len(words(prompt))), len(words(reply))
    return 200, {
        "id": "chatcmpl-judge",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _first_time(server: Any, prompt: str) -> bool:
    digest = hashlib.sha256(prompt.encode()).hexdigest()
    with _flaky_lock:
        seen = _flaky_seen.setdefault(server, set())
        if digest in seen:
            return False
        seen.add(digest)
        return True


def _rubric_name(body: dict[str, Any], prompt: str) -> str | None:
    name = ((body.get("response_format") or {}).get("json_schema") or {}).get("name")
    if name:
        return str(name)
    for tag, rubric in (
        ("context", "faithfulness"),
        ("steps", "task_completion"),
        ("handoff", "handoff_correctness"),
    ):
        if _section(prompt, tag) is not None:
            return rubric
    return "answer_relevance" if _section(prompt, "answer") is not None else None


def _section(prompt: str, tag: str) -> str | None:
    match = re.search(rf"<{tag}>\s*(.*?)\s*</{tag}>", prompt, re.DOTALL)
    if match is None:
        return None
    text = match.group(1).strip()
    return None if text == "(none)" else text


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def _content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]{4,}", text.lower())}


def verdict(rubric: str, prompt: str) -> dict[str, Any]:
    section = {tag: _section(prompt, tag) or "" for tag in ("question", "context", "answer", "steps")}
    if rubric == "faithfulness":
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", section["answer"].strip()) if s.strip()]
        context = _normal(section["context"])
        unsupported = [s for s in sentences if _normal(s.rstrip(".!?")) not in context]
        score = 1.0 - len(unsupported) / len(sentences) if sentences else 0.0
        label = "faithful" if sentences and not unsupported else "unfaithful"
        why = f"unsupported: {unsupported[0]!r}" if unsupported else "every sentence is in the context"
        return {"score": round(score, 4), "label": label, "explanation": why}
    if rubric == "task_completion":
        expected = _section(prompt, "expected")
        failed = "[ERROR" in section["steps"]
        answered = bool(section["answer"]) and section["answer"] != "(no answer)"
        agrees = expected is None or _normal(expected) in _normal(section["answer"])
        done = answered and not failed and agrees
        why = "answered from its steps" if done else ("a step failed" if failed else "no matching answer")
        return {
            "score": 1.0 if done else 0.0,
            "label": "completed" if done else "incomplete",
            "explanation": why,
        }
    if rubric == "handoff_correctness":
        return _handoff_verdict(prompt, section["question"])
    wanted = _content_words(section["question"])
    found = wanted & _content_words(section["answer"])
    score = len(found) / len(wanted) if wanted else 0.0
    label = "relevant" if score >= 0.5 else "irrelevant"
    return {"score": round(score, 4), "label": label, "explanation": f"{len(found)}/{len(wanted)} words"}


def _handoff_verdict(prompt: str, question: str) -> dict[str, Any]:
    chosen = (_section(prompt, "handoff") or "").split(",")[0].strip()
    expected = _section(prompt, "expected")
    if expected is not None:
        right = chosen in {e.strip() for e in expected.split(",")}
    else:
        descriptions = dict(
            line.split(":", 1) for line in (_section(prompt, "agents") or "").splitlines() if ":" in line
        )
        right = bool(_content_words(descriptions.get(chosen, "")) & _content_words(question))
    return {
        "score": 1.0 if right else 0.0,
        "label": "correct" if right else "incorrect",
        "explanation": f"handed to {chosen}",
    }
