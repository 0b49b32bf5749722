"""Every import in the package points down: a module imports only its own layer and the layers below.

Layers, lowest first (a module belongs to the first group whose prefix it starts with)::

    foundation      safety, semconv (+ its data), config, version, console, ...   (no telemetry)
    propagation     trace context and baggage across hops
    telemetry       THE core: records -> spans, metrics, events; the agent-run engine
    api             the public agent/tool and messaging facades
    instrumentation one package per instrumented library (api and instrumentation are siblings:
                    neither imports the other -- instrumentors call the core directly)
    evaluation      trace-aware evaluators, their calibration and the offline runner
    processor       enrichment rules, the collector processor service
    app             the package's public face (``genai_otel/__init__.py``), the CLI and the demo

``genai_otel.testing`` stands apart: tests and the checker may import anything, but runtime code never
imports the test helpers (only the demo and the CLI's ``model-server`` command run the local model server).

The graph is read from the source with ``ast``: every import counts, including those inside functions
and under ``TYPE_CHECKING`` -- a lazy import is still an arrow between layers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import genai_otel

PACKAGE_DIR = Path(genai_otel.__file__).parent

# (rank, group, module prefixes). Groups of one rank are siblings: they may not import each other.
LAYERS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (
        0,
        "foundation",
        (
            "genai_otel.safety",
            "genai_otel.semconv",
            "genai_otel._semconv_gen",
            "genai_otel._semconv_diff",
            "genai_otel.config",
            "genai_otel.version",
            "genai_otel._conflict",
            "genai_otel._default",
            "genai_otel.console",
            "genai_otel.conventions",
            "genai_otel.detectors",
        ),
    ),
    (1, "propagation", ("genai_otel.propagation",)),
    (2, "telemetry", ("genai_otel.telemetry",)),
    (3, "api", ("genai_otel.agents", "genai_otel.messaging")),
    (3, "instrumentation", ("genai_otel.instrumentation",)),
    (4, "evaluation", ("genai_otel.evaluation",)),
    (5, "processor", ("genai_otel.processor",)),
    (6, "app", ("genai_otel.cli", "genai_otel.demo", "genai_otel.__init__")),
)
TESTING = "genai_otel.testing"
# Runtime modules allowed to use a test helper, and why.
TESTING_ALLOWED = {
    ("genai_otel.demo", "genai_otel.testing.model_server"): "the demo runs against the local model server",
    ("genai_otel.cli", "genai_otel.testing.model_server"): "`genai-otel model-server` serves it",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:]) if "." in name else Path()
    base = PACKAGE_DIR / relative
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _imports(path: Path) -> set[str]:
    """The genai_otel modules ``path`` imports (``from genai_otel import semconv``: the submodule)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            names = [f"{source}.{alias.name}" for alias in node.names]
            submodules = [name for name in names if _is_module(name)]
            found.update(submodules or [source])
    return {name for name in found if name == "genai_otel" or name.startswith("genai_otel.")}


def _layer(module: str) -> tuple[int, str]:
    module = "genai_otel.__init__" if module == "genai_otel" else module  # the package itself, not all of it
    for rank, group, prefixes in LAYERS:
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank, group
    raise AssertionError(f"{module} is in no layer: add it to LAYERS in {__file__}")


def _graph() -> dict[str, set[str]]:
    return {
        _module_name(path): _imports(path)
        for path in sorted(PACKAGE_DIR.rglob("*.py"))
        if not _module_name(path).startswith(TESTING)
    }


def test_the_graph_is_read() -> None:
    """The parser sees the arrows it must see (else an empty graph would pass everything)."""
    graph = _graph()
    assert "genai_otel.semconv" in graph["genai_otel.telemetry.handler"]
    assert "genai_otel.telemetry.content" in graph["genai_otel.telemetry.handler"]
    assert len(graph) > 50


def test_every_import_points_down() -> None:
    upward = []
    for module, imported in _graph().items():
        rank, group = _layer(module)
        for target in sorted(imported):
            if target.startswith(TESTING):
                continue  # checked below
            target_rank, target_group = _layer(target)
            if target_rank > rank or (target_rank == rank and target_group != group):
                upward.append(f"{module} ({group}) -> {target} ({target_group})")
    assert not upward, "imports that point up or sideways:\n" + "\n".join(upward)


def test_instrumentation_packages_share_only_the_shared_modules() -> None:
    """A library's package imports its own modules and the shared ``instrumentation._*`` ones, never another
    library's package (the OpenAI-compatible mapping is ``instrumentation._openai_compatible``)."""
    crossing = []
    for module, imported in _graph().items():
        parts = module.split(".")
        if len(parts) < 3 or parts[1] != "instrumentation" or parts[2].startswith("_"):
            continue
        for target in sorted(imported):
            other = target.split(".")
            if (
                len(other) > 2
                and other[1] == "instrumentation"
                and not other[2].startswith("_")
                and other[2] != parts[2]
            ):
                crossing.append(f"{module} -> {target}")
    assert not crossing, "instrumentation packages importing each other:\n" + "\n".join(crossing)


def test_runtime_code_never_imports_the_test_helpers() -> None:
    offenders = [
        f"{module} -> {target}"
        for module, imported in _graph().items()
        for target in sorted(imported)
        if target.startswith(TESTING) and (module, target) not in TESTING_ALLOWED
    ]
    assert not offenders, "runtime modules importing genai_otel.testing:\n" + "\n".join(offenders)
