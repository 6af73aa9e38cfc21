"""Reading one source file into the contract's 13 fields, one row per record, malformed records included.

The frame every reader returns (``RECORD_COLUMNS``): ``source_name``, ``source_row`` (1-based record number in
the file, header not counted), the 13 fields as read (strings, untouched, NULL when empty or absent from the
source), ``unparsed_text`` (the record's text when it could not be parsed into fields) and ``malformed``.

CSV: Spark's reader with ``multiLine`` reads a file as one partition, in file order, so the position of a row in
that partition is its record number (``monotonically_increasing_id`` keeps it in its low 33 bits). A source cut
into parts (``spark.csv_parts``) is read one partition a part, and a record's number is its part's first record
number (counted while cutting) plus its position in the part; the job checks that the numbers of each source's
records are 1 to their count (``spark.accounting.SourceCounts``). A read that does not give one partition a file
is refused rather than numbered wrongly. Blank lines are not records. Wrong field counts and broken quoting land
in the corrupt-record column (``unparsed_text``). The file is read as ISO-8859-1,
which maps every byte to one character, so nothing is replaced while parsing (all CSV syntax is ASCII, and no
UTF-8 multi-byte sequence contains an ASCII byte); each field is then turned back into its original bytes and
checked to be valid UTF-8. A record with invalid UTF-8 anywhere is malformed; its text (the corrupt-record text,
or for a record that parsed, the fields as JSON) shows each invalid sequence as U+FFFD. Known deviation of
Spark's parser: a line break ``\\r\\n`` inside a quoted field is read as ``\\n``.

JSON: see ``spark.json_array``.
"""
from __future__ import annotations

import csv
import logging
import operator
import os
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from typing import Any

from pyspark import RDD
from pyspark.accumulators import AccumulatorParam
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from spark.contract import FIELDS, REQUIRED_FIELDS
from spark.csv_parts import CsvPart
from spark.json_array import JSON_RECORD_SCHEMA, record_rows, record_rows_of_file
from spark.lookup import lookup

log = logging.getLogger("winepipe.spark.sources")

RECORD_COLUMNS: tuple[str, ...] = ("source_name", "source_row", *FIELDS, "unparsed_text", "malformed")
FORMATS = ("csv", "json")
_CORRUPT = "_corrupt_record"
_ROW_IN_PARTITION = (1 << 33) - 1  # monotonically_increasing_id: partition id << 33 | row in partition


class SourceSchemaError(ValueError):
    """A source file whose columns do not fit the contract (a required column missing, an ambiguous header)."""


@dataclass(frozen=True)
class SourceSpec:
    """One source of a batch, as configured: its name, format, de-duplication precedence and file path/URI.

    ``parts``: for a CSV source cut into parts (``spark.csv_parts.split_csv``), the files to read instead of
    ``path``, in order.
    """

    name: str
    format: str
    precedence: int
    path: str
    parts: tuple[CsvPart, ...] = ()

    @property
    def tasks(self) -> int:
        """How many tasks read the source."""
        return max(1, len(self.parts))

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> SourceSpec:
        """A spec from its ``--sources`` JSON object (keys name, format, precedence, path)."""
        fmt = str(spec["format"]).lower()
        if fmt not in FORMATS:
            raise ValueError(f"source {spec.get('name')!r}: format must be one of {FORMATS}, not {fmt!r}")
        return cls(name=str(spec["name"]), format=fmt, precedence=int(spec["precedence"]), path=str(spec["path"]))


def check_columns(source_name: str, columns: list[str]) -> None:
    """Raise ``SourceSchemaError`` naming a missing required column; warn about columns the contract lacks."""
    missing = [name for name in REQUIRED_FIELDS if name not in columns]
    if missing:
        raise SourceSchemaError(
            f"source {source_name} lacks required column(s): {', '.join(missing)}")
    unknown = [name for name in columns if name not in FIELDS]
    if unknown:
        log.warning("source %s: ignoring column(s) not in the contract: %s", source_name, ", ".join(unknown))


