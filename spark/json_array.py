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

import codecs
import io
import json
import re
from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

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


# The decoder turns numbers into their literal text, so a field value is one of these unless it is nested.
_SCALARS = frozenset({str, type(None), bool})


def _printable(raw: str) -> str:
    # Invalid bytes were kept as surrogate escapes: back to the bytes, then U+FFFD for each invalid sequence.
    return raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _element(row: int, value: object, raw: str) -> JsonRecord:
    # Called for every record: type checks in C (map, set) rather than a Python call per field.
    if type(value) is not dict or _LONE_SURROGATE.search(raw):
        return JsonRecord(row, None, _printable(raw), [])
    types = set(map(type, value.values()))
    if not types <= _SCALARS:
        return JsonRecord(row, None, _printable(raw), [])
    fields: dict[str, str | None] = value
    if bool in types:
        fields = {key: ("true" if val else "false") if type(val) is bool else val for key, val in value.items()}
    # A lone surrogate without one in the raw text can only come from a \\uD800-style escape.
    if "\\u" in raw and (any(_LONE_SURROGATE.search(key) for key in fields) or any(
            v is not None and _LONE_SURROGATE.search(v) for v in fields.values())):
        return JsonRecord(row, None, _printable(raw), [])
    return JsonRecord(row, fields, None, list(fields))


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _JSON_WS:
        pos += 1
    return pos


class _Buffer:
    """The decoded text of a stream, read a chunk at a time: only the part not yet consumed is kept."""

    def __init__(self, stream: BinaryIO, chunk_size: int) -> None:
        self.stream, self.chunk_size = stream, chunk_size
        self.decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self.text, self.pos, self.eof = "", 0, False

    def fill(self) -> bool:
        """Appends the next chunk; False once nothing more can be added."""
        while not self.eof:
            data = self.stream.read(self.chunk_size)
            if not data:
                self.eof = True
            more = self.decoder.decode(data, final=self.eof)
            if more:
                self.text, self.pos = self.text[self.pos:] + more, 0
                return True
        return False

    def skip_ws(self) -> None:
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in _JSON_WS:
                self.pos += 1
            if self.pos < len(self.text) or not self.fill():
                return

    def rest(self) -> str:
        """Everything not yet consumed, to the end of the stream (only ever for malformed input)."""
        while self.fill():
            pass
        return self.text[self.pos:]


def split_json_stream(stream: BinaryIO, chunk_size: int = 1 << 20) -> Iterator[JsonRecord]:
    """The records of one JSON source read from a binary stream, in file order; see the module docstring.

    Memory holds one chunk plus the element being read, whatever the file's size (a syntax error is the
    exception: the rest of the file becomes one malformed record).
    """
    buf = _Buffer(stream, chunk_size)
    buf.fill()
    if buf.text.startswith("\ufeff"):
        buf.pos = 1
    buf.skip_ws()
    if buf.pos == len(buf.text):
        return
    if buf.text[buf.pos] != "[":
        yield JsonRecord(1, None, _printable(buf.rest()), [])
        return
    buf.pos += 1
    buf.skip_ws()
    row = 0
    if not buf.text.startswith("]", buf.pos):
        while True:
            row += 1
            while True:
                try:
                    value, end = _DECODER.raw_decode(buf.text, buf.pos)
                except json.JSONDecodeError:
                    if buf.fill():
                        continue  # the element runs past the chunk
                    yield JsonRecord(row, None, _printable(buf.text[buf.pos:].rstrip(_JSON_WS)), [])
                    return
                # A number at the very end of a chunk may go on in the next one.
                if end == len(buf.text) and buf.fill():
                    continue
                break
            yield _element(row, value, buf.text[buf.pos:end])
            buf.pos = end
            buf.skip_ws()
            if buf.text.startswith(",", buf.pos):
                buf.pos += 1
                buf.skip_ws()
            elif buf.text.startswith("]", buf.pos):
                break
            else:
                # A missing comma or a missing closing bracket: the rest cannot be read as elements.
                rest = buf.rest().rstrip(_JSON_WS)
                if rest:
                    yield JsonRecord(row + 1, None, _printable(rest), [])
                return
    # Anything after the closing bracket (a second array appended by the vendor, stray text) is not silently
    # ignored: it is one more malformed record, so the accounting still sees it.
    buf.pos += 1
    rest = buf.rest().strip(_JSON_WS)
    if rest:
        yield JsonRecord(row + 1, None, _printable(rest), [])


def split_json_array(data: bytes) -> Iterator[JsonRecord]:
    """The records of one JSON source file (its bytes), in file order; see the module docstring."""
    return split_json_stream(io.BytesIO(data))


def record_rows(content: bytes | bytearray) -> Iterator[tuple]:
    """The records of one file's bytes as tuples in ``JSON_RECORD_SCHEMA`` order (an RDD ``flatMap`` body).

    An RDD of tuples rather than ``mapInArrow``/``mapInPandas``: those require pandas >= 2.2, newer than the
    project's pinned pandas.
    """
    yield from _as_rows(split_json_array(bytes(content)))


def record_rows_of_file(path: str) -> Iterator[tuple]:
    """Like ``record_rows``, streaming a local file: memory stays bounded whatever the file's size."""
    with open(path, "rb") as stream:
        yield from _as_rows(split_json_stream(stream))


def _as_rows(records: Iterator[JsonRecord]) -> Iterator[tuple]:
    for r in records:
        fields = r.fields
        yield (r.source_row,
               *[fields.get(name) if fields is not None else None for name in FIELDS],
               r.unparsed_text, fields is None, r.keys)
