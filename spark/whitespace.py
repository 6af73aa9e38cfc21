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


_WHITESPACE_LIST = list(WHITESPACE_CHARS)


def _no_empty(text: Column) -> Column:
    # nullif evaluates its argument once; when(text != "", text) would evaluate ``text`` twice.
    return F.nullif(text, F.lit(""))


def trim_whitespace(text: Column) -> Column:
    """``text`` without leading and trailing white space; NULL when nothing else is left.

    Spark's ``trim(BOTH chars FROM ...)`` works on UTF-8 characters without a regex: the same result as
    ``regexp_replace(text, _EDGES, "")`` at a fraction of its cost (a regex scans the whole string and converts
    it to and from a Java string). It still walks the whole string, so it runs only for the few values that start
    or end with white space.
    """
    at_edges = F.substring(text, 1, 1).isin(_WHITESPACE_LIST) | F.right(text, F.lit(1)).isin(_WHITESPACE_LIST)
    return _no_empty(F.when(at_edges, F.trim(text, F.lit(WHITESPACE_CHARS))).otherwise(text))


def collapse_whitespace(text: Column) -> Column:
    """``text`` trimmed, with every inner run of white space replaced by one ASCII space.

    Every white-space character is first mapped to an ASCII space (``translate``, no regex); runs of ASCII spaces
    are then collapsed, with a regex only for the few strings that hold two spaces in a row, and ASCII spaces are
    trimmed at both ends. Same result as trimming and ``regexp_replace(WHITESPACE_CLASS + "+", " ")``.
    """
    spaced = F.translate(text, WHITESPACE_CHARS, " " * len(WHITESPACE_CHARS))
    single = F.when(spaced.contains("  "), F.regexp_replace(spaced, "  +", " ")).otherwise(spaced)
    return _no_empty(F.trim(single))
