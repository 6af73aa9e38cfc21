"""Cutting a local CSV file into parts at record boundaries, so that Spark reads it with several tasks.

Spark's CSV reader with ``multiLine`` (which quoted line breaks need) reads a file as one task: one core parses
a whole file while the others may wait. ``split_csv`` cuts a file where a record ends and starts every part but
the first with a copy of the header line, so each part is a CSV file of its own that Spark parses exactly as it
would have parsed that stretch of the whole file. Each part knows the record number of its first record, so
``source_row`` stays the record number in the original file.

A cut is made only where the text from the start of the file up to it is plainly RFC 4180: a quoted field opens
at the start of a field, closes before a comma or the line end and doubles its inner quotes; an unquoted field
has no quote and no carriage return; every record ends with the header's line end (``\\n`` or ``\\r\\n``). There
every CSV parser, Spark's included, is between two records. At the first text that is anything else (a stray
quote, a malformed record, a line end of the other kind), cutting stops and the rest of the file stays in the
last part, which Spark then parses from a record boundary as it would have parsed the whole file. Blank lines
are not records, as in Spark.

The text up to the last cut is scanned in chunks (memory bounded by the chunk and the longest record); the parts
are copied in the kernel (``os.copy_file_range``) where it can.
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass

log = logging.getLogger("winepipe.spark.csv_parts")

MiB = 1 << 20
# Below this a part is not worth a task of its own: every task pays its own start and warm-up (SCALE=1 parts of
# 24 MB took 1.2-1.9 s, the first one of a run 2.7 s).
MIN_PART_BYTES = 8 * MiB
CHUNK_BYTES = 8 * MiB
# A record longer than this (or an unclosed quote) ends the cutting rather than the memory.
MAX_RECORD_BYTES = 16 * MiB

_QUOTED = rb'"(?:[^"]++|"")*+"'
_UNQUOTED = rb'[^",\r\n]*+'
_FIELD = rb"(?:" + _QUOTED + rb"|" + _UNQUOTED + rb")"
_FIELDS = _FIELD + rb"(?:," + _FIELD + rb")*+"
_HEADER = re.compile(_FIELDS + rb"(\r?\n)")
_RECORD = {eol: re.compile(_FIELDS + re.escape(eol)) for eol in (b"\n", b"\r\n")}


@dataclass(frozen=True)
class CsvPart:
    """One file of a source's records: its path and the record number (1-based) of its first record in the
    source."""

    path: str
    first_row: int = 1


def parts_for(size: int, cores: int, min_part_bytes: int = MIN_PART_BYTES) -> int:
    """How many parts a file of ``size`` bytes is cut into for ``cores`` cores: one a core, none under
    ``min_part_bytes``."""
    return max(1, min(cores, size // max(1, min_part_bytes)))


def cut_points(path: str, parts: int, chunk_bytes: int = CHUNK_BYTES,
               max_record_bytes: int = MAX_RECORD_BYTES) -> tuple[int, list[tuple[int, int]]]:
    """Where to cut ``path`` into up to ``parts`` parts of about equal size.

    Returns the end of the header line and, for each cut, its byte offset and the number of records before it
    (header and blank lines not counted). No cuts when the file cannot be cut safely or is too short.
    """
    size = os.path.getsize(path)
    targets = [size * k // parts for k in range(1, parts)]
    header_end, cuts, records = 0, [], 0
    pattern, eol_length = _HEADER, 0
    with open(path, "rb") as fh:
        buf, base, pos, eof = b"", 0, 0, False
        while targets:
            m = pattern.match(buf, pos)
            if m is None:
                # A record that does not end in the buffer (read on) or does not follow the grammar (stop).
                if eof or len(buf) - pos > max_record_bytes:
                    if header_end and pos < len(buf):
                        log.info("%s: no cut after byte %d, where the text is not plain RFC 4180 CSV",
                                 path, base + pos)
                    break
                chunk = fh.read(chunk_bytes)
                eof = not chunk
                buf, base, pos = buf[pos:] + chunk, base + pos, 0
                continue
            start, pos = m.start(), m.end()
            if not header_end:
                eol = m.group(1)
                if pos - start == len(eol):
                    break  # a blank line before the header: rare enough not to cut
                pattern, eol_length, header_end = _RECORD[eol], len(eol), base + pos
                continue
            if pos - start == eol_length:
                continue  # a blank line is not a record
            records += 1
            end = base + pos
            if end >= targets[0] and end < size:
                cuts.append((end, records))
                targets = [t for t in targets if t > end]
    return header_end, cuts


def split_csv(path: str, parts: int, directory: str, chunk_bytes: int = CHUNK_BYTES,
              max_record_bytes: int = MAX_RECORD_BYTES) -> list[CsvPart]:
    """``path`` cut into up to ``parts`` files in ``directory`` (``part-00000.csv``, ...), or ``[CsvPart(path)]``
    when it is not cut (``parts`` < 2, a file too short or not plain CSV from its start)."""
    if parts < 2:
        return [CsvPart(path)]
    header_end, cuts = cut_points(path, parts, chunk_bytes, max_record_bytes)
    if not cuts:
        return [CsvPart(path)]
    size = os.path.getsize(path)
    bounds = [(0, 0), *cuts, (size, None)]
    result = []
    with open(path, "rb", buffering=0) as src:
        for k, ((start, before), (end, _)) in enumerate(zip(bounds, bounds[1:])):
            part = os.path.join(directory, f"part-{k:05d}.csv")
            with open(part, "wb", buffering=0) as dst:
                if k:
                    _copy(src, dst, 0, header_end)
                _copy(src, dst, start, end - start)
            result.append(CsvPart(part, before + 1))
    log.info("%s: cut into %d parts for parallel reading", path, len(result))
    return result


def _copy(src, dst, offset: int, length: int) -> None:
    # In the kernel where it can (no copy through Python's memory), else through a bounded buffer.
    while length > 0:
        try:
            done = os.copy_file_range(src.fileno(), dst.fileno(), min(length, 1 << 30), offset)
        except OSError:
            src.seek(offset)
            done = dst.write(src.read(min(length, CHUNK_BYTES)))
        if done <= 0:
            raise OSError(f"{src.name}: short read at byte {offset}")
        offset, length = offset + done, length - done
