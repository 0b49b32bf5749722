"""The writer agent: a worker consuming tasks from a Redis Stream and replying on another.

genai-otel's Redis Streams instrumentation puts the trace context and agent baggage into each
entry; ``genai_otel.messaging.process`` continues the supervisor's trace for every task.
"""

from __future__ import annotations

import contextlib
import os

import redis

import genai_otel

from common import chat, openai_client, setup_telemetry

TASKS, RESULTS, GROUP = "writer.tasks", "writer.results", "writers"


def main() -> None:
    setup_telemetry("writer")
    client = openai_client()
    r = redis.Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)
    with contextlib.suppress(redis.ResponseError):  # the group exists already
        r.xgroup_create(TASKS, GROUP, id="0", mkstream=True)
    print("writer ready", flush=True)
    while True:
        for _stream, entries in r.xreadgroup(GROUP, "writer-1", {TASKS: ">"}, count=10, block=200) or []:
            for entry_id, fields in entries:
                with genai_otel.messaging.process("redis", TASKS, [fields]):
                    with genai_otel.agent("writer", description="Writes one section"):
                        text = chat(client, f"Write the {fields['section']} about: {fields['topic']}")
                    r.xadd(RESULTS, {"task_id": fields["task_id"], "text": text})
                r.xack(TASKS, GROUP, entry_id)


if __name__ == "__main__":
    main()
