"""A deliberately looping agent pair, to watch the loop guard stop a runaway conversation.

Two copies of this service call each other forever (ping -> pong -> ping ...). genai-otel counts
the agent hops in baggage across both services; with ``GENAI_OTEL_MAX_AGENT_HOPS=6`` and
``GENAI_OTEL_LOOP_GUARD_ACTION=raise`` the seventh hop raises ``genai_otel.AgentLoopError``, the
service answers 508 Loop Detected, and every span of the trace shows where it stopped.

    AGENT_NAME=ping PORT=8001 PEER_URL=http://127.0.0.1:8002 python looping_agent.py &
    AGENT_NAME=pong PORT=8002 PEER_URL=http://127.0.0.1:8001 python looping_agent.py &
    curl -X POST http://127.0.0.1:8001/ask
"""

from __future__ import annotations

import os

import httpx
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

import genai_otel

from common import setup_telemetry

NAME, PEER = os.environ["AGENT_NAME"], os.environ["PEER_URL"]
LOOP_DETECTED = 508

setup_telemetry(NAME)
app = FastAPI()


class PeerStopped(Exception):
    """The peer reported that the loop guard stopped the run."""


@app.post("/ask")
async def ask() -> JSONResponse:
    try:
        async with genai_otel.agent(NAME, description="Asks its peer, forever"):
            async with httpx.AsyncClient(timeout=30) as http:
                response = await http.post(f"{PEER}/ask")
            if response.status_code == LOOP_DETECTED:
                raise PeerStopped(response.json()["error"])
            return JSONResponse(response.json())
    except (genai_otel.AgentLoopError, PeerStopped) as stop:
        return JSONResponse({"error": str(stop), "stopped_at": NAME}, status_code=LOOP_DETECTED)


FastAPIInstrumentor.instrument_app(app)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["PORT"]), log_level="warning")
