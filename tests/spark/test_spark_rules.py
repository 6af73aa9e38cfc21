"""spark.rules: trimming and the rejection rules of section 3, one rule per test, and their order."""
from __future__ import annotations

from decimal import Decimal

import pytest

from spark.contract import FIELDS
from spark.rules import LENGTH_ONLY_FIELDS, RULE_FIELDS, trim_and_check, trim_fields, with_reject_reason


@pytest.fixture(params=["every field trimmed", "rule fields trimmed"])
def check(request):
    """The checks as a caller runs them: every field trimmed first, or, as the job does, only RULE_FIELDS (the
    rules then measure the others' lengths trimmed and leave them as read)."""
    fields = FIELDS if request.param == "every field trimmed" else RULE_FIELDS
    return lambda df: trim_and_check(df, fields)


@pytest.fixture
def reasons(check):
    def reasons_of(df) -> list:
        return [r.reason for r in check(df).orderBy("source_row").collect()]
    return reasons_of


def test_valid_record_has_no_reason(records, reasons):
    assert reasons(records({})) == [None]


def test_malformed_record(records, reasons):
    assert reasons(records({"malformed": True, "unparsed_text": '"0,Italy,x"'})) == ["malformed_record"]


@pytest.mark.parametrize("field", ["description", "variety", "winery"])
def test_missing_required_text(records, reasons, field):
    values = [None, "", " \u00a0\u3000\t"]
    assert reasons(records(*[{field: v} for v in values])) == [f"missing_{field}"] * len(values)


# (points as read, expected reason); one DataFrame for all cases keeps the test fast.
POINTS_CASES = [
    ("87", None), (" 87\u00a0", None), ("87.0", None), ("80", None), ("100", None), ("100.00", None),
    ("87.5", "bad_points"), ("eighty", "bad_points"), ("", "bad_points"), (None, "bad_points"),
    ("79", "bad_points"), ("101", "bad_points"), ("8.7e1", "bad_points"), ("87 points", "bad_points"),
]


def test_bad_points(records, reasons):
    assert reasons(records(*[{"points": p} for p, _ in POINTS_CASES])) == [r for _, r in POINTS_CASES]


PRICE_CASES = [
    ("15.0", None), ("235", None), (None, None), ("", None), ("\u00a0", None), ("100000", None),
    ("0.01", None), ("abc", "bad_price"), ("$15", "bad_price"), ("0", "bad_price"), ("-3.0", "bad_price"),
    ("100000.01", "bad_price"), ("0.004", "bad_price"), ("NaN", "bad_price"), ("Infinity", "bad_price"),
    ("99999.995", None), ("1e3", None), ("100000.004", "bad_price"), ("100000.00000000004", "bad_price"),
    ("123456789012", "bad_price"), ("\u0661\u0662", "bad_price"),
]


def test_bad_price(records, reasons):
    assert reasons(records(*[{"price": p} for p, _ in PRICE_CASES])) == [r for _, r in PRICE_CASES]


LIMITS = {"country": 64, "designation": 255, "province": 128, "region_1": 128, "region_2": 128,
          "taster_name": 128, "taster_twitter_handle": 64, "title": 512, "variety": 128, "winery": 255}


def test_field_too_long_counts_characters_after_trimming(records, reasons):
    cases = []
    for field, limit in LIMITS.items():
        at_limit = "é" * (limit - 1) + "\u3042"  # multi-byte characters: the limit is in characters, not bytes
        cases += [({field: at_limit}, None), ({field: at_limit + "x"}, "field_too_long"),
                  ({field: f"\u00a0{at_limit}\u3000"}, None)]
    assert reasons(records(*[c for c, _ in cases])) == [r for _, r in cases]


def test_description_has_no_length_limit(records, reasons):
    assert reasons(records({"description": "x" * 100_000})) == [None]


def test_too_long_value_is_not_truncated(records, check):
    assert check(records({"country": "c" * 65})).first().country == "c" * 65


def test_rules_leave_the_length_only_fields_as_read_when_told_they_are_untrimmed(records):
    # The job trims them for the kept records only: their lengths are measured trimmed, their values kept as read.
    padded = {name: f"\u00a0{name}\u3000 " for name in LENGTH_ONLY_FIELDS}
    row = trim_and_check(records({**padded, "variety": " Syrah "}), RULE_FIELDS).first()
    assert row.reason is None
    assert [row[name] for name in LENGTH_ONLY_FIELDS] == [padded[name] for name in LENGTH_ONLY_FIELDS]
    assert row.variety == "Syrah"


def test_rules_refuse_untrimmed_fields_they_read(records):
    with pytest.raises(ValueError, match="read these fields trimmed, and they are not: points, price"):
        with_reject_reason(records({}), trimmed=("description", "variety", "winery"))


ORDER_CASES = [
    ({"malformed": True, "description": None, "points": "x"}, "malformed_record"),
    ({"description": None, "variety": None, "winery": None, "points": "x"}, "missing_description"),
    ({"variety": None, "winery": None}, "missing_variety"),
    ({"winery": None, "points": "eighty", "price": "abc"}, "missing_winery"),
    ({"points": "eighty", "price": "abc", "country": "c" * 65}, "bad_points"),
    ({"price": "abc", "country": "c" * 65}, "bad_price"),
    ({"country": "c" * 65, "title": "t" * 513}, "field_too_long"),
]


def test_only_the_first_failing_rule_is_reported(records, reasons):
    assert reasons(records(*[c for c, _ in ORDER_CASES])) == [r for _, r in ORDER_CASES]


def test_trim_fields_trims_every_field_and_keeps_inner_text(records):
    row = trim_fields(records({
        "taster_twitter_handle": "@paulgwine\u00a0", "title": "\u3000Nicosia 2013 Vulkà Bianco  (Etna) ",
        "description": " line one\n\nline  two\u2003", "region_2": "\u00a0", "points": " 87 ",
    })).first()
    assert row.taster_twitter_handle == "@paulgwine"
    assert row.title == "Nicosia 2013 Vulkà Bianco  (Etna)"
    assert row.description == "line one\n\nline  two"
    assert row.region_2 is None
    assert row.points == "87"


def test_trim_fields_trims_only_the_fields_given(records):
    row = trim_fields(records({"title": " t\u00a0", "points": " 87 "}), ["points"]).first()
    assert (row.title, row.points) == (" t\u00a0", "87")


def test_points_and_price_come_out_typed(records, check):
    # (points, price) as read -> as checked: int and decimal(10,2), rounded half up; NULL where they do not parse.
    cases = [({"points": "87", "price": "15.0"}, (87, Decimal("15.00"))),
             ({"points": "87.0", "price": " 235"}, (87, Decimal("235.00"))),
             ({"points": "100", "price": "3300.5"}, (100, Decimal("3300.50"))),
             ({"points": "+99.00", "price": "12.345"}, (99, Decimal("12.35"))),
             ({"points": "99", "price": "1.0049999999999"}, (99, Decimal("1.00"))),
             ({"points": "99", "price": None}, (99, None)),
             ({"points": "eighty", "price": "$15"}, (None, None)),
             ({"points": "79", "price": "0.004"}, (79, Decimal("0.00")))]
    rows = check(records(*[c for c, _ in cases])).orderBy("source_row").collect()
    assert [(r.points, r.price) for r in rows] == [v for _, v in cases]
    assert check(records({})).schema["points"].dataType.simpleString() == "int"
    assert check(records({})).schema["price"].dataType.simpleString() == "decimal(10,2)"
