"""The processor's configuration file (``genai-otel processor --config FILE``, YAML or JSON): which rules
run, in which order, with which options, and which evaluators run on which spans.

.. code-block:: yaml

    rules:                      # in order; a rule left out is off (no file: default_rules())
      - normalize
      - cost: {prices: ./my-prices.yaml}          # merged over conventions/prices.yaml
      - loop_flags: {threshold: 3, window_seconds: 300}
      - redact: {mode: hash, custom: {EMPLOYEE_ID: "EMP-\\\\d{6}"}}
      - offload: {store: "s3://bucket/genai-content", min_size: 16384}   # off unless named
      - limit: {max_attribute: 16384, max_span: 65536}
    evaluation:                 # results go downstream as gen_ai.evaluation.result events (OTLP logs)
      operations: [chat]        # default: every span whose output was captured
      evaluators:
        - refusal
        - json_output
        - llm_judge: {base_url: "http://judge:8000/v1", model: gpt-4o-mini, api_key_env: JUDGE_API_KEY}
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from genai_otel import semconv
from genai_otel.processor.evaluation import JsonOutputEvaluator, LLMJudge, RefusalEvaluator, has_output
from genai_otel.processor.model import Rule
from genai_otel.processor.offload import OffloadRule
from genai_otel.processor.rules import (
    CostRule,
    LimitRule,
    LoopFlagRule,
    NormalizeRule,
    RedactRule,
    _read_table,
    default_rules,
    load_prices,
)


class ConfigError(ValueError):
    """The configuration file names an unknown rule or evaluator, or gives it options it does not take."""


def _cost(prices: str | None = None) -> CostRule:
    return CostRule(load_prices(prices))


def _judge(base_url: str, model: str, api_key_env: str | None = None, timeout: float = 30.0) -> LLMJudge:
    api_key = os.environ.get(api_key_env, "none") if api_key_env else "none"
    return LLMJudge(base_url=base_url, model=model, api_key=api_key, timeout=timeout)


_RULES = {
    "normalize": NormalizeRule,
    "cost": _cost,
    "loop_flags": LoopFlagRule,
    "redact": RedactRule,
    "limit": LimitRule,
    "offload": OffloadRule,
}
_EVALUATORS = {"refusal": RefusalEvaluator, "json_output": JsonOutputEvaluator, "llm_judge": _judge}


@dataclass
class ProcessorConfig:
    rules: list[Rule] = field(default_factory=default_rules)
    evaluators: list[Any] = field(default_factory=list)
    #: Operations whose spans are evaluated; ``None``: every span with captured output.
    evaluate_operations: frozenset[str] | None = None

    def should_evaluate(self, attributes: dict[str, Any]) -> bool:
        if not self.evaluators or not has_output(attributes):
            return False
        operations = self.evaluate_operations
        return operations is None or attributes.get(semconv.GEN_AI_OPERATION_NAME) in operations


def _build(entry: Any, factories: dict[str, Any], kind: str) -> Any:
    """``name`` or ``{name: {options}}`` -> the configured object."""
    if isinstance(entry, str):
        name, options = entry, {}
    elif isinstance(entry, dict) and len(entry) == 1:
        name, options = next(iter(entry.items()))
        options = options or {}
    else:
        raise ConfigError(f"a {kind} is a name or {{name: {{options}}}}, got {entry!r}")
    if name not in factories:
        raise ConfigError(f"unknown {kind} {name!r}; known: {', '.join(sorted(factories))}")
    try:
        return factories[name](**options)
    except TypeError as error:
        raise ConfigError(f"{kind} {name!r}: {error}") from None


def from_dict(data: dict[str, Any] | None) -> ProcessorConfig:
    data = data or {}
    config = ProcessorConfig()
    if "rules" in data:
        config.rules = [_build(entry, _RULES, "rule") for entry in data["rules"] or ()]
    evaluation = data.get("evaluation") or {}
    config.evaluators = [
        _build(entry, _EVALUATORS, "evaluator") for entry in evaluation.get("evaluators") or ()
    ]
    if evaluation.get("operations"):
        config.evaluate_operations = frozenset(evaluation["operations"])
    return config


def load(path: str | None) -> ProcessorConfig:
    """The configuration in ``path`` (YAML or JSON); the defaults without one."""
    return from_dict(_read_table(path)) if path else ProcessorConfig()