def csv_field_positions(source_name: str, header: list[str]) -> dict[str, int]:
    """Position of each contract field in a CSV header; an unnamed first column is the row index (ignored)."""
    names = [name.strip() for name in header]
    if names and names[0].startswith("\ufeff"):
        names[0] = names[0][1:].strip()
    named = names[1:] if names and names[0] == "" else names
    duplicated = sorted({n for n in named if n in FIELDS and named.count(n) > 1})
    if duplicated:
        raise SourceSchemaError(f"source {source_name}: column(s) appear more than once: {', '.join(duplicated)}")
    check_columns(source_name, [n for n in named if n != ""])
    return {name: pos for pos, name in enumerate(names) if name in FIELDS}


def _csv_header(spark: SparkSession, path: str) -> list[str] | None:
    first = spark.read.text(path).first()
    return None if first is None else next(csv.reader([first[0]]))


def _utf8(latin1_text: Column) -> Column:
    # ISO-8859-1 text back to its bytes, reinterpreted as UTF-8 without validation (validated separately).
    return F.encode(latin1_text, "ISO-8859-1").cast("string")


def _is_valid_utf8(text: Column) -> Column:
    return F.coalesce(F.call_function("is_valid_utf8", text), F.lit(True))


def _fields_as_json(fields: dict[str, Column]) -> Column:
    return F.to_json(F.struct(*[col.alias(name) for name, col in fields.items()]), {"ignoreNullFields": "false"})


def read_csv_source(spark: SparkSession, source: SourceSpec) -> DataFrame:
    """The records of a CSV source (header line, ``"`` quoting with ``""`` escapes), as ``RECORD_COLUMNS``."""
    header = _csv_header(spark, source.path)
    if header is None:
        raise SourceSchemaError(f"source {source.name}: {source.path} is empty, it has no header line")
    positions = csv_field_positions(source.name, header)
    physical = [f"_c{i}" for i in range(len(header))]
    schema = StructType([StructField(name, StringType()) for name in physical]
                        + [StructField(_CORRUPT, StringType())])
    parts = source.parts or (CsvPart(source.path),)
    parsed = (spark.read.schema(schema)
              .options(header="true", enforceSchema="true", multiLine="true", mode="PERMISSIVE",
                       columnNameOfCorruptRecord=_CORRUPT, quote='"', escape='"', encoding="ISO-8859-1")
              .csv([part.path for part in parts]))
    partitions = parsed.rdd.getNumPartitions()
    if partitions != len(parts):
        raise ValueError(f"source {source.name}: {source.path} must be read as {len(parts)} partition(s), one a "
                         f"file, not {partitions}")
    in_part = F.monotonically_increasing_id().bitwiseAND(F.lit(_ROW_IN_PARTITION))
    if len(parts) == 1:
        numbered = parsed.select("*", (in_part + 1).alias("source_row"))
    else:
        names = [os.path.basename(part.path) for part in parts]
        if len(set(names)) != len(names):
            raise ValueError(f"source {source.name}: the names of its parts are not unique: {names}")
        # source_row stays non-nullable (lookup). A row of no known part (none) would be numbered from 0, which
        # the job's check of the numbers refuses.
        first_row = lookup(F.col("_metadata.file_name"),
                           {name: part.first_row for name, part in zip(names, parts)}, 0)
        numbered = parsed.select("*", (first_row + in_part).alias("source_row"))
    # Three projections, each computing its expensive columns once: Spark does not merge a projection into the
    # next when that would repeat a costly expression, whereas one projection repeating ``malformed`` in every
    # field would evaluate the UTF-8 checks once per field (subexpression elimination skips CASE WHEN values).
    decoded = numbered.select("source_row", *[_utf8(F.col(name)).alias(name) for name in [*physical, _CORRUPT]])
    flagged = decoded.withColumn("_malformed", F.col(_CORRUPT).isNotNull() | ~reduce(
        operator.and_, [_is_valid_utf8(F.col(name)) for name in [*physical, _CORRUPT]]))
    fields = {name: (F.col(physical[positions[name]]) if name in positions else F.lit(None).cast("string"))
              for name in FIELDS}
    malformed = F.col("_malformed")
    return flagged.select(
        F.lit(source.name).alias("source_name"),
        F.col("source_row"),
        *[F.when(~malformed, col).alias(name) for name, col in fields.items()],
        F.when(malformed, F.call_function("make_valid_utf8", F.coalesce(F.col(_CORRUPT), _fields_as_json(fields))))
        .alias("unparsed_text"),
        malformed.alias("malformed"),
    )

