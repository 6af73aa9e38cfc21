"""White space in the sense of DATA_CONTRACT.md section 2: every character for which ``str.isspace()`` is true.

The one home of that rule. Spark's ``trim()`` strips only ASCII spaces, and Java's ``\\s`` misses U+00A0,
U+2000..U+200A, U+3000, U+0085 and the separators U+001C..U+001F, so the class is built from Python itself.
"""
from __future__ import annotations

import sys

from pyspark.sql import Column
from pyspark.sql import functions as F

WHITESPACE_CHARS: str = "".join(chr(cp) for cp in range(sys.maxunicode + 1) if chr(cp).isspace())

# \x{...} escapes keep the pattern printable and independent of how Java would read the raw characters.
WHITESPACE_CLASS: str = "[" + "".join(f"\\x{{{ord(ch):04X}}}" for ch in WHITESPACE_CHARS) + "]"

# \A and \z, not ^ and $: Java's $ also matches before a final line terminator.
# (Kept as the reference definition of trimming; the helpers below use native string functions.)
_EDGES = f"\\A{WHITESPACE_CLASS}+|{WHITESPACE_CLASS}+\\z"


# The first and the last UTF-8 byte of every white-space character. A string whose first byte is not in the first
# set and whose last byte is not in the second neither starts nor ends with white space; the bytes are read from
# the string's binary form without decoding it (``substring`` of a string would count characters to find the
# last one).
_FIRST_BYTES = sorted({ch.encode("utf-8")[0] for ch in WHITESPACE_CHARS})
_LAST_BYTES = sorted({ch.encode("utf-8")[-1] for ch in WHITESPACE_CHARS})


def _no_empty(text: Column) -> Column:
    # nullif evaluates its argument once; when(text != "", text) would evaluate ``text`` twice.
    return F.nullif(text, F.lit(""))


def _byte_in(byte: Column, values: list[int]) -> Column:
    return byte.isin([F.lit(bytearray([value])) for value in values])


def _trim(text: Column) -> Column:
    # Spark's trim(BOTH chars FROM ...): the white-space characters removed at both edges, "" when none is left.
    return F.trim(text, F.lit(WHITESPACE_CHARS))


def may_have_edge_whitespace(text: Column) -> Column:
    """False when ``text`` certainly neither starts nor ends with white space (NULL for NULL).

    True for every string that does, and for a few that do not (their edge byte is shared with a white-space
    character): a cheap filter in front of the exact trim.
    """
    data = text.cast("binary")
    return _byte_in(F.substring(data, 1, 1), _FIRST_BYTES) | _byte_in(F.substring(data, -1, 1), _LAST_BYTES)


def trim_whitespace(text: Column) -> Column:
    """``text`` without leading and trailing white space; NULL when nothing else is left.

    Spark's ``trim(BOTH chars FROM ...)`` works on UTF-8 characters without a regex: the same result as
    ``regexp_replace(text, _EDGES, "")`` at a fraction of its cost (a regex scans the whole string and converts
    it to and from a Java string). It still walks the whole string, so it runs only for the few values that
    ``may_have_edge_whitespace``.
    """
    return _no_empty(F.when(may_have_edge_whitespace(text), _trim(text)).otherwise(text))


def trimmed_length(text: Column) -> Column:
    """The length in characters of ``text`` trimmed of white space (0 when nothing else is left; NULL for NULL).

    Exact, without ``trim_whitespace``'s pre-filter: less generated code, for a branch that runs for few values.
    """
    return F.length(_trim(text))


def collapse_whitespace(text: Column) -> Column:
    """``text`` trimmed, with every inner run of white space replaced by one ASCII space.

    Every white-space character is first mapped to an ASCII space (``translate``, no regex); runs of ASCII spaces
    are then collapsed, with a regex only for the few strings that hold two spaces in a row, and ASCII spaces are
    trimmed at both ends. Same result as trimming and ``regexp_replace(WHITESPACE_CLASS + "+", " ")``.
    """
    spaced = F.translate(text, WHITESPACE_CHARS, " " * len(WHITESPACE_CHARS))
    single = F.when(spaced.contains("  "), F.regexp_replace(spaced, "  +", " ")).otherwise(spaced)
    return _no_empty(F.trim(single))
