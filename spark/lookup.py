"""Looking a column's value up in a small table of literals, without making the result nullable."""
from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column
from pyspark.sql import functions as F


def lookup(column: Column, values: Mapping[str, int], default: int) -> Column:
    """``values[column]``, or ``default`` for a value ``values`` lacks, as a CASE that ends in a literal.

    A map lookup (``create_map(...)[column]``) would be nullable, and a nullable column grows the generated code
    of every expression that reads it: the checks' loop, near HotSpot's limit of 8,000 bytes of bytecode, went
    past it that way (see test_generated_code_of_the_checks_stays_jit_compilable).
    """
    cases = None
    for value, result in values.items():
        condition = (column == value, F.lit(result))
        cases = F.when(*condition) if cases is None else cases.when(*condition)
    return F.lit(default) if cases is None else cases.otherwise(F.lit(default))