class Deferred:
    """What readers leave for the caller when reading for a whole job (``read_source(..., deferred=...)``).

    A JSON source's column check needs every record parsed. Rather than a pass of its own over the file (a
    second Python parse), the job's own pass collects the keys in an accumulator and the job runs the check
    once that pass is over, before it writes anything (``run_checks``).
    """

    def __init__(self) -> None:
        self.checks: list[Callable[[], None]] = []

    def run_checks(self) -> None:
        """Raise ``SourceSchemaError`` for the first source whose columns do not fit the contract.

        Only valid after an action computed every record of the sources (their accumulators are complete).
        """
        for check in self.checks:
            check()


class _KeysSeen(AccumulatorParam):
    # (keys of the JSON objects seen, number of objects seen); the keys' union does not depend on retries.
    def zero(self, value):
        return (frozenset(), 0)

    def addInPlace(self, value1, value2):
        return (value1[0] | value2[0], value1[1] + value2[1])


_WITHOUT_KEYS = StructType(JSON_RECORD_SCHEMA.fields[:-1])


def _check_json_keys(source: SourceSpec, all_keys, objects: int) -> None:
    # Absent keys are NULL per record; the source lacks a column only if no record has it.
    if objects:
        check_columns(source.name, sorted(all_keys))


def local_path(path: str) -> str | None:
    """The file system path of a source's ``path`` when it names a local file (no scheme, or ``file:``), else
    None (``s3a://``, ``hdfs://``, ...)."""
    parsed = urllib.parse.urlparse(path)
    if parsed.scheme == "file":
        return parsed.path
    return path if parsed.scheme == "" else None


def _json_records(spark: SparkSession, path: str) -> RDD:
    """The record tuples of a JSON source, in one partition.

    A local file is streamed by the task that reads it (bounded memory); a remote one (``s3a://``, ``hdfs://``) is
    read as one binary record, so its size is bounded by the executor's memory.
    """
    local = local_path(path)
    if local is not None:
        if not os.path.isfile(local):
            raise FileNotFoundError(f"JSON source {path} does not exist")
        return spark.sparkContext.parallelize([local], 1).flatMap(record_rows_of_file)
    contents = spark.read.format("binaryFile").load(path).select("content")
    return contents.rdd.flatMap(lambda row: record_rows(row[0]))


def read_json_source(spark: SparkSession, source: SourceSpec, deferred: Deferred | None = None) -> DataFrame:
    """The records of a JSON source (one array of objects), as ``RECORD_COLUMNS``; see ``spark.json_array``.

    The column check runs here, unless ``deferred`` is given: then it is left in ``deferred`` (see there).
    """
    records = _json_records(spark, source.path)
    if deferred is None:
        parsed = spark.createDataFrame(records, JSON_RECORD_SCHEMA, verifySchema=False)
        present = parsed.select(F.array_distinct(F.flatten(F.collect_set("keys"))).alias("all_keys"),
                                F.count(F.when(~F.col("malformed"), 1)).alias("objects")).first()
        _check_json_keys(source, present["all_keys"], present["objects"])
    else:
        seen = spark.sparkContext.accumulator((frozenset(), 0), _KeysSeen())
        malformed_at = len(JSON_RECORD_SCHEMA.fields) - 2

        def parse(rows):
            keys: set[str] = set()
            objects = 0
            for record in rows:
                if not record[malformed_at]:
                    objects += 1
                    keys.update(record[-1])
                # The keys went to the accumulator: the JVM does not need to unpickle 13 more strings a record.
                yield record[:-1]
            seen.add((frozenset(keys), objects))

        parsed = spark.createDataFrame(records.mapPartitions(parse), _WITHOUT_KEYS, verifySchema=False)
        deferred.checks.append(lambda: _check_json_keys(source, *seen.value))
    return parsed.select(F.lit(source.name).alias("source_name"), *RECORD_COLUMNS[1:])


def read_source(spark: SparkSession, source: SourceSpec, deferred: Deferred | None = None) -> DataFrame:
    """The records of one source, whatever its format, as ``RECORD_COLUMNS``.

    ``deferred``: see ``Deferred`` (CSV sources check their header here in any case).
    """
    if source.format == "csv":
        return read_csv_source(spark, source)
    return read_json_source(spark, source, deferred)
