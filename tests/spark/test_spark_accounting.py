"""spark.accounting: records_read = rejected + kept + duplicates per source, also for an empty source."""
from __future__ import annotations

import pytest

from spark.accounting import AccountingError, check_accounting, source_counts
from spark.contract import REASONS
from spark.dedup import mark_duplicates
from spark.keys import with_review_id
from spark.rules import trim_fields, with_reject_reason


def test_counts_per_source_and_identity(records):
    checked = with_reject_reason(trim_fields(records(
        {"source_name": "a"},                                   # kept
        {"source_name": "a", "points": "eighty"},               # bad_points
        {"source_name": "b"},                                   # duplicate of a's record (lower precedence)
        {"source_name": "b", "malformed": True},                # malformed_record
        {"source_name": "b", "winery": "Other"},                # kept
        {"source_name": "b", "description": None},             # missing_description
    )))
    # a's bad_points record has the same natural key as a's kept one: a reject never counts as its duplicate.
    marked = mark_duplicates(with_review_id(checked), {"a": 2, "b": 1, "empty": 0})
    rows = {r.source_name: r.asDict(recursive=True) for r in source_counts(marked, ["a", "b", "empty"]).collect()}
    zero = dict.fromkeys(REASONS, 0)
    assert rows["a"] == {"source_name": "a", "records_read": 2, "rejected": 1, "kept": 1, "duplicates": 0,
                         "rejected_by_reason": {**zero, "bad_points": 1}}
    assert rows["b"] == {"source_name": "b", "records_read": 4, "rejected": 2, "kept": 1, "duplicates": 1,
                         "rejected_by_reason": {**zero, "malformed_record": 1, "missing_description": 1}}
    assert rows["empty"] == {"source_name": "empty", "records_read": 0, "rejected": 0, "kept": 0,
                             "duplicates": 0, "rejected_by_reason": zero}
    check_accounting(list(rows.values()))


def test_check_accounting_refuses_counts_that_do_not_add_up():
    row = {"source_name": "a", "records_read": 5, "rejected": 1, "kept": 2, "duplicates": 1,
           "rejected_by_reason": {"bad_points": 1}}
    with pytest.raises(AccountingError, match="source a: records_read 5"):
        check_accounting([row])


def test_records_read_where_they_were_read_make_a_lost_record_visible(records):
    checked = with_reject_reason(trim_fields(records(
        {"source_name": "a"}, {"source_name": "a", "winery": "Other"}, {"source_name": "a", "points": "x"})))
    marked = mark_duplicates(with_review_id(checked), {"a": 1})
    rows = [r.asDict(recursive=True) for r in source_counts(marked, ["a"], {"a": 3}).collect()]
    assert (rows[0]["records_read"], rows[0]["rejected"], rows[0]["kept"]) == (3, 1, 2)
    check_accounting(rows)
    # The reader saw a fourth record that never reached the checks: the identity no longer holds.
    rows = [r.asDict(recursive=True) for r in source_counts(marked, ["a"], {"a": 4}).collect()]
    assert rows[0]["records_read"] == 4
    with pytest.raises(AccountingError, match=r"source a: records_read 4 != rejected 1 \+ kept 2 \+ duplicates 0"):
        check_accounting(rows)
