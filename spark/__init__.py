"""winepipe's PySpark curation step: one module per rule of /work/shared/DATA_CONTRACT.md.

Every module except ``job`` holds pure functions from DataFrames (or Columns) to DataFrames (or Columns);
``job`` is the spark-submit entry point that reads the sources, calls them in order and writes the outputs.
"""
