"""Vector stores with their real client libraries (embedded stores in-process): conformant database
spans for reads and writes; content (query text, ids, scores) only under content capture."""

from __future__ import annotations

import json
import uuid

import pytest

from genai_otel import semconv as sc
from genai_otel.config import ContentCapture

DIM = 8


def vec(seed: int) -> list[float]:
    return [((seed * 7 + i * 3) % 11) / 10.0 for i in range(DIM)]


def _span(otel, name: str):
    [span] = [s for s in otel.spans() if s.name == name]
    return span


def _assert_no_content(otel) -> None:
    for span in otel.spans():
        assert sc.GEN_AI_RETRIEVAL_DOCUMENTS not in span.attributes
        assert sc.GEN_AI_RETRIEVAL_QUERY_TEXT not in span.attributes


# -- Chroma ---------------------------------------------------------------------------------------


@pytest.fixture
def chroma_collection(monkeypatch):
    monkeypatch.setenv("ANONYMIZED_TELEMETRY", "False")
    import chromadb

    client = chromadb.EphemeralClient()
    name = f"docs_{uuid.uuid4().hex[:8]}"
    return client.create_collection(name, embedding_function=None)


def _chroma_fill(collection) -> None:
    collection.add(
        ids=["a", "b", "c"],
        embeddings=[vec(1), vec(2), vec(3)],
        documents=["x", "y", "z"],
        metadatas=[{"k": 1}, {"k": 2}, {"k": 3}],
    )


def test_chroma_reads_and_writes(otel, chroma_collection):
    _chroma_fill(chroma_collection)
    chroma_collection.query(query_embeddings=[vec(1)], n_results=2, where={"k": {"$ne": 3}})
    chroma_collection.get(ids=["a"])
    chroma_collection.delete(ids=["c"])
    name = chroma_collection.name
    add = _span(otel, f"add {name}")
    assert add.attributes[sc.DB_SYSTEM_NAME] == "chroma"
    assert (
        add.attributes[sc.DB_OPERATION_BATCH_SIZE] == 3
        and add.attributes[sc.GENAI_OTEL_VECTOR_DIMENSION] == DIM
    )
    query = _span(otel, f"query {name}")
    assert query.attributes[sc.GEN_AI_RETRIEVAL_TOP_K] == 2
    assert query.attributes[sc.DB_RESPONSE_RETURNED_ROWS] == 2
    assert query.attributes[sc.DB_NAMESPACE] == "default_database"
    assert query.attributes[sc.GENAI_OTEL_VECTOR_FILTERED] is True
    assert _span(otel, f"get {name}").attributes[sc.DB_RESPONSE_RETURNED_ROWS] == 1
    assert _span(otel, f"delete {name}").attributes[sc.DB_OPERATION_BATCH_SIZE] == 1
    _assert_no_content(otel)
    assert "db.client.operation.duration" in otel.metrics()


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_chroma_content_capture(otel, chroma_collection):
    _chroma_fill(chroma_collection)
    chroma_collection.query(query_embeddings=[vec(2)], n_results=2)
    docs = json.loads(
        _span(otel, f"query {chroma_collection.name}").attributes[sc.GEN_AI_RETRIEVAL_DOCUMENTS]
    )
    assert docs[0] == {"id": "b", "score": 0.0}
    assert len(docs) == 2


# -- Qdrant (local mode) ----------------------------------------------------------------------------


@pytest.fixture
def qdrant(otel):
    from qdrant_client import QdrantClient, models

    client = QdrantClient(":memory:")
    client.create_collection(
        "kb", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE)
    )
    return client, models


def test_qdrant_reads_and_writes(otel, qdrant):
    client, models = qdrant
    client.upsert(
        "kb", points=[models.PointStruct(id=i, vector=vec(i), payload={"k": i}) for i in range(1, 4)]
    )
    found = client.query_points(
        "kb",
        query=vec(1),
        limit=2,
        query_filter=models.Filter(must=[models.FieldCondition(key="k", range=models.Range(lt=3))]),
    )
    assert len(found.points) == 2
    records, _ = client.scroll("kb", limit=10)
    assert len(records) == 3
    client.retrieve("kb", ids=[1, 2])
    client.delete("kb", points_selector=models.PointIdsList(points=[3]))
    upsert = _span(otel, "upsert kb")
    assert upsert.attributes[sc.DB_SYSTEM_NAME] == "qdrant"
    assert (
        upsert.attributes[sc.DB_OPERATION_BATCH_SIZE] == 3
        and upsert.attributes[sc.GENAI_OTEL_VECTOR_DIMENSION] == DIM
    )
    query = _span(otel, "query_points kb")
    a = query.attributes
    assert (
        a[sc.GEN_AI_RETRIEVAL_TOP_K],
        a[sc.DB_RESPONSE_RETURNED_ROWS],
        a[sc.GENAI_OTEL_VECTOR_FILTERED],
    ) == (2, 2, True)
    assert sc.SERVER_ADDRESS not in a  # local mode runs in-process
    assert _span(otel, "scroll kb").attributes[sc.DB_RESPONSE_RETURNED_ROWS] == 3
    assert _span(otel, "retrieve kb").attributes[sc.DB_RESPONSE_RETURNED_ROWS] == 2
    assert _span(otel, "delete kb").attributes[sc.DB_OPERATION_BATCH_SIZE] == 1
    _assert_no_content(otel)


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_qdrant_content_capture(otel, qdrant):
    client, models = qdrant
    client.upsert("kb", points=[models.PointStruct(id=i, vector=vec(i)) for i in range(1, 4)])
    client.query_points("kb", query=vec(2), limit=1)
    [doc] = json.loads(_span(otel, "query_points kb").attributes[sc.GEN_AI_RETRIEVAL_DOCUMENTS])
    assert doc["id"] == "2" and doc["score"] == pytest.approx(1.0)


