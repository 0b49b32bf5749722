"""Hostile propagation headers and injected faults (tests/reliability/propagation.py) in their small
form: no forbidden baggage in or out, no exception of ours reaching the application."""

from __future__ import annotations

import pytest

from .propagation import scenarios


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return list(scenarios(full=False))


def test_no_leaks_and_no_exceptions_into_the_app(rows):
    assert len(rows) >= 15
    for row in rows:
        assert row.get("leaks", 0) == 0, row
        assert row["app_exceptions"] == 0, row
