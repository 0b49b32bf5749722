"""The bad-input matrix (tests/reliability/bad_input.py) in its small form: every hostile input gets a
clear answer at bounded memory and threads, the processor stays up and quiet, nothing acknowledged is
lost."""

from __future__ import annotations

import pytest

from .bad_input import scenarios


@pytest.fixture(scope="module")
def rows() -> dict[str, dict]:
    return {row["scenario"].split(" (")[0].split(":")[0]: row for row in scenarios(full=False)}


def test_every_bad_input_gets_a_clear_answer_and_the_processor_survives(rows):
    for name, row in rows.items():
        assert row.get("alive", True), name
        assert "no answer" not in row["answer"], name
    expected = {
        "valid request": "OK / HTTP 200 OK",
        "malformed protobuf": "INVALID_ARGUMENT / HTTP 400 Bad Request",
        "truncated protobuf": "INVALID_ARGUMENT / HTTP 400 Bad Request",
        "truncated gzip body": "HTTP 400 Bad Request",
        "gzip bomb": "HTTP 413 Request Entity Too Large",
        "protobuf bomb": "HTTP 413 Request Entity Too Large / INVALID_ARGUMENT",
        "3 protobuf bombs at once": "3x HTTP 413 Request Entity Too Large",
        "JSON nested 10,000 deep": "HTTP 400 Bad Request",
        "kvlist attribute nested 200 deep": "OK / HTTP 200 OK",
        "kvlist attribute nested 5,000 deep": "INVALID_ARGUMENT / HTTP 400 Bad Request",
        "huge attribute": "OK / HTTP 200 OK",
        "invalid UTF-8 in a string": "INVALID_ARGUMENT / HTTP 400 Bad Request",
        "wrong-length trace/span ids": "OK / HTTP 200 OK",
        "body stops half-way": "HTTP 408 Request Timeout",
        "processor exit after the matrix": "exit code 0",
    }
    for name, answer in expected.items():
        assert rows[name]["answer"] == answer, (name, rows[name])


def test_bombs_cost_no_memory(rows):
    # items are counted from the wire: a 300,000-span bomb is refused before anything is decoded
    for name in ("protobuf bomb", "3 protobuf bombs at once"):
        assert rows[name]["peak_rss_mb"] < 150, rows[name]


def test_deep_values_are_delivered(rows):
    assert rows["kvlist attribute nested 200 deep"]["delivered"] == 2


def test_slow_and_idle_clients_are_bounded_and_quiet(rows):
    assert rows["slowloris"]["answer"] in ("connection closed", "HTTP 408 Request Timeout")
    crowd = rows["40 idle connections, then reset"]
    assert crowd["threads"] < 40, crowd  # 16 connections served, the rest refused at once
    assert "24x HTTP 503 at once" in crowd["answer"] and crowd["answer"].endswith("after: HTTP 200 OK")
    assert "0 stderr lines" in crowd["notes"], crowd


def test_the_memory_budget_refuses_retryably_and_loses_nothing(rows):
    row = next(row for name, row in rows.items() if name.startswith("4 concurrent"))
    assert set(row["answer"].replace(",", "").split()) <= {"OK", "RESOURCE_EXHAUSTED"} | {
        f"{n}x" for n in range(5)
    }, row
    assert row["acknowledged"] > 0 and row["lost"] == 0 and row["duplicated"] == 0, row
