"""Splitting a JSON source (one array of objects) into records, in plain Python on the executors.

Spark's JSON reader turns a whole multiLine file into one corrupt record as soon as one array element is not an
object, and it cannot give an element's position or exact text, so the array is walked here with
``json.JSONDecoder.raw_decode``: every element keeps its 1-based position (``source_row``) and its exact source
text, and one bad element does not spoil its neighbours.

Malformed (``malformed`` true, ``unparsed_text`` = the element's text):
- an element that is not an object, or whose field value is an object or an array;
- an element holding bytes that are not valid UTF-8 (detected exactly: the file is decoded with
  ``surrogateescape``; the invalid bytes appear as U+FFFD in ``unparsed_text``), or a ``\\udXXX`` escape that
  decodes to a lone surrogate;
- a syntax error: JSON cannot be resynchronised after one, so everything from the broken element to the end of
  the file is one malformed record;
- a file that is not an array at all: one malformed record holding the whole text.
A file holding only white space has no records. Numbers keep their literal text (``87``, ``15.0``), booleans
become ``true``/``false``, ``null`` and absent keys become NULL.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import NamedTuple

from pyspark.sql.types import ArrayType, BooleanType, LongType, StringType, StructField, StructType

from spark.contract import FIELDS

JSON_RECORD_SCHEMA = StructType(
    [StructField("source_row", LongType(), False)]
    + [StructField(name, StringType()) for name in FIELDS]
    + [StructField("unparsed_text", StringType()),
       StructField("malformed", BooleanType(), False),
       StructField("keys", ArrayType(StringType(), False))]
)

_JSON_WS = " \t\n\r"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_DECODER = json.JSONDecoder(parse_int=str, parse_float=str, parse_constant=str)


class JsonRecord(NamedTuple):
    """One element of the array: its position, its fields (None when malformed) and its text when malformed."""

    source_row: int
    fields: dict[str, str | None] | None
    unparsed_text: str | None
    keys: list[str]


def _as_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    raise TypeError(type(value).__name__)


def _printable(raw: str) -> str:
    # Invalid bytes were kept as surrogate escapes: back to the bytes, then U+FFFD for each invalid sequence.
    return raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _element(row: int, value: object, raw: str) -> JsonRecord:
    if not isinstance(value, dict) or _LONE_SURROGATE.search(raw):
        return JsonRecord(row, None, _printable(raw), [])
    try:
        fields = {key: _as_text(val) for key, val in value.items()}
    except TypeError:
        return JsonRecord(row, None, _printable(raw), [])
    if any(_LONE_SURROGATE.search(key) for key in fields) or any(
            v is not None and _LONE_SURROGATE.search(v) for v in fields.values()):
        return JsonRecord(row, None, _printable(raw), [])
    return JsonRecord(row, fields, None, list(fields))


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _JSON_WS:
        pos += 1
    return pos


def split_json_array(data: bytes) -> Iterator[JsonRecord]:
    """The records of one JSON source file (its bytes), in file order; see the module docstring."""
    text = data.decode("utf-8", "surrogateescape")
    pos = _skip_ws(text, 1 if text.startswith("\ufeff") else 0)
    if pos == len(text):
        return
    if text[pos] != "[":
        yield JsonRecord(1, None, _printable(text[pos:]), [])
        return
    pos = _skip_ws(text, pos + 1)
    if text.startswith("]", pos):
        return
    row = 0
    while True:
        row += 1
        try:
            value, end = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError:
            yield JsonRecord(row, None, _printable(text[pos:].rstrip(_JSON_WS)), [])
            return
        yield _element(row, value, text[pos:end])
        pos = _skip_ws(text, end)
        if text.startswith(",", pos):
            pos = _skip_ws(text, pos + 1)
        elif text.startswith("]", pos):
            # Anything after the closing bracket (a second array appended by the vendor, stray text) is
            # not silently ignored: it is one more malformed record, so the accounting still sees it.
            rest = text[pos + 1:].strip(_JSON_WS)
            if rest:
                yield JsonRecord(row + 1, None, _printable(rest), [])
            return
        else:
            # A missing comma or a missing closing bracket: the rest cannot be read as elements.
            rest = text[pos:].rstrip(_JSON_WS)
            if rest:
                yield JsonRecord(row + 1, None, _printable(rest), [])
            return


def record_rows(content: bytes | bytearray) -> Iterator[tuple]:
    """The records of one file's bytes as tuples in ``JSON_RECORD_SCHEMA`` order (an RDD ``flatMap`` body).

    An RDD of tuples rather than ``mapInArrow``/``mapInPandas``: those require pandas >= 2.2, newer than the
    project's pinned pandas.
    """
    for r in split_json_array(bytes(content)):
        fields = r.fields
        yield (r.source_row,
               *[fields.get(name) if fields is not None else None for name in FIELDS],
               r.unparsed_text, fields is None, r.keys)
