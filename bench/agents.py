"""CPU overhead per agent run, per agent framework, side by side with the anchors' instrumentors.

    python bench/agents.py [--runs 20] [--rounds 5] [--frameworks openai-agents,crewai,...]

One run is the same 3-step agent run for every framework: model call -> tool call (``get_weather``) ->
model call, against the local model server started once in a process of its own (so only the agent
process's CPU is measured: the framework, the client SDK, and the instrumentation). Each (framework,
variant) runs in a process of its own: instrumentors of one framework patch the same functions.

Variants: no instrumentation; genai-otel (``instrument(only=[framework, its client SDK])``: the default
of one span per model call, the client call merged into the framework's); OpenInference's instrumentor
for the framework; the official OpenTelemetry GenAI one where it exists (OpenAI Agents). The anchors are
installed as their docs say, for the framework alone. The SDK as an app has it: spans to a dropping
exporter, an SDK MeterProvider. Figures: median over rounds of CPU ms per run (``time.process_time``:
every thread of the agent process), its overhead over the uninstrumented run, and spans per run.

Frameworks that install next to openai 3.x run in the bench venv (``pip install -e '.[bench]'``); the others
(ADK, CrewAI, Strands, DSPy, AutoGen pin older openai / google-genai / OTel / protobuf) in venvs of their
own that this script creates on first use under ~/.cache/genai-otel/bench-<name>-venv.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from overhead import EXPORTED, install_sdk

# This file's folder off the path again: `import agents` (the OpenAI Agents SDK) must not find this file.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("GENAI_OTEL_CACHE", Path.home() / ".cache" / "genai-otel"))
MODEL = "gpt-4o-mini-tool"  # the model server calls the declared tool, then answers
QUESTION = "What is the weather in Paris?"
INSTRUCTIONS = "Answer weather questions with the get_weather tool."


def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"Sunny and 21 C in {city}"


@dataclass
class Framework:
    #: genai-otel instrumentor names (framework + the client SDK it calls).
    genai_otel: list[str]
    #: "module:Class" of OpenInference's instrumentor (None: none exists for this framework version).
    openinference: str | None
    #: "module:Class" of the official OpenTelemetry GenAI instrumentor, where one exists.
    official: str | None = None
    #: None: the bench venv; else the packages of its own venv (anchors included).
    venv_packages: list[str] | None = None
    notes: str = ""
    #: The framework's own OpenTelemetry support, where it has one (a variant of its own).
    native: str | None = None


FRAMEWORKS: dict[str, Framework] = {
    "openai-agents": Framework(
        ["agents", "openai"],
        "openinference.instrumentation.openai_agents:OpenAIAgentsInstrumentor",
        "opentelemetry.instrumentation.openai_agents:OpenAIAgentsInstrumentor",
    ),
    "pydantic-ai": Framework(
        ["pydantic_ai", "openai"],
        "pydantic-ai-own+openinference-span-processor",
        notes="OpenInference converts Pydantic AI's own spans (Agent.instrument_all()) in a span processor",
    ),
    "agno": Framework(["agno", "openai"], "openinference.instrumentation.agno:AgnoInstrumentor"),
    "ag2": Framework(
        ["ag2", "openai"],
        None,
        native="AG2's own TelemetryMiddleware",
        notes="OpenInference's AG2 instrumentor supports ag2 < 1.0 only",
    ),
    "smolagents": Framework(
        ["smolagents", "openai"], "openinference.instrumentation.smolagents:SmolagentsInstrumentor"
    ),
    "claude-agent-sdk": Framework(
        ["claude_agent_sdk"],
        "openinference.instrumentation.claude_agent_sdk:ClaudeAgentSDKInstrumentor",
        notes="the model calls run in the Claude Code CLI process: only the SDK side is measured",
    ),
    "google-adk": Framework(
        ["google.adk", "google.genai"],
        "openinference.instrumentation.google_adk:GoogleADKInstrumentor",
        venv_packages=["google-adk", "openinference-instrumentation-google-adk"],
    ),
    "crewai": Framework(
        ["crewai", "openai"],
        "openinference.instrumentation.crewai:CrewAIInstrumentor",
        venv_packages=["crewai", "openinference-instrumentation-crewai"],
    ),
    "strands": Framework(
        ["strands", "openai"],
        "strands-own+openinference-span-processor",
        venv_packages=["strands-agents[openai]", "openinference-instrumentation-strands-agents"],
        notes="OpenInference converts Strands' own spans in a span processor",
    ),
    "dspy": Framework(
        ["dspy", "litellm", "openai"],
        "openinference.instrumentation.dspy:DSPyInstrumentor",
        venv_packages=["dspy", "openinference-instrumentation-dspy"],
    ),
    "autogen-agentchat": Framework(
        ["autogen_agentchat", "openai"],
        "openinference.instrumentation.autogen_agentchat:AutogenAgentChatInstrumentor",
        venv_packages=[
            "autogen-agentchat",
            "autogen-ext[openai]",
            "openinference-instrumentation-autogen-agentchat",
        ],
    ),
}


# -- one 3-step agent run per framework (built once, called per run) ------------------------------------


#: The "native" variant: the scenario turns on the framework's own telemetry.
_NATIVE = [False]


def _loop_runner(make_coroutine: Callable[[], Any]) -> Callable[[], Any]:
    loop = asyncio.new_event_loop()
    return lambda: loop.run_until_complete(make_coroutine())


def _openai_agents(base_url: str) -> Callable[[], Any]:
    from agents import Agent, OpenAIChatCompletionsModel, Runner, function_tool
    from openai import AsyncOpenAI

    model = OpenAIChatCompletionsModel(MODEL, AsyncOpenAI(base_url=base_url, api_key="x"))
    agent = Agent(name="weather", instructions=INSTRUCTIONS, model=model, tools=[function_tool(get_weather)])
    return _loop_runner(lambda: Runner.run(agent, QUESTION))


def _pydantic_ai(base_url: str) -> Callable[[], Any]:
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    model = OpenAIChatModel(MODEL, provider=OpenAIProvider(base_url=base_url, api_key="x"))
    agent = Agent(model, name="weather", instructions=INSTRUCTIONS, tools=[get_weather])
    return _loop_runner(lambda: agent.run(QUESTION))


def _agno(base_url: str) -> Callable[[], Any]:
    from agno.agent import Agent
    from agno.models.openai import OpenAIChat

    agent = Agent(
        model=OpenAIChat(id=MODEL, base_url=base_url, api_key="x"),
        tools=[get_weather],
        name="weather",
        instructions=INSTRUCTIONS,
    )
    return lambda: agent.run(QUESTION)


def _ag2(base_url: str) -> Callable[[], Any]:
    from ag2 import Agent
    from ag2.config.openai import OpenAIConfig

    middleware = []
    if _NATIVE[0]:
        from ag2.middleware.builtin.telemetry import TelemetryMiddleware

        middleware.append(TelemetryMiddleware(capture_content=False, agent_name="weather"))
    agent = Agent(
        "weather",
        INSTRUCTIONS,
        config=OpenAIConfig(model=MODEL, base_url=base_url, api_key="x"),
        tools=[get_weather],
        middleware=middleware,
    )
    return _loop_runner(lambda: agent.ask(QUESTION))


def _smolagents(base_url: str) -> Callable[[], Any]:
    from smolagents import OpenAIServerModel, ToolCallingAgent, tool

    @tool
    def weather(city: str) -> str:
        """Current weather for a city.

        Args:
            city: The city to look up.
        """
        return get_weather(city)

    weather.name = "get_weather"
    model = OpenAIServerModel(MODEL, api_base=base_url, api_key="x")
    agent = ToolCallingAgent(tools=[weather], model=model, name="weather", max_steps=3, verbosity_level=-1)
    return lambda: agent.run(QUESTION)


def _claude_agent_sdk(base_url: str) -> Callable[[], Any]:
    from claude_agent_sdk import ClaudeAgentOptions, create_sdk_mcp_server, query, tool

    @tool("get_weather", "Current weather for a city", {"city": str})
    async def weather(args: dict) -> dict:
        return {"content": [{"type": "text", "text": get_weather(args["city"])}]}

    options = ClaudeAgentOptions(
        model="claude-sonnet-tool",
        system_prompt=INSTRUCTIONS,
        mcp_servers={"weather": create_sdk_mcp_server("weather", tools=[weather])},
        tools=[],
        allowed_tools=["mcp__weather__get_weather"],
        env={
            "ANTHROPIC_BASE_URL": base_url.removesuffix("/v1"),
            "ANTHROPIC_API_KEY": "x",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            "ENABLE_TOOL_SEARCH": "false",
        },
    )

    async def run() -> None:
        async for _ in query(prompt=QUESTION, options=options):
            pass

    return _loop_runner(run)


def _google_adk(base_url: str) -> Callable[[], Any]:
    from google.adk.agents import LlmAgent
    from google.adk.models.google_llm import Gemini
    from google.adk.runners import InMemoryRunner
    from google.genai import types

    os.environ.setdefault("GOOGLE_API_KEY", "x")
    agent = LlmAgent(
        name="weather",
        model=Gemini(model=MODEL, base_url=base_url.removesuffix("/v1")),
        instruction=INSTRUCTIONS,
        tools=[get_weather],
    )
    runner = InMemoryRunner(agent=agent, app_name="bench")
    message = types.Content(role="user", parts=[types.Part(text=QUESTION)])

    async def run() -> None:
        session = await runner.session_service.create_session(app_name="bench", user_id="bench")
        async for _ in runner.run_async(user_id="bench", session_id=session.id, new_message=message):
            pass

    return _loop_runner(run)


def _crewai(base_url: str) -> Callable[[], Any]:
    from crewai import LLM, Agent, Crew, Process, Task
    from crewai.tools import tool

    reporter = Agent(
        role="Weather reporter",
        goal="Report the weather",
        backstory="You know the weather everywhere.",
        tools=[tool("get_weather")(get_weather)],
        llm=LLM(model=f"openai/{MODEL}", base_url=base_url, api_key="x"),
        max_iter=3,
    )
    task = Task(description=QUESTION, expected_output="The weather", agent=reporter)
    crew = Crew(agents=[reporter], tasks=[task], process=Process.sequential, name="weather crew")
    return crew.kickoff


def _strands(base_url: str) -> Callable[[], Any]:
    from strands import Agent, tool
    from strands.models.openai import OpenAIModel

    model = OpenAIModel(client_args={"base_url": base_url, "api_key": "x"}, model_id=MODEL)
    weather = tool(get_weather)

    def run() -> None:  # a new agent per run: an agent keeps its conversation
        Agent(
            model=model, tools=[weather], name="weather", system_prompt=INSTRUCTIONS, callback_handler=None
        )(QUESTION)

    return run


def _dspy(base_url: str) -> Callable[[], Any]:
    import dspy

    # ReAct chooses its tool in text fields (the model server answers DSPy's format): a plain chat model.
    lm = dspy.LM("openai/gpt-4o-mini", api_base=base_url, api_key="x", cache=False)
    agent = dspy.ReAct("question -> answer", tools=[get_weather], max_iters=5)

    def run() -> None:
        with dspy.context(lm=lm):
            agent(question=QUESTION)

    return run


def _autogen_agentchat(base_url: str) -> Callable[[], Any]:
    from autogen_agentchat.agents import AssistantAgent
    from autogen_core.models import ModelFamily
    from autogen_ext.models.openai import OpenAIChatCompletionClient

    info = {
        "vision": False,
        "function_calling": True,
        "json_output": False,
        "family": ModelFamily.UNKNOWN,
        "structured_output": False,
    }
    client = OpenAIChatCompletionClient(model=MODEL, base_url=base_url, api_key="x", model_info=info)

    async def run() -> None:  # a new agent per run: an agent keeps its model context
        agent = AssistantAgent(
            "weather",
            model_client=client,
            tools=[get_weather],
            system_message=INSTRUCTIONS,
            reflect_on_tool_use=True,
        )
        await agent.run(task=QUESTION)

    return _loop_runner(run)


SCENARIOS: dict[str, Callable[[str], Callable[[], Any]]] = {
    "openai-agents": _openai_agents,
    "pydantic-ai": _pydantic_ai,
    "agno": _agno,
    "ag2": _ag2,
    "smolagents": _smolagents,
    "claude-agent-sdk": _claude_agent_sdk,
    "google-adk": _google_adk,
    "crewai": _crewai,
    "strands": _strands,
    "dspy": _dspy,
    "autogen-agentchat": _autogen_agentchat,
}


# -- one variant, in this process ---------------------------------------------------------------------


def _load(path: str) -> Any:
    module, name = path.split(":")
    return getattr(__import__(module, fromlist=[name]), name)


def _prepare(framework: str) -> None:
    """What an app does anyway, before any instrumentation: product telemetry off."""
    os.environ.setdefault("AGNO_TELEMETRY", "false")
    os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")
    os.environ.setdefault("OPENAI_API_KEY", "x")
    if framework == "openai-agents":
        from agents import set_trace_processors

        set_trace_processors([])  # the SDK's exporter to OpenAI's backend: not part of any variant


def _instrument(framework: str, variant: str) -> None:
    spec = FRAMEWORKS[framework]
    if variant == "native":
        _NATIVE[0] = True
    elif variant == "genai_otel":
        import genai_otel

        genai_otel.instrument(only=spec.genai_otel)
    elif variant == "official":
        _load(spec.official)().instrument()  # type: ignore[arg-type]
    elif variant == "openinference" and spec.openinference == "pydantic-ai-own+openinference-span-processor":
        from openinference.instrumentation.pydantic_ai import OpenInferenceSpanProcessor
        from opentelemetry import trace
        from pydantic_ai import Agent

        trace.get_tracer_provider().add_span_processor(OpenInferenceSpanProcessor())  # type: ignore[attr-defined]
        Agent.instrument_all()
    elif variant == "openinference" and spec.openinference == "strands-own+openinference-span-processor":
        from openinference.instrumentation.strands_agents import StrandsAgentsToOpenInferenceProcessor
        from opentelemetry import trace

        trace.get_tracer_provider().add_span_processor(StrandsAgentsToOpenInferenceProcessor())  # type: ignore[attr-defined]
    elif variant == "openinference":
        _load(spec.openinference)().instrument()  # type: ignore[arg-type]


def measure(framework: str, variant: str, base_url: str, runs: int, rounds: int) -> dict[str, float]:
    install_sdk(with_metrics=True)
    _prepare(framework)
    _instrument(framework, variant)
    run = SCENARIOS[framework](base_url)
    for _ in range(3):  # warm-up: imports, connection pools, caches
        run()
    before = EXPORTED[0]
    samples = []
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(runs):
            run()
        samples.append((time.process_time() - start) / runs * 1000)
    spans = (EXPORTED[0] - before) / (runs * rounds)
    return {"cpu_ms": statistics.median(samples), "spans": spans}


# -- the table: every variant of every framework in its own process -----------------------------------


def _python_for(framework: str) -> str:
    packages = FRAMEWORKS[framework].venv_packages
    if packages is None:
        return sys.executable
    venv = CACHE / f"bench-{framework}-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating {venv} ({' '.join(packages)}) ...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *packages, "-e", str(REPO)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "-e", str(REPO)], check=True)
    return str(python)


def _variants(spec: Framework) -> dict[str, str]:
    variants = {"none": "no instrumentation", "genai_otel": "genai-otel"}
    if spec.openinference:
        variants["openinference"] = "OpenInference"
    if spec.official:
        variants["official"] = "official OpenTelemetry GenAI (openai-agents-v2)"
    if spec.native:
        variants["native"] = spec.native
    return variants


def _model_server() -> tuple[subprocess.Popen, str]:
    from genai_otel.testing.net import free_port, wait_for_port

    port = free_port()
    command = [sys.executable, "-m", "genai_otel.cli", "model-server", "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, 30, server)
    return server, f"http://127.0.0.1:{port}/v1"


def table(frameworks: list[str], runs: int, rounds: int) -> None:
    server, base_url = _model_server()
    try:
        print(f"median of {rounds} rounds x {runs} agent runs (model -> tool -> model), CPU ms per run\n")
        print("| framework | variant | CPU ms / run | overhead ms | x genai-otel overhead | spans / run |")
        print("|---|---|---:|---:|---:|---:|")
        for framework in frameworks:
            _framework_rows(framework, base_url, runs, rounds)
    finally:
        server.terminate()
        server.wait(10)


def _framework_rows(framework: str, base_url: str, runs: int, rounds: int) -> None:
    spec = FRAMEWORKS[framework]
    python = _python_for(framework)
    rows: dict[str, dict[str, float]] = {}
    for variant in _variants(spec):
        command = [python, __file__, "--child", framework, variant, base_url, str(runs), str(rounds)]
        done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-1:] or ["?"]
            print(f"| {framework} | {variant} | failed: {tail[0][:80]} | | | |", flush=True)
            continue
        rows[variant] = json.loads(done.stdout.strip().splitlines()[-1])
    base = rows.get("none", {}).get("cpu_ms")
    ours = rows["genai_otel"]["cpu_ms"] - base if base is not None and "genai_otel" in rows else None
    for variant, row in rows.items():
        over = row["cpu_ms"] - base if base is not None else float("nan")
        ratio = f"{over / ours:.2f}" if ours and variant != "none" else "-"
        label = _variants(spec)[variant]
        print(f"| {framework} | {label} | {row['cpu_ms']:.2f} | {over:+.2f} | {ratio} | {row['spans']:.1f} |")
    if spec.notes:
        print(f"| {framework} | note: {spec.notes} | | | | |")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        framework, variant, base_url, runs, rounds = args.child
        print(json.dumps(measure(framework, variant, base_url, int(runs), int(rounds))))
        return
    table([f for f in args.frameworks.split(",") if f], args.runs, args.rounds)


if __name__ == "__main__":
    main()
