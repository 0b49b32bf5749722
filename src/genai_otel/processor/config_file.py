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
      operations: [chat]        # per-span evaluators only; default: every span whose output was captured
      evaluators:
        # per-span evaluators: judge one span's attributes as it arrives
        - refusal
        - json_output
        - llm_judge: {base_url: "http://judge:8000/v1", model: gpt-4o-mini, api_key_env: JUDGE_API_KEY}
        # trace-aware evaluators (genai_otel.evaluation.registry): judge spans with their whole trace
        - groundedness
        - tool_call_validity
        - {name: faithfulness_judge, judge_url: "http://judge:8000/v1", judge_model: gpt-4o-mini,
           judge_api_key_env: JUDGE_API_KEY, requests_per_minute: 60, token_budget: 1000000}
      trace_window:             # spans grouped per trace id until the trace is judged
        idle_seconds: 30        # judged once no span of the trace arrived for this long
        max_age_seconds: 300    # ... or this long after its first span
        max_traces: 10000       # open traces held; beyond, the one idle longest is judged early
        max_spans_per_trace: 5000   # spans past this are not kept (their evaluations counted skipped)
      sampling:                 # what trace-aware evaluation judges (every span is still forwarded)
        operations: [chat, invoke_agent, execute_tool]   # default: any
        models: [gpt-4o]        # gen_ai.request.model (or response model); default: any
        agents: [support]       # gen_ai.agent.name; default: any
        min_cost: 0.001         # spans with genai_otel.usage.cost below are not judged
        errors: true            # errored spans are always judged (default)
        one_in_traces: 10       # every span of 1 in N traces, decided by the trace id
        ratio: 0.5              # then this fraction of the spans left, at random
        max_per_hour: 5000      # evaluations run per hour (token bucket); the rest skipped, counted
      workers: 2                # evaluation threads
      max_pending: 1000         # traces (and spans) waiting for a thread; beyond, skipped and counted

Trace-aware evaluators are named as in ``genai-otel evaluate --evaluators``; a judge evaluator (``*_judge``)
needs ``judge_url`` and ``judge_model``. ``refusal`` keeps its per-span meaning here (configuration files
written for it keep working). The service's metrics ``genai_otel.evaluation.score`` (per evaluator, label,
model, agent), ``genai_otel.evaluation.skipped`` (by reason) and ``genai_otel.evaluation.traces`` (by why
the window closed them) go to its own MeterProvider.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from genai_otel import semconv
from genai_otel.processor.evaluation import (
    JsonOutputEvaluator,
    LLMJudge,
    RefusalEvaluator,
    TraceWindowSettings,
    has_output,
)
from genai_otel.processor.evaluation_sampling import EvaluationSampling
from genai_otel.processor.evaluation_sampling import from_options as sampling_from_options
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
    #: Operations whose spans the per-span evaluators judge; ``None``: every span with captured output.
    evaluate_operations: frozenset[str] | None = None
    #: Trace-aware evaluators (:class:`~genai_otel.evaluation.api.TraceEvaluator`), their trace window and
    #: sampling.
    trace_evaluators: list[Any] = field(default_factory=list)
    trace_window: TraceWindowSettings = field(default_factory=TraceWindowSettings)
    sampling: EvaluationSampling = field(default_factory=EvaluationSampling)
    evaluation_workers: int = 2
    evaluation_max_pending: int = 1000

    @property
    def evaluates(self) -> bool:
        return bool(self.evaluators or self.trace_evaluators)

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


_JUDGE_OPTIONS = {
    "judge_url": "base_url",
    "judge_model": "model",
    "judge_timeout": "timeout",
    "requests_per_minute": "requests_per_minute",
    "token_budget": "token_budget",
    "max_retries": "max_retries",
    "structured_output": "structured_output",
}


def _trace_evaluator(name: str, options: dict[str, Any], judges: dict[tuple[Any, ...], Any]) -> Any:
    """A registry evaluator; judge options build (or share: same endpoint and settings) a judge client."""
    from genai_otel.evaluation.judge import JudgeClient
    from genai_otel.evaluation.registry import EVALUATORS, EvaluatorConfig, JudgeRequired

    unknown = set(options) - set(_JUDGE_OPTIONS) - {"judge_api_key_env"}
    if unknown:
        raise ConfigError(f"evaluator {name!r}: unknown options {', '.join(sorted(unknown))}")
    judge = None
    if "judge_url" in options or "judge_model" in options:
        settings = {_JUDGE_OPTIONS[k]: v for k, v in options.items() if k in _JUDGE_OPTIONS}
        key_env = options.get("judge_api_key_env")
        settings["api_key"] = os.environ.get(key_env, "none") if key_env else "none"
        key = tuple(sorted(settings.items()))
        try:
            judge = judges.get(key) or judges.setdefault(key, JudgeClient(**settings))
        except TypeError as error:
            raise ConfigError(f"evaluator {name!r}: {error}") from None
    try:
        return EVALUATORS[name](EvaluatorConfig(judge=judge))
    except JudgeRequired:
        raise ConfigError(f"evaluator {name!r} needs judge_url and judge_model") from None


def _evaluators(entries: list[Any], config: ProcessorConfig) -> None:
    """Per-span evaluators by their names, trace-aware ones from the registry, in ``config``."""
    from genai_otel.evaluation.registry import EVALUATORS

    judges: dict[tuple[Any, ...], Any] = {}
    for entry in entries:
        if isinstance(entry, dict) and "name" in entry:  # {name: x, judge_url: ...}
            name, options = entry["name"], {k: v for k, v in entry.items() if k != "name"}
        elif isinstance(entry, dict) and len(entry) == 1:
            name, options = next(iter(entry.items()))
            options = options or {}
        else:
            name, options = entry, {}
        if not isinstance(name, str) or not isinstance(options, dict):
            raise ConfigError(f"an evaluator is a name or {{name: {{options}}}}, got {entry!r}")
        if name in _EVALUATORS:
            config.evaluators.append(_build(entry, _EVALUATORS, "evaluator"))
        elif name in EVALUATORS:
            config.trace_evaluators.append(_trace_evaluator(name, options, judges))
        else:
            known = ", ".join(sorted({*_EVALUATORS, *EVALUATORS}))
            raise ConfigError(f"unknown evaluator {name!r}; known: {known}")


def _section(evaluation: dict[str, Any], key: str, build: Any) -> Any:
    try:
        return build(**(evaluation.get(key) or {}))
    except (TypeError, ValueError) as error:
        raise ConfigError(f"evaluation {key}: {error}") from None


def from_dict(data: dict[str, Any] | None) -> ProcessorConfig:
    data = data or {}
    config = ProcessorConfig()
    if "rules" in data:
        config.rules = [_build(entry, _RULES, "rule") for entry in data["rules"] or ()]
    evaluation = data.get("evaluation") or {}
    _evaluators(list(evaluation.get("evaluators") or ()), config)
    if evaluation.get("operations"):
        config.evaluate_operations = frozenset(evaluation["operations"])
    config.trace_window = _section(evaluation, "trace_window", TraceWindowSettings)
    config.sampling = _section(evaluation, "sampling", lambda **o: sampling_from_options(o))
    config.evaluation_workers = int(evaluation.get("workers", 2))
    config.evaluation_max_pending = int(evaluation.get("max_pending", 1000))
    return config


def load(path: str | None) -> ProcessorConfig:
    """The configuration in ``path`` (YAML or JSON); the defaults without one."""
    return from_dict(_read_table(path)) if path else ProcessorConfig()
