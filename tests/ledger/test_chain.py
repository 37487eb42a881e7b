"""The hash chain: altering, deleting, inserting or reordering any record makes verification
fail and name the first bad record."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from tripoint.ledger.chain import GENESIS, link, verify


def chain(stream: str, count: int) -> tuple[list[dict[str, Any]], tuple[int, str]]:
    rows, head = [], GENESIS
    for seq in range(1, count + 1):
        row: dict[str, Any] = {
            "id": seq,
            "stream": stream,
            "seq": seq,
            "request_id": f"r{seq}",
            "created_at": datetime(2026, 11, 28, 12, 0, seq, tzinfo=UTC),
            "principal_id": "p",
            "key_id": None,
            "team_id": "t",
            "team_name": "red",
            "model": "m",
            "operation": "chat",
            "backend": "b",
            "target_model": "x",
            "pattern": "saas",
            "region": "eu",
            "data_class": "internal",
            "status": 200,
            "error_type": None,
            "prompt_tokens": seq,
            "completion_tokens": 2,
            "cost_nano": 10 * seq,
            "latency_ms": 12.5,
            "ttft_ms": 3.25,
            "attempts": 1,
            "cache_hit": False,
            "detail": {"policies": []},
            "prev_hash": head,
        }
        head = row["hash"] = link(head, row)
        rows.append(row)
    return rows, (count, head)


def test_an_untouched_chain_verifies() -> None:
    rows, head = chain("s1", 5)

    assert verify(rows, {"s1": head}) == (5, None)


def tampered(kind: str) -> tuple[list[dict[str, Any]], dict[str, tuple[int, str]]]:
    rows, head = chain("s1", 6)
    rows = copy.deepcopy(rows)
    match kind:
        case "altered":
            rows[2]["cost_nano"] = 0
        case "deleted":
            del rows[2]
        case "reordered":
            rows[2], rows[3] = rows[3], rows[2]
            rows[2]["seq"], rows[3]["seq"] = 3, 4
        case "inserted":
            forged = dict(rows[2], request_id="forged")
            rows.insert(3, forged)
    return rows, {"s1": head}


@pytest.mark.parametrize(
    ("kind", "bad_seq", "good", "reason"),
    [
        ("altered", 3, 2, "altered"),
        ("deleted", 4, 2, "expected record 3"),  # the record after the gap
        ("reordered", 3, 2, "does not follow"),
        ("inserted", 3, 3, "expected record 4"),  # the forged copy
    ],
)
def test_tampering_names_the_first_bad_record(
    kind: str, bad_seq: int, good: int, reason: str
) -> None:
    rows, heads = tampered(kind)

    checked, found = verify(rows, heads)

    assert found is not None
    assert (found.stream, found.seq) == ("s1", bad_seq)
    assert reason in found.reason
    assert checked == good


def test_cutting_the_end_off_a_chain_is_caught_by_its_head() -> None:
    rows, head = chain("s1", 4)

    checked, found = verify(rows[:3], {"s1": head})

    assert checked == 3
    assert found is not None
    assert "missing" in found.reason


def test_chains_of_several_writers_verify_independently() -> None:
    a, head_a = chain("a", 3)
    b, head_b = chain("b", 4)
    b[1]["status"] = 500

    checked, found = verify(a + b, {"a": head_a, "b": head_b})

    assert checked == 4
    assert found is not None
    assert (found.stream, found.seq) == ("b", 2)


def test_a_stream_removed_entirely_is_caught() -> None:
    a, head_a = chain("a", 2)
    _, head_b = chain("b", 2)

    _, found = verify(a, {"a": head_a, "b": head_b})

    assert found is not None
    assert found.stream == "b"
