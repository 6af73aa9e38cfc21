"""spark.json_array: splitting a JSON array into positioned records, in plain Python (no Spark)."""
from __future__ import annotations

import io

import pytest

from spark.json_array import split_json_array, split_json_stream


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


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 64])
def test_reading_in_small_chunks_gives_the_same_records(chunk_size):
    """Elements, numbers and multi-byte characters cut at a chunk boundary are read whole."""
    data = ('\ufeff [ {"points": 87, "price": 15.0, "winery": "Château Vulkà 🍷"}, 12345, "a,b", '
            '{"winery": "bad \\udc80"}, {"country": null, "title": "x"} ] \n').encode("utf-8")
    data = data.replace(b"bad ", b"bad \xff ")
    whole = list(split_json_stream(io.BytesIO(data), chunk_size=1 << 20))
    assert [(r.source_row, r.fields is None) for r in whole] == [
        (1, False), (2, True), (3, True), (4, True), (5, False)]
    assert whole[0].fields == {"points": "87", "price": "15.0", "winery": "Château Vulkà 🍷"}
    assert whole[1].unparsed_text == "12345"
    assert list(split_json_stream(io.BytesIO(data), chunk_size=chunk_size)) == whole


def test_a_generated_json_source_reads_the_same_in_chunks(tmp_path):
    from tasks.sample import generate

    generate(tmp_path, "2026-11-24", 0.003, 11)
    data = (tmp_path / "winemag-data-130k-v2.json").read_bytes()
    whole = list(split_json_array(data))
    assert len(whole) == 390
    assert list(split_json_stream(io.BytesIO(data), chunk_size=4093)) == whole


def test_escapes_scalars_and_nested_values():
    data = ('[{"winery": "\\ud83d\\ude00 ok", "a": false, "b": true, "c": null},'   # a valid surrogate pair
            ' {"\\ud800key": "x"},'                                               # lone surrogate in a key
            ' {"winery": "x\\udfff"},'                                            # lone low surrogate in a value
            ' {"winery": "C:\\\\ud800 is text"},'                                 # an escaped backslash, then text
            ' {"winery": "W", "region_1": ["a"]},'                                # a nested array
            ' {"winery": "W", "price": 1e2, "points": -0}]').encode("utf-8")
    records = list(split_json_array(data))
    assert [(r.source_row, r.fields) for r in records] == [
        (1, {"winery": "\U0001F600 ok", "a": "false", "b": "true", "c": None}),
        (2, None), (3, None),
        (4, {"winery": "C:\\ud800 is text"}),
        (5, None),
        (6, {"winery": "W", "price": "1e2", "points": "-0"})]
    assert [r.unparsed_text for r in records][1:3] == ['{"\\ud800key": "x"}', '{"winery": "x\\udfff"}']
    assert records[4].unparsed_text == '{"winery": "W", "region_1": ["a"]}'
    assert records[0].keys == ["winery", "a", "b", "c"]
