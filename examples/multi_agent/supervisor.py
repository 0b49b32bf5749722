"""The supervisor agent: fans out to the researcher (HTTP) and the writer (Redis Streams queue),
then fans the answers back in and writes the final reply. Prints the trace id."""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import httpx
import redis.asyncio as aredis

import genai_otel

from common import openai_client, setup_telemetry

TASKS, RESULTS = "writer.tasks", "writer.results"
SECTIONS = ("outline", "summary")


async def ask_researcher(question: str) -> dict:
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(f"{os.environ['RESEARCHER_URL']}/research", json={"question": question})
        response.raise_for_status()
        return response.json()


async def ask_writers(r: aredis.Redis, topic: str) -> list[dict]:
    task_ids = {}
    for section in SECTIONS:
        task_id = uuid.uuid4().hex
        task_ids[task_id] = section
        await r.xadd(TASKS, {"task_id": task_id, "section": section, "topic": topic})
    replies: list[dict] = []
    last_id, deadline = "0", time.monotonic() + 30
    while len(replies) < len(task_ids) and time.monotonic() < deadline:
        for _stream, entries in await r.xread({RESULTS: last_id}, count=50, block=200) or []:
            for entry_id, fields in entries:
                last_id = entry_id
                if fields.get("task_id") in task_ids:
                    replies.append(fields)
    if len(replies) < len(task_ids):
        raise TimeoutError("the writer did not answer in time")
    return replies


async def main() -> None:
    setup_telemetry("supervisor")
    client = openai_client(async_client=True)
    r = aredis.Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)
    topic = "How do agents in separate services share one trace?"
    async with genai_otel.agent("supervisor", conversation_id=f"conv-{uuid.uuid4().hex[:8]}") as run:
        trace_id = format(run.span.get_span_context().trace_id, "032x")
        research, drafts = await asyncio.gather(ask_researcher(topic), ask_writers(r, topic))
        # Fan-in: one process span linking every writer reply.
        with genai_otel.messaging.process("redis", RESULTS, drafts):
            combined = "\n".join([research["answer"], *(d["text"] for d in drafts)])
            final = await client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": f"Combine:\n{combined}"}]
            )
    await r.aclose()
    print(f"answer: {final.choices[0].message.content[:120]}")
    print(f"trace_id={trace_id}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