async def test_qdrant_async(otel):
    from qdrant_client import AsyncQdrantClient, models

    client = AsyncQdrantClient(":memory:")
    await client.create_collection(
        "kb", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT)
    )
    await client.upsert("kb", points=[models.PointStruct(id=1, vector=vec(1))])
    result = await client.query_points("kb", query=vec(1), limit=5)
    assert len(result.points) == 1
    assert _span(otel, "query_points kb").attributes[sc.DB_RESPONSE_RETURNED_ROWS] == 1


# -- FAISS ----------------------------------------------------------------------------------------


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_faiss(otel):
    import faiss
    import numpy as np

    index = faiss.IndexIDMap(faiss.IndexFlatL2(DIM))
    data = np.array([vec(i) for i in range(1, 5)], dtype="float32")
    index.add_with_ids(data, np.array([10, 20, 30, 40], dtype="int64"))
    _distances, labels = index.search(data[:1], 3)
    assert labels[0][0] == 10
    index.remove_ids(np.array([40], dtype="int64"))
    add = _span(otel, "add_with_ids IndexIDMap")
    assert (
        add.attributes[sc.DB_OPERATION_BATCH_SIZE] == 4
        and add.attributes[sc.GENAI_OTEL_VECTOR_DIMENSION] == DIM
    )
    search = _span(otel, "search IndexIDMap")
    assert (
        search.attributes[sc.GEN_AI_RETRIEVAL_TOP_K],
        search.attributes[sc.DB_RESPONSE_RETURNED_ROWS],
    ) == (3, 3)
    docs = json.loads(search.attributes[sc.GEN_AI_RETRIEVAL_DOCUMENTS])
    assert docs[0] == {"id": "10", "score": 0.0}
    assert _span(otel, "remove_ids IndexIDMap").attributes[sc.DB_OPERATION_BATCH_SIZE] == 1


# -- LanceDB --------------------------------------------------------------------------------------


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_lancedb(otel, tmp_path):
    import lancedb

    db = lancedb.connect(tmp_path / "lance")
    table = db.create_table("notes", data=[{"id": 0, "vector": vec(0), "text": "seed"}])
    table.add([{"id": i, "vector": vec(i), "text": f"note {i}"} for i in range(1, 4)])
    rows = table.search(vec(2)).where("id > 0").limit(2).to_list()
    assert rows[0]["id"] == 2
    table.delete("id = 3")
    add = _span(otel, "add notes")
    assert (
        add.attributes[sc.DB_OPERATION_BATCH_SIZE] == 3
        and add.attributes[sc.GENAI_OTEL_VECTOR_DIMENSION] == DIM
    )
    search = _span(otel, "search notes")
    a = search.attributes
    assert (
        a[sc.GEN_AI_RETRIEVAL_TOP_K],
        a[sc.DB_RESPONSE_RETURNED_ROWS],
        a[sc.GENAI_OTEL_VECTOR_FILTERED],
    ) == (2, 2, True)
    assert json.loads(a[sc.GEN_AI_RETRIEVAL_DOCUMENTS])[0] == {"id": "2", "score": 0.0}
    assert _span(otel, "delete notes").attributes[sc.GENAI_OTEL_VECTOR_FILTERED] is True


