"""Claude Agent SDK (``claude_agent_sdk``): ``query()`` and ``ClaudeSDKClient`` sessions as GenAI spans.

The SDK drives the Claude Code CLI in a subprocess; the model calls and built-in tools happen there.
Each SDK ``Query`` (one per ``query()`` call or client connection) gets a :class:`ClaudeSession` that
reads the CLI's stream as it arrives and listens to its tool and sub-agent hooks (added next to the
application's own, which keep working unchanged): see :mod:`._session` for the span tree.

Patched: ``Query.__init__`` (the session and its hooks), the subprocess transport's ``write`` (a user
prompt starts a turn, in the caller's context) and ``read_messages`` (the stream). A custom ``Transport``
passed by the application is not observed.

SDK MCP tools run in this process: the SDK's MCP request handler is wrapped so that a ``tools/call``
carries its ``execute_tool`` span's trace context in ``_meta`` (the MCP SDK's server span and the tool's
own spans continue our trace) and ``tools/list`` gives the tool definitions; ``create_sdk_mcp_server``
wraps each tool's handler, which records the exception type of a failing tool (the CLI only gets its
text) and, with an MCP SDK that does not read ``_meta``, makes the ``execute_tool`` span current.

The CLI can export OpenTelemetry spans of its own (``CLAUDE_CODE_ENABLE_TELEMETRY`` with its beta
tracing, parented by ``TRACEPARENT``): ``claude_code.interaction`` / ``llm_request`` / ``tool`` describe
the same turns, model calls and tools as ours, so while a session is traced the CLI's span export is
turned off (``OTEL_TRACES_EXPORTER=none`` in its environment). Its metrics and log events are left as
configured.
"""

from __future__ import annotations

import dataclasses
import json
import os
import weakref
from collections.abc import AsyncIterator, Iterable
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

from genai_otel.instrumentation._base import GenAIInstrumentor, Patch
from genai_otel.instrumentation.claude_agent_sdk import _mapping as m
from genai_otel.instrumentation.claude_agent_sdk._session import (
    CURRENT_SESSION,
    HOOK_EVENTS,
    ClaudeSession,
    SessionConfig,
    tool_failed,
)
from genai_otel.safety import report_internal_error, safely
from genai_otel.telemetry import TelemetryHandler

_QUERY = "claude_agent_sdk._internal.query"
_TRANSPORT = "claude_agent_sdk._internal.transport.subprocess_cli"
# Where the CLI's own span export is switched off (see the module doc).
_CLI_TRACES_OFF = {"OTEL_TRACES_EXPORTER": "none"}


class ClaudeAgentSDKInstrumentor(GenAIInstrumentor):
    """Instruments ``claude_agent_sdk`` (``query()``, ``ClaudeSDKClient``, SDK MCP tools)."""

    # 0.1.31: query() always speaks the streaming protocol (initialize, hooks, prompts written to stdin).
    dependencies = ("claude-agent-sdk >= 0.1.31",)

    def patches(self) -> Iterable[Patch]:
        # Sessions of this instrumentation, by the transport they read (the SDK client writes its
        # prompts to the transport directly, so the transport is what both directions share).
        self._sessions: weakref.WeakKeyDictionary[Any, ClaudeSession] = weakref.WeakKeyDictionary()
        yield Patch(_QUERY, "Query.__init__", self._query_init)
        yield Patch(_QUERY, "Query._handle_sdk_mcp_request", self._mcp_request)
        yield Patch(_TRANSPORT, "SubprocessCLITransport.__init__", lambda h: _transport_init)
        yield Patch(_TRANSPORT, "SubprocessCLITransport.write", self._write)
        yield Patch(_TRANSPORT, "SubprocessCLITransport.read_messages", self._read_messages)
        yield Patch("claude_agent_sdk", "create_sdk_mcp_server", lambda h: _create_server)

    def _uninstrument(self, **kwargs: Any) -> None:
        for session in list(getattr(self, "_sessions", {}).values()):
            safely("claude_agent_sdk.close", session.close)
        super()._uninstrument(**kwargs)

    def _query_init(self, handler: TelemetryHandler) -> Any:
        def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
            session = None
            try:
                transport = kwargs.get("transport", args[0] if args else None)
                if transport is not None and len(args) < 4:  # the SDK passes hooks by keyword
                    session = ClaudeSession(handler, _config(transport, kwargs.get("agents")))
                    kwargs = {**kwargs, "hooks": _with_hooks(kwargs.get("hooks"), session)}
                    self._sessions[transport] = session
            except Exception:
                report_internal_error("claude_agent_sdk.query")
            return wrapped(*args, **kwargs)

        return wrapper

    def _mcp_request(self, handler: TelemetryHandler) -> Any:
        async def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
            session = self._sessions.get(getattr(instance, "transport", None))
            if session is not None and len(args) == 2:
                args = (
                    args[0],
                    safely("claude_agent_sdk.mcp", _with_trace_context, session, *args) or args[1],
                )
            # The SDK starts an MCP server's task on its first request, from here: the task (and the
            # tools it runs) inherit which session they serve.
            token = CURRENT_SESSION.set(session)
            try:
                response = await wrapped(*args, **kwargs)
            finally:
                CURRENT_SESSION.reset(token)
            if session is not None and len(args) == 2 and args[1].get("method") == "tools/list":
                safely("claude_agent_sdk.tools", _on_tools_listed, session, args[0], response)
            return response

        return wrapper

    def _write(self, handler: TelemetryHandler) -> Any:
        def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
            session = self._sessions.get(instance)
            data = args[0] if args else kwargs.get("data")
            if session is not None and isinstance(data, str) and '"user"' in data:
                safely("claude_agent_sdk.prompt", _on_prompt, session, data)
            return wrapped(*args, **kwargs)

        return wrapper

    def _read_messages(self, handler: TelemetryHandler) -> Any:
        def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
            stream = wrapped(*args, **kwargs)
            session = self._sessions.get(instance)
            return stream if session is None else _ObservedStream(stream, session)

        return wrapper


