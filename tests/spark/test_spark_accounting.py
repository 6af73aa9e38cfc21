"""spark.accounting: records_read = rejected + kept + duplicates per source, also for an empty source."""
from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from spark.accounting import AccountingError, SourceCounts, check_accounting
from spark.contract import REASONS
from spark.dedup import mark_duplicates, without_duplicates
from spark.keys import with_review_id
from spark.rules import trim_fields, with_reject_reason


def _observed_counts(tally: SourceCounts, marked) -> list[dict]:
    # One action counts the survivors and fills both observations, as the job's cache-filling pass does.
    tally.count_survivors(without_duplicates(tally.observe_duplicates(marked)))
    return tally.rows()


def test_counts_per_source_and_identity(records):
    tally = SourceCounts(["a", "b", "empty"])
    read = tally.observe_read(records(
        {"source_name": "a"},                                   # kept
        {"source_name": "a", "points": "eighty"},               # bad_points
        {"source_name": "b"},                                   # duplicate of a's record (lower precedence)
        {"source_name": "b", "malformed": True},                # malformed_record
        {"source_name": "b", "winery": "Other"},                # kept
        {"source_name": "b", "description": None},             # missing_description
    ))
    # a's bad_points record has the same natural key as a's kept one: a reject never counts as its duplicate.
    marked = mark_duplicates(with_review_id(with_reject_reason(trim_fields(read))), {"a": 2, "b": 1, "empty": 0})
    counted = _observed_counts(tally, marked)
    assert [row["source_name"] for row in counted] == ["a", "b", "empty"]
    rows = {row["source_name"]: row for row in counted}
    zero = dict.fromkeys(REASONS, 0)
    assert rows["a"] == {"source_name": "a", "records_read": 2, "rejected": 1, "kept": 1, "duplicates": 0,
                         "rejected_by_reason": {**zero, "bad_points": 1}}
    assert rows["b"] == {"source_name": "b", "records_read": 4, "rejected": 2, "kept": 1, "duplicates": 1,
                         "rejected_by_reason": {**zero, "malformed_record": 1, "missing_description": 1}}
    assert rows["empty"] == {"source_name": "empty", "records_read": 0, "rejected": 0, "kept": 0,
                             "duplicates": 0, "rejected_by_reason": zero}
    check_accounting(counted)


def test_check_accounting_refuses_counts_that_do_not_add_up():
    row = {"source_name": "a", "records_read": 5, "rejected": 1, "kept": 2, "duplicates": 1,
           "rejected_by_reason": {"bad_points": 1}}
    with pytest.raises(AccountingError, match="source a: records_read 5"):
        check_accounting([row])


def test_records_read_where_they_were_read_make_a_lost_record_visible(records):
    def counted(lose_one: bool) -> list[dict]:
        tally = SourceCounts(["a"])
        read = tally.observe_read(records(
            {"source_name": "a"}, {"source_name": "a", "winery": "Other"}, {"source_name": "a", "points": "x"},
            {"source_name": "a", "winery": "Lost"}))
        # A stand-in for a bug between the readers and the checks that drops a record.
        reached = read.where(F.col("winery") != "Lost") if lose_one else read
        return _observed_counts(tally, mark_duplicates(with_review_id(with_reject_reason(trim_fields(
            reached))), {"a": 1}))

    rows = counted(lose_one=False)
    assert (rows[0]["records_read"], rows[0]["rejected"], rows[0]["kept"]) == (4, 1, 3)
    check_accounting(rows)
    rows = counted(lose_one=True)
    assert (rows[0]["records_read"], rows[0]["rejected"], rows[0]["kept"]) == (4, 1, 2)
    with pytest.raises(AccountingError, match=r"source a: records_read 4 != rejected 1 \+ kept 2 \+ duplicates 0"):
        check_accounting(rows)


def test_a_valid_record_left_unmarked_is_no_fate(records):
    tally = SourceCounts(["a"])
    read = tally.observe_read(records({"source_name": "a"}, {"source_name": "a", "winery": "Other"}))
    marked = mark_duplicates(with_review_id(with_reject_reason(trim_fields(read))), {"a": 1})
    # A stand-in for a bug in de-duplication: one valid record without is_duplicate.
    unmarked = marked.withColumn("is_duplicate", F.when(F.col("winery") != "Other", F.col("is_duplicate")))
    rows = _observed_counts(tally, unmarked)
    assert (rows[0]["records_read"], rows[0]["kept"], rows[0]["duplicates"]) == (2, 1, 0)
    with pytest.raises(AccountingError, match=r"records_read 2 != rejected 0 \+ kept 1 \+ duplicates 0"):
        check_accounting(rows)


def test_a_reason_section_3_does_not_list_is_no_fate(records):
    tally = SourceCounts(["a"])
    read = tally.observe_read(records({"source_name": "a"}, {"source_name": "a", "points": "x"}))
    marked = mark_duplicates(with_review_id(with_reject_reason(trim_fields(read))), {"a": 1})
    # A stand-in for a rule added to the checks but not to section 3's list of reasons.
    renamed = marked.withColumn("reason", F.when(F.col("reason").isNotNull(), F.lit("made_up")))
    rows = _observed_counts(tally, renamed)
    assert (rows[0]["records_read"], rows[0]["rejected"], rows[0]["kept"]) == (2, 0, 1)
    assert "made_up" not in rows[0]["rejected_by_reason"]
    with pytest.raises(AccountingError, match=r"records_read 2 != rejected 0 \+ kept 1 \+ duplicates 0"):
        check_accounting(rows)


@pytest.mark.parametrize("rows, message", [
    ([1, 2, 3, 4], None),
    ([], None),
    ([1, 2, 4, 5], r"source a: its 4 records are not numbered 1 to 4 \(largest source_row 5, sum 12\)"),  # a gap
    ([1, 2, 2, 3], r"largest source_row 3, sum 8"),                                                    # a repeat
    ([1, 3, 3, 4], r"largest source_row 4, sum 11"),                                              # a repeat, a gap
])
def test_record_numbers_must_be_one_to_the_count(records, rows, message):
    # A part of a cut CSV file read with another number of records than counted shifts the parts after it.
    tally = SourceCounts(["a", "b"])
    read = tally.observe_read(records(*[{"source_name": "a", "source_row": row} for row in rows],
                                      {"source_name": "b", "source_row": 1}))
    read.write.format("noop").mode("overwrite").save()
    if message is None:
        tally.check_record_numbers()
    else:
        with pytest.raises(AccountingError, match=message):
            tally.check_record_numbers()


def test_record_numbers_past_the_limit(records):
    # De-duplication's order key holds source_row up to a limit (spark.dedup.MAX_SOURCE_ROW); the job checks it.
    tally = SourceCounts(["a"])
    tally.observe_read(records(*[{"source_name": "a", "source_row": row} for row in (1, 2, 3, 4)])) \
        .write.format("noop").mode("overwrite").save()
    tally.check_record_numbers(limit=4)
    with pytest.raises(AccountingError, match="source a: 4 records, more than the 3 a source can have"):
        tally.check_record_numbers(limit=3)