# -- Milvus Lite ----------------------------------------------------------------------------------


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_milvus_lite(otel, tmp_path):
    from pymilvus import MilvusClient

    client = MilvusClient(str(tmp_path / "milvus.db"))
    client.create_collection("facts", dimension=DIM)
    client.insert("facts", [{"id": i, "vector": vec(i), "text": f"fact {i}"} for i in range(1, 4)])
    hits = client.search("facts", data=[vec(2)], limit=2, filter="id > 0")
    assert hits[0][0]["id"] == 2
    assert len(client.query("facts", filter="id >= 1", limit=10)) == 3
    client.delete("facts", ids=[3])
    client.close()
    insert = _span(otel, "insert facts")
    assert insert.attributes[sc.DB_SYSTEM_NAME] == "milvus"
    assert (
        insert.attributes[sc.DB_OPERATION_BATCH_SIZE] == 3
        and insert.attributes[sc.GENAI_OTEL_VECTOR_DIMENSION] == DIM
    )
    search = _span(otel, "search facts")
    a = search.attributes
    assert (
        a[sc.GEN_AI_RETRIEVAL_TOP_K],
        a[sc.DB_RESPONSE_RETURNED_ROWS],
        a[sc.GENAI_OTEL_VECTOR_FILTERED],
    ) == (2, 2, True)
    assert json.loads(a[sc.GEN_AI_RETRIEVAL_DOCUMENTS])[0]["id"] == "2"
    assert _span(otel, "query facts").attributes[sc.DB_RESPONSE_RETURNED_ROWS] == 3
    assert _span(otel, "delete facts").attributes[sc.DB_OPERATION_BATCH_SIZE] == 1


# -- pgvector on a real PostgreSQL ------------------------------------------------------------------


def test_pgvector_through_psycopg(otel, postgres_dsn):
    import numpy as np
    import psycopg
    from pgvector.psycopg import register_vector

    table = f"items_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(conn)
        conn.execute(f"CREATE TABLE {table} (id bigint PRIMARY KEY, embedding vector({DIM}))")
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {table} (id, embedding) VALUES (%s, %s)",
                [(i, np.array(vec(i), dtype=np.float32)) for i in range(1, 5)],
            )
            cur.execute(
                f"SELECT id FROM {table} WHERE id > %s ORDER BY embedding <-> %s LIMIT 2",
                (0, np.array(vec(2), dtype=np.float32)),
            )
            assert cur.fetchall()[0][0] == 2
        conn.execute("SELECT 1")  # not a vector statement: no span
    insert = _span(otel, f"INSERT {table}")
    assert insert.attributes[sc.DB_SYSTEM_NAME] == "postgresql"
    assert (
        insert.attributes[sc.DB_OPERATION_BATCH_SIZE] == 4
        and insert.attributes[sc.GENAI_OTEL_VECTOR_DIMENSION] == DIM
    )
    select = _span(otel, f"SELECT {table}")
    a = select.attributes
    assert (
        a[sc.GEN_AI_RETRIEVAL_TOP_K],
        a[sc.DB_RESPONSE_RETURNED_ROWS],
        a[sc.GENAI_OTEL_VECTOR_FILTERED],
    ) == (2, 2, True)
    assert a[sc.DB_NAMESPACE] == "postgres" and a[sc.SERVER_ADDRESS] == "127.0.0.1"
    assert len(otel.spans()) == 2


# -- Pinecone (its real SDK against a minimal local data-plane server) ----------------------------


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_pinecone(otel):
    from pinecone import Pinecone

    from genai_otel.instrumentation.pinecone import _index_name

    from .fake_pinecone import FakePinecone

    assert _index_name("docs-a1b2c3d.svc.aped-4627.pinecone.io") == "docs"
    with FakePinecone() as server:
        index = Pinecone(api_key="pc-test").Index(host=server.url)
        index.upsert(vectors=[(f"v{i}", vec(i)) for i in range(1, 4)], namespace="docs")
        result = index.query(top_k=2, vector=vec(2), namespace="docs", filter={"genre": "x"})
        assert result.matches[0].id == "v2"
        assert list(index.fetch(ids=["v1"], namespace="docs").vectors) == ["v1"]
        index.delete(ids=["v3"], namespace="docs")
    upsert = _span(otel, "upsert")
    assert upsert.attributes[sc.DB_SYSTEM_NAME] == "pinecone" and upsert.attributes[sc.DB_NAMESPACE] == "docs"
    assert (
        upsert.attributes[sc.DB_OPERATION_BATCH_SIZE] == 3
        and upsert.attributes[sc.GENAI_OTEL_VECTOR_DIMENSION] == DIM
    )
    query = _span(otel, "query")
    a = query.attributes
    assert (
        a[sc.GEN_AI_RETRIEVAL_TOP_K],
        a[sc.DB_RESPONSE_RETURNED_ROWS],
        a[sc.GENAI_OTEL_VECTOR_FILTERED],
    ) == (2, 2, True)
    assert json.loads(a[sc.GEN_AI_RETRIEVAL_DOCUMENTS])[0] == {"id": "v2", "score": 1.0}
    assert _span(otel, "fetch").attributes[sc.DB_RESPONSE_RETURNED_ROWS] == 1
    assert _span(otel, "delete").attributes[sc.DB_OPERATION_BATCH_SIZE] == 1