def _config(transport: Any, agents: Any) -> SessionConfig:
    options = getattr(transport, "_options", None)
    return SessionConfig(
        model=getattr(options, "model", None),
        provider=m.provider_of(getattr(options, "env", None) or {}),
        system_prompt=getattr(options, "system_prompt", None),
        max_turns=getattr(options, "max_turns", None),
        agents=dict(agents) if isinstance(agents, dict) else {},
    )


def _with_hooks(hooks: Any, session: ClaudeSession) -> dict[str, list[dict[str, Any]]]:
    """The application's hooks (in the SDK's internal shape) plus the session's, as a new dict."""

    async def on_hook(data: Any, tool_use_id: str | None, context: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            return {}
        return safely("claude_agent_sdk.hook", session.on_hook, data, tool_use_id) or {}

    merged = {event: list(matchers) for event, matchers in (hooks or {}).items()}
    for event in HOOK_EVENTS:
        merged.setdefault(event, []).append({"matcher": None, "hooks": [on_hook]})
    return merged


def _on_prompt(session: ClaudeSession, data: str) -> None:
    message = json.loads(data)
    if isinstance(message, dict) and message.get("type") == "user":
        session.on_prompt(message)


def _transport_init(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    try:
        options = kwargs.get("options")
        if options is not None and _cli_exports_traces(options.env):
            kwargs = {
                **kwargs,
                "options": dataclasses.replace(options, env={**options.env, **_CLI_TRACES_OFF}),
            }
    except Exception:
        report_internal_error("claude_agent_sdk.transport")
    return wrapped(*args, **kwargs)


def _cli_exports_traces(env: dict[str, str]) -> bool:
    """The CLI would export spans: telemetry on (its options' env over ours) and a traces exporter set."""

    def setting(name: str) -> str:
        return str(env.get(name, os.environ.get(name, ""))).strip().lower()

    telemetry_on = setting("CLAUDE_CODE_ENABLE_TELEMETRY") in ("1", "true")
    return telemetry_on and setting("OTEL_TRACES_EXPORTER") not in ("", "none")


def _create_server(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    """Each tool's handler is wrapped by :func:`_traced_handler`."""
    try:
        name = args[0] if args else kwargs["name"]
        tools = list(args[2] if len(args) > 2 else kwargs.get("tools") or [])
        traced = [
            dataclasses.replace(t, handler=_traced_handler(f"mcp__{name}__{t.name}", t.handler))
            for t in tools
        ]
        if len(args) > 2:
            args = (*args[:2], traced, *args[3:])
        else:
            kwargs = {**kwargs, "tools": traced}
    except Exception:
        report_internal_error("claude_agent_sdk.create_sdk_mcp_server")
    return wrapped(*args, **kwargs)


def _on_tools_listed(session: ClaudeSession, server: str, response: Any) -> None:
    tools = ((response or {}).get("result") or {}).get("tools")
    if isinstance(tools, list):
        session.add_mcp_tools(server, tools)


def _with_trace_context(session: ClaudeSession, server: str, message: dict[str, Any]) -> dict[str, Any]:
    """A ``tools/call`` for a traced tool carries its span's trace context in ``_meta``, where the MCP
    SDK (2.x) picks it up: its server span, and the tool's own spans, continue our trace."""
    params = message.get("params") if message.get("method") == "tools/call" else None
    call = session.tool_call(f"mcp__{server}__{params.get('name')}") if isinstance(params, dict) else None
    if call is None:
        return message
    meta = dict(params.get("_meta") or {})
    propagate.inject(meta, context=call[1])
    return {**message, "params": {**params, "_meta": meta}}


def _traced_handler(tool_name: str, handler: Any) -> Any:
    async def traced(arguments: Any) -> Any:
        session = CURRENT_SESSION.get()
        call = safely("claude_agent_sdk.tool", session.tool_call, tool_name) if session is not None else None
        if call is None:
            return await handler(arguments)
        inv, context = call
        # Under the MCP server span when the MCP SDK continued our trace; else directly under ours.
        ours = inv.span.get_span_context().trace_id if inv.span is not None else None
        continued = trace.get_current_span().get_span_context().trace_id == ours
        token = None if continued else otel_context.attach(context)
        try:
            return await handler(arguments)
        except Exception as error:
            tool_failed(inv, error)
            raise
        finally:
            if token is not None:
                otel_context.detach(token)

    return traced


class _ObservedStream:
    """The transport's message stream, each message shown to the session before the SDK routes it."""

    def __init__(self, stream: AsyncIterator[dict[str, Any]], session: ClaudeSession) -> None:
        self._stream = stream
        self._session = session

    def __aiter__(self) -> _ObservedStream:
        return self

    async def __anext__(self) -> dict[str, Any]:
        try:
            message = await self._stream.__anext__()
        except StopAsyncIteration:
            safely("claude_agent_sdk.close", self._session.close)
            raise
        except Exception as error:
            safely("claude_agent_sdk.close", self._session.close, error)
            raise
        except BaseException:  # cancelled: the application stopped reading, not a failure
            safely("claude_agent_sdk.close", self._session.close)
            raise
        if isinstance(message, dict):
            safely("claude_agent_sdk.message", self._session.on_message, message)
        return message

    async def aclose(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            await close()
