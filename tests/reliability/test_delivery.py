"""The delivery scenarios in their small form: targets from tests/reliability (0 lost and 0 duplicated
acknowledged spans wherever the processor can keep them, a clear answer for everything refused, no
leaked files)."""

from __future__ import annotations

from tests.reliability.delivery import scenarios

# Rows where loss is the documented outcome: default mode keeps acknowledged spans in memory (a SIGKILL
# loses them: --durable is the answer), and a full disk with the downstream never back (reported, exit 3).
_LOSS_EXPECTED = ("kill -9 while sending (default)", "never back")


def test_delivery_scenarios_meet_the_targets():
    rows = list(scenarios(full=False))
    assert len(rows) == 10
    for row in rows:
        assert "skipped" not in row.get("notes", ""), row
        if "kill -9" in row["scenario"]:
            # At least once: the request in flight when the processor dies (the downstream has it, its
            # spool file is not yet removed) is sent again after the restart -- at most one request.
            assert row["duplicated"] <= 50, row
        else:
            assert row["duplicated"] == 0, row
        assert row["acknowledged"] > 0 and row.get("leaks", 0) == 0, row
        if any(text in row["scenario"] for text in _LOSS_EXPECTED):
            assert row["lost"] > 0, row  # the scenario really did put spans at risk
            continue
        assert row["lost"] == 0 and row["delivered"] == row["acknowledged"], row
        refused = {answer.split(" x")[0] for answer in row["answer"].split(", ")} - {"OK"}
        assert refused <= {"RESOURCE_EXHAUSTED+RetryInfo"}, row  # refused only with a retryable answer
    by_name = {row["scenario"]: row for row in rows}
    disk = by_name["full spool disk (--durable, 1 MiB tmpfs)"]
    assert "RESOURCE_EXHAUSTED+RetryInfo" in disk["answer"]
    poison = by_name["poison request (4.7 MB batch, one 5 MB span)"]
    assert poison["sent"] - poison["acknowledged"] == 1  # the 5 MB span: a partial success, dead-lettered
