"""Agents talking over queues: the consumer continues the producer's trace with the agent baggage.

Real Redis, NATS and RabbitMQ servers; Kafka through confluent-kafka's in-process mock cluster.
"""

from __future__ import annotations

import asyncio
import uuid

from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind

import genai_otel
from genai_otel import semconv as sc

from .servers import wait_until


def _fresh_context():
    """Run the consumer side as another service would: with nothing current."""
    return otel_context.attach(otel_context.Context())


def _assert_continued(otel, consumer_agent: str, producer_name: str, process_name: str):
    spans = otel.spans()
    by = {s.name: s for s in spans}
    supervisor, producer = by["invoke_agent supervisor"], by[producer_name]
    process, worker = by[process_name], by[f"invoke_agent {consumer_agent}"]
    assert producer.kind is SpanKind.PRODUCER and producer.parent.span_id == supervisor.context.span_id
    assert process.kind is SpanKind.CONSUMER
    assert process.parent.span_id == producer.context.span_id
    assert [link.context.span_id for link in process.links] == [producer.context.span_id]
    assert worker.parent.span_id == process.context.span_id
    assert worker.context.trace_id == supervisor.context.trace_id
    assert worker.attributes[sc.GENAI_OTEL_AGENT_PATH] == f"supervisor>{consumer_agent}"
    assert worker.attributes[sc.GEN_AI_CONVERSATION_ID] == "conv-q"
    # The hop count crossed too: a queue of the app's own (or a broker on a trusted network) is a trusted
    # peer, so the loop guard keeps counting across it.
    assert worker.attributes[sc.GENAI_OTEL_AGENT_HOPS] == 2
    return by


def _assert_same_trace(otel, consumer_agent: str) -> None:
    """For contrib-instrumented transports: the consumer's agent is in the supervisor's trace."""
    spans = otel.spans()
    supervisor = next(s for s in spans if s.name == "invoke_agent supervisor")
    consumer = next(s for s in spans if s.name == f"invoke_agent {consumer_agent}")
    assert consumer.context.trace_id == supervisor.context.trace_id
    assert consumer.attributes[sc.GEN_AI_CONVERSATION_ID] == "conv-q"