# -- Weaviate (its real client against a minimal local REST + gRPC server) ------------------------


@pytest.mark.genai_settings(content_capture=ContentCapture.SPAN_ONLY)
def test_weaviate(otel):
    import weaviate
    from weaviate.classes.data import DataObject
    from weaviate.classes.query import Filter, MetadataQuery

    from .fake_weaviate import FakeWeaviate

    with FakeWeaviate() as server:
        client = weaviate.connect_to_custom(
            "127.0.0.1", server.http_port, False, "127.0.0.1", server.grpc_port, False, skip_init_checks=True
        )
        try:
            docs = client.collections.get("Docs")
            docs.data.insert_many([DataObject(properties={"t": f"d{i}"}, vector=vec(i)) for i in range(1, 4)])
            found = docs.query.near_vector(vec(2), limit=2, return_metadata=MetadataQuery(distance=True))
            assert len(found.objects) == 2
            assert len(docs.query.fetch_objects(limit=10).objects) == 3
            docs.data.delete_many(where=Filter.by_property("t").like("*"))
        finally:
            client.close()
    insert = _span(otel, "insert_many Docs")
    assert insert.attributes[sc.DB_SYSTEM_NAME] == "weaviate"
    assert (
        insert.attributes[sc.DB_OPERATION_BATCH_SIZE] == 3
        and insert.attributes[sc.GENAI_OTEL_VECTOR_DIMENSION] == DIM
    )
    near = _span(otel, "near_vector Docs")
    a = near.attributes
    assert (a[sc.GEN_AI_RETRIEVAL_TOP_K], a[sc.DB_RESPONSE_RETURNED_ROWS]) == (2, 2)
    assert json.loads(a[sc.GEN_AI_RETRIEVAL_DOCUMENTS])[0]["score"] == pytest.approx(0.0, abs=1e-6)
    assert _span(otel, "fetch_objects Docs").attributes[sc.DB_RESPONSE_RETURNED_ROWS] == 3
    assert _span(otel, "delete_many Docs").attributes[sc.GENAI_OTEL_VECTOR_FILTERED] is True


# -- async clients --------------------------------------------------------------------------------


async def test_pgvector_async_cursor(otel, postgres_dsn):
    import numpy as np
    import psycopg
    from pgvector.psycopg import register_vector_async

    table = f"aitems_{uuid.uuid4().hex[:6]}"
    async with await psycopg.AsyncConnection.connect(postgres_dsn, autocommit=True) as conn:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        await register_vector_async(conn)
        await conn.execute(f"CREATE TABLE {table} (id bigint PRIMARY KEY, embedding vector({DIM}))")
        async with conn.cursor() as cur:
            await cur.executemany(
                f"INSERT INTO {table} (id, embedding) VALUES (%s, %s)",
                [(i, np.array(vec(i), dtype=np.float32)) for i in range(1, 4)],
            )
            await cur.execute(
                f"SELECT id FROM {table} ORDER BY embedding <=> %s LIMIT 1", (np.array(vec(3)),)
            )
            assert (await cur.fetchone())[0] == 3
    assert _span(otel, f"INSERT {table}").attributes[sc.DB_OPERATION_BATCH_SIZE] == 3
    assert _span(otel, f"SELECT {table}").attributes[sc.DB_RESPONSE_RETURNED_ROWS] == 1


async def test_pinecone_asyncio(otel):
    from pinecone import PineconeAsyncio

    from .fake_pinecone import FakePinecone

    with FakePinecone() as server:
        pc = PineconeAsyncio(api_key="pc-test")
        async with pc, pc.IndexAsyncio(host=server.url) as index:
            await index.upsert(vectors=[(f"v{i}", vec(i)) for i in range(1, 3)], namespace="docs")
            result = await index.query(top_k=1, vector=vec(1), namespace="docs")
    assert result.matches[0].id == "v1"
    assert _span(otel, "query").attributes[sc.DB_RESPONSE_RETURNED_ROWS] == 1
    assert _span(otel, "upsert").attributes[sc.DB_OPERATION_BATCH_SIZE] == 2


def test_pgvector_executemany_with_a_generator_is_untouched(otel, postgres_dsn):
    import numpy as np
    import psycopg
    from pgvector.psycopg import register_vector

    table = f"gitems_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(conn)
        conn.execute(f"CREATE TABLE {table} (id bigint PRIMARY KEY, embedding vector({DIM}))")
        with conn.cursor() as cur:
            rows = ((i, np.array(vec(i), dtype=np.float32)) for i in range(1, 4))  # a generator
            cur.executemany(f"INSERT INTO {table} (id, embedding) VALUES (%s, %s::vector)", rows)
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 3  # every row arrived
