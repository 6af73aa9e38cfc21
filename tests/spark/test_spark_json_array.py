"""spark.json_array: splitting a JSON array into positioned records, in plain Python (no Spark)."""
from __future__ import annotations

from spark.json_array import split_json_array


def test_positions_text_and_malformed_elements():
    data = ('\ufeff[ {"winery": "A", "points": 87, "price": 15.0, "ok": true},\n'
            '  [1, 2], null, {"winery": "B\\u00a0"} ]').encode()
    records = list(split_json_array(data))
    assert [(r.source_row, r.fields) for r in records] == [
        (1, {"winery": "A", "points": "87", "price": "15.0", "ok": "true"}),
        (2, None), (3, None), (4, {"winery": "B\u00a0"})]
    assert [r.unparsed_text for r in records] == [None, "[1, 2]", "null", None]
    assert records[0].keys == ["winery", "points", "price", "ok"]


def test_invalid_utf8_element_is_malformed_neighbours_are_not():
    data = b'[{"winery": "A"}, {"winery": "caf\xe9"}, {"winery": "\xc3\xa9"}]'
    records = list(split_json_array(data))
    assert [(r.source_row, r.fields) for r in records] == [(1, {"winery": "A"}), (2, None), (3, {"winery": "é"})]
    assert records[1].unparsed_text == '{"winery": "caf\ufffd"}'


def test_syntax_error_makes_the_rest_one_malformed_record():
    records = list(split_json_array(b'[{"winery": "A"}, {"winery": oops}, {"winery": "C"}]\n'))
    assert [(r.source_row, r.fields is None) for r in records] == [(1, False), (2, True)]
    assert records[1].unparsed_text == '{"winery": oops}, {"winery": "C"}]'


def test_not_an_array_and_empty_files():
    assert [(r.source_row, r.unparsed_text) for r in split_json_array(b'{"winery": "A"}')] == [
        (1, '{"winery": "A"}')]
    assert list(split_json_array(b"")) == []
    assert list(split_json_array(b" [ ] \n")) == []


def test_text_after_the_closing_bracket_is_one_more_malformed_record():
    records = list(split_json_array(b'[{"a": "1"}]\n[{"b": "2"}, {"c": "3"}]\n'))
    assert [(r.source_row, r.fields, r.unparsed_text) for r in records] == [
        (1, {"a": "1"}, None), (2, None, '[{"b": "2"}, {"c": "3"}]')]
    assert [(r.source_row, r.unparsed_text) for r in split_json_array(b'[{"a": "1"}] trailing  \n')][1:] == [
        (2, "trailing")]
    assert len(list(split_json_array(b'[{"a": "1"}]  \r\n\n'))) == 1