def test_redis_streams_sync(otel, redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    stream = f"tasks-{uuid.uuid4().hex[:6]}"
    fields = {"task": "summarise"}
    with genai_otel.agent("supervisor", conversation_id="conv-q"):
        entry_id = client.xadd(stream, fields)
    assert fields == {"task": "summarise"}  # the caller's dict is not modified
    token = _fresh_context()
    try:
        [[_name, entries]] = client.xread({stream: 0}, count=10)
        [(read_id, read_fields)] = entries
        assert read_id == entry_id and read_fields[b"task"] == b"summarise"
        with genai_otel.messaging.process("redis", stream, [read_fields]), genai_otel.agent("writer"):
            pass
    finally:
        otel_context.detach(token)
    by = _assert_continued(otel, "writer", f"xadd {stream}", f"process {stream}")
    producer = by[f"xadd {stream}"]
    assert producer.attributes[sc.MESSAGING_MESSAGE_ID] == entry_id.decode()
    assert producer.attributes[sc.MESSAGING_SYSTEM] == "redis"
    receive = by[f"xread {stream}"]
    assert receive.kind is SpanKind.CONSUMER and receive.links[0].context.span_id == producer.context.span_id


async def test_redis_streams_async_group_batch_links_every_message(otel, redis_url):
    import redis.asyncio as aredis

    client = aredis.Redis.from_url(redis_url, decode_responses=True)
    stream = f"jobs-{uuid.uuid4().hex[:6]}"
    await client.xgroup_create(stream, "workers", id="0", mkstream=True)
    for i in range(3):
        with genai_otel.agent(f"planner{i}"):
            await client.xadd(stream, {"n": str(i)})
    token = _fresh_context()
    try:
        reply = await client.xreadgroup("workers", "w1", {stream: ">"}, count=10)
        entries = reply[0][1] if isinstance(reply, list) else next(iter(reply.values()))[0]
        with genai_otel.messaging.process("redis", stream, [fields for _id, fields in entries]):
            pass
    finally:
        otel_context.detach(token)
        await client.aclose()
    spans = otel.spans()
    producers = [s for s in spans if s.name == f"xadd {stream}"]
    process = next(s for s in spans if s.name == f"process {stream}")
    receive = next(s for s in spans if s.name == f"xreadgroup {stream}")
    assert len(producers) == 3
    # Fan-in: a batch does not pick one producer as parent; it links all of them.
    assert process.parent is None
    assert {link.context.span_id for link in process.links} == {p.context.span_id for p in producers}
    assert process.attributes[sc.MESSAGING_BATCH_MESSAGE_COUNT] == 3
    assert receive.attributes[sc.MESSAGING_CONSUMER_GROUP_NAME] == "workers"


async def test_nats_publish_and_subscribe_callback(otel, nats_url):
    import nats

    nc = await nats.connect(nats_url)
    done = asyncio.Event()
    seen = {}

    async def on_message(msg):
        async with genai_otel.agent("critic"):
            seen["path"] = genai_otel.current_agent_path()
        done.set()

    subject = f"reviews.{uuid.uuid4().hex[:6]}"
    token = _fresh_context()
    try:
        await nc.subscribe(subject, cb=on_message)
    finally:
        otel_context.detach(token)
    with genai_otel.agent("supervisor", conversation_id="conv-q"):
        await nc.publish(subject, b"draft", headers={"x-app": "1"})
    await asyncio.wait_for(done.wait(), 10)
    await nc.drain()
    assert seen["path"] == "supervisor>critic"
    by = _assert_continued(otel, "critic", f"publish {subject}", f"process {subject}")
    assert by[f"publish {subject}"].attributes[sc.SERVER_PORT] > 0


def test_rabbitmq_pika_through_contrib_instrumentation(otel, amqp_url):
    import pika
    from opentelemetry.instrumentation.pika import PikaInstrumentor

    PikaInstrumentor().instrument()
    try:
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        channel = connection.channel()
        queue = f"research-{uuid.uuid4().hex[:6]}"
        channel.queue_declare(queue=queue)
        with genai_otel.agent("supervisor", conversation_id="conv-q"):
            channel.basic_publish(exchange="", routing_key=queue, body=b"question")
        seen = {}

        def on_message(ch, method, properties, body):
            with genai_otel.agent("researcher"):
                seen["path"] = genai_otel.current_agent_path()
            ch.basic_ack(method.delivery_tag)
            ch.stop_consuming()

        token = _fresh_context()
        try:
            channel.basic_consume(queue=queue, on_message_callback=on_message)
            channel.start_consuming()
        finally:
            otel_context.detach(token)
        connection.close()
    finally:
        PikaInstrumentor().uninstrument()
    assert seen["path"] == "supervisor>researcher"
    _assert_same_trace(otel, "researcher")


def test_kafka_headers_through_confluent_mock_cluster(otel):
    from confluent_kafka import Consumer, Producer
    from opentelemetry.instrumentation.confluent_kafka import ConfluentKafkaInstrumentor

    mock = {"test.mock.num.brokers": 1}
    topic = f"tasks-{uuid.uuid4().hex[:6]}"
    raw_producer = Producer(mock)  # its mock cluster lives as long as this client
    producer = ConfluentKafkaInstrumentor.instrument_producer(raw_producer)
    with genai_otel.agent("supervisor", conversation_id="conv-q"):
        producer.produce(topic, b"job", headers={"x-app": "1"})
    producer.flush(10)
    bootstrap = raw_producer.list_topics(timeout=10).orig_broker_name.split("/")[0]
    consumer = ConfluentKafkaInstrumentor.instrument_consumer(
        Consumer({"bootstrap.servers": bootstrap, "group.id": "g", "auto.offset.reset": "earliest"})
    )
    consumer.subscribe([topic])
    token = _fresh_context()
    try:
        message = None
        for _ in range(50):
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                break
        assert message is not None and message.value() == b"job"
        headers = dict(message.headers() or [])
        assert b"00-" in headers["traceparent"]
        with genai_otel.messaging.process("kafka", topic, [headers]), genai_otel.agent("worker"):
            pass
    finally:
        otel_context.detach(token)
        consumer.close()
    wait_until(lambda: any(s.name == "invoke_agent worker" for s in otel.spans()))
    spans = otel.spans()
    supervisor = next(s for s in spans if s.name == "invoke_agent supervisor")
    worker = next(s for s in spans if s.name == "invoke_agent worker")
    assert worker.context.trace_id == supervisor.context.trace_id
    assert worker.attributes[sc.GENAI_OTEL_AGENT_PATH] == "supervisor>worker"


async def test_rabbitmq_aio_pika_through_contrib_instrumentation(otel, amqp_url):
    import aio_pika
    from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor

    AioPikaInstrumentor().instrument()
    try:
        connection = await aio_pika.connect_robust(amqp_url)
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(f"drafts-{uuid.uuid4().hex[:6]}", auto_delete=True)
            with genai_otel.agent("supervisor", conversation_id="conv-q"):
                await channel.default_exchange.publish(aio_pika.Message(b"draft"), routing_key=queue.name)
            done = asyncio.Event()
            seen = {}

            async def on_message(message):
                async with message.process(), genai_otel.agent("editor"):
                    seen["path"] = genai_otel.current_agent_path()
                done.set()

            token = _fresh_context()
            try:
                await queue.consume(on_message)
            finally:
                otel_context.detach(token)
            await asyncio.wait_for(done.wait(), 10)
    finally:
        AioPikaInstrumentor().uninstrument()
    assert seen["path"] == "supervisor>editor"
    _assert_same_trace(otel, "editor")
