"""spark-submit entry point of winepipe's curation step (DATA_CONTRACT.md): read, apply the rules in order, write.

    spark-submit --py-files spark.zip spark/job.py --batch-date 2026-11-24 --sources '[{"name": ...,
        "format": "csv"|"json", "precedence": 3, "path": "/abs/file.csv" | "s3a://..."}, ...]'
        --curated OUT --rejects OUT --counts OUT [--shuffle-partitions N] [--curated-files N]
        [--csv-parts N] [--work-dir DIR]

Outputs: rejects (Parquet, ``contract.REJECTS_SCHEMA``), counts (one JSON-lines file, ``contract.COUNTS_SCHEMA``),
curated (Parquet, ``contract.CURATED_SCHEMA``). Curated's ``_SUCCESS`` is the caller's completion flag: the job
writes it last, once all three outputs are committed. Exit code 2 when a source does not fit the contract's
columns.
"""
from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    # spark-submit puts this file's directory first on sys.path, where the package's modules would be importable
    # as top-level modules; the package must come from --py-files (or, as a fallback, from the project root).
    _here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0] or ".") == _here:
        sys.path.pop(0)
        sys.path.append(os.path.dirname(_here))

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from functools import reduce  # noqa: E402

from pyspark import SparkConf, StorageLevel, inheritable_thread_target  # noqa: E402
from pyspark.sql import DataFrame, SparkSession  # noqa: E402

from spark.accounting import AccountingError, SourceCounts, check_accounting, counts_frame  # noqa: E402
from spark.csv_parts import parts_for, split_csv  # noqa: E402
from spark.curated import curated_records  # noqa: E402
from spark.dedup import (  # noqa: E402
    MAX_SOURCE_ROW, ORDER_KEY, kept_records, mark_duplicates, order_key, without_duplicates)
from spark.derive import with_num_wines_of_variety, with_vintage  # noqa: E402
from spark.keys import review_id_of  # noqa: E402
from spark.rejects import keep_text_of_rejects, rejected_records, with_record_text  # noqa: E402
from spark.rules import LENGTH_ONLY_FIELDS, RULE_FIELDS, trim_and_check, trim_fields  # noqa: E402
from spark.sources import Deferred, SourceSchemaError, SourceSpec, local_path, read_source  # noqa: E402

log = logging.getLogger("winepipe.spark.job")

# Fixed numbers of files (whatever --shuffle-partitions), so that the files' content depends on the input alone.
CURATED_FILES = 4
REJECTS_FILES = 2
ADAPTIVE = "spark.sql.adaptive.enabled"
CACHE_COMPRESSED = "spark.sql.inMemoryColumnarStorage.compressed"
# The job's settings of its session, each applied unless the Spark configuration ([spark] conf) sets the key
# (apply_session_defaults). Measured at SCALE=1 with the same outputs:
# - adaptive query execution off: the job fixes its own partitioning (the review_id shuffle, the files' layout)
#   and broadcasts its one join, so AQE has nothing to re-plan, and re-planning at every stage boundary costs
#   about 5 % of the job;
# - its cache uncompressed: the cache is built once and read twice (by the rejects and the curated output), and
#   compressing it cost more than it saved. The check and de-duplication stage took 4.4-4.9 s with compression,
#   4.0-4.6 s without (SCALE=1, 6 alternating runs), 27.3 s against 24.8 s at SCALE=10, where the cache grew from
#   417 to 456 MiB. On a cluster with little executor memory, a larger cache may spill to disk sooner;
# - one file a task: Spark packs small files into one task up to a size it derives from the cores, each file
#   costing openCostInBytes on top of its size. With the cost above the largest split size no two files share a
#   task, so a CSV source cut into parts (spark.csv_parts) is read by as many tasks as it has parts.
OPEN_COST = "spark.sql.files.openCostInBytes"
SESSION_DEFAULTS = {ADAPTIVE: "false", CACHE_COMPRESSED: "false", OPEN_COST: str(1 << 40)}
# Whether a Hadoop output committer writes _SUCCESS when it commits (a write option reaches the committer's conf).
MARK_SUCCESS = "mapreduce.fileoutputcommitter.marksuccessfuljobs"
SUCCESS_FLAG = "_SUCCESS"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The job's command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="spark/job.py", description=__doc__.splitlines()[0])
    parser.add_argument("--batch-date", required=True, type=dt.date.fromisoformat, help="YYYY-MM-DD")
    parser.add_argument("--sources", required=True, type=json.loads,
                        help="JSON array of {name, format, precedence, path}")
    parser.add_argument("--curated", required=True, help="output directory (Parquet)")
    parser.add_argument("--rejects", required=True, help="output directory (Parquet)")
    parser.add_argument("--counts", required=True, help="output directory (JSON lines)")
    parser.add_argument("--shuffle-partitions", type=int, default=None)
    parser.add_argument("--curated-files", type=_positive, default=CURATED_FILES,
                        help=f"Parquet files of the curated output, and the parallelism of the checks and "
                             f"de-duplication (default {CURATED_FILES})")
    parser.add_argument("--csv-parts", type=int, default=0,
                        help="local master: cut each local CSV source into this many parts at record boundaries, "
                             "read by as many tasks; 0 (default): one a core, none under 8 MiB; 1: never cut")
    parser.add_argument("--work-dir", default=None,
                        help="where the CSV sources' parts are written (default: the system's temporary directory)")
    return parser.parse_args(argv)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def source_specs(sources: Sequence[SourceSpec | dict]) -> list[SourceSpec]:
    """``--sources`` as specs; refuses an empty list and repeated names (they would merge their counts)."""
    specs = [s if isinstance(s, SourceSpec) else SourceSpec.from_dict(s) for s in sources]
    names = [s.name for s in specs]
    if not specs or len(set(names)) != len(names):
        raise ValueError(f"--sources needs at least one source and unique names, got {names}")
    return specs


# Hadoop picks a codec by the file name's extension: a compressed file is not text to cut, and its parts, named
# .csv, would be read undecompressed.
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".deflate", ".lz4", ".snappy", ".zst", ".zstd", ".xz", ".br", ".lzo")


def cut_csv_sources(specs: Sequence[SourceSpec], parts: int, directory: str) -> list[SourceSpec]:
    """``specs`` with each local CSV source cut into parts under ``directory`` (``spark.csv_parts``).

    ``parts``: how many a source; 0 picks them from the file's size and this machine's cores (``parts_for``).
    A source that is not a local, uncompressed CSV file, or that cannot be cut, is left as it is.
    """
    cut = []
    for number, spec in enumerate(specs):
        local = local_path(spec.path) if spec.format == "csv" else None
        if local is None or not os.path.isfile(local) or local.lower().endswith(COMPRESSED_SUFFIXES):
            cut.append(spec)
            continue
        wanted = parts or parts_for(os.path.getsize(local), os.cpu_count() or 1)
        subdirectory = os.path.join(directory, f"source-{number}")
        os.makedirs(subdirectory, exist_ok=True)
        files = split_csv(local, wanted, subdirectory)
        cut.append(dataclasses.replace(spec, parts=tuple(files)) if len(files) > 1 else spec)
    return cut


def _fixed_layout(df: DataFrame, files: int, *keys: str) -> DataFrame:
    # Hash partitioning into a fixed number of files, sorted inside: same input, same files' content.
    return df.repartition(files, *keys).sortWithinPartitions(*keys)


def marked_records(spark: SparkSession, specs: Sequence[SourceSpec], deferred: Deferred, tally: SourceCounts,
                   curated_files: int = CURATED_FILES) -> DataFrame:
    """Every record of the sources, checked (``reason``) and de-duplicated (``is_duplicate``); lazy.

    The fields of ``spark.rules.RULE_FIELDS`` come out trimmed, those of ``LENGTH_ONLY_FIELDS`` as read: the job
    trims them for the kept records only (``run``).
    Hash partitioned on ``review_id`` into ``curated_files`` partitions: the job's one shuffle of all records.
    ``deferred`` and ``tally`` are filled by the first action that computes it (see ``run``).
    """
    # Spark starts a stage's tasks in partition order, so the sources read by one task each (the JSON arrays)
    # come first: a core that starts the longest task first leaves the parts of cut sources to fill in around it.
    precedence = {spec.name: spec.precedence for spec in specs}
    records = tally.observe_read(reduce(DataFrame.unionByName, [
        # De-duplication's order key, added where each source is read: its source's part is a literal there,
        # and the checks' generated code, near the JIT's limit, does not grow (test_generated_code_of_...).
        read_source(spark, spec, deferred).withColumn(ORDER_KEY, order_key(precedence, spec.name))
        for spec in sorted(specs, key=lambda spec: spec.tasks)]))
    # review_id normalises white space itself (trimming included), so it is hashed from the fields as read, where
    # each file is read (one partition a file). Only a valid record's review_id means anything; hashing the few
    # rejects too is cheaper than a condition that would repeat the rules' expression.
    records = records.withColumn("review_id", review_id_of(records))
    # The job's one shuffle of all the records: hash partitioning on review_id into the curated files. It also
    # spreads the checks over the cores (a file is read as one partition), the window of mark_duplicates and
    # the final sort reuse it (no further exchange), and what survives de-duplication is the one cache every
    # output reads: counts, rejects and curated records. (Measured at SCALE=1 and 10 against a round-robin
    # shuffle for the checks followed by this one: 5 % and 6 % less time, the same outputs.)
    records = records.repartition(curated_files, "review_id")
    # Only the fields the rules read are trimmed here, for every record; the others are trimmed for the kept
    # records alone (run), a third of a typical batch. Above all, the checks' generated loop shrinks from 7,921
    # to 5,755 bytes of bytecode, and C2's compilation of it from 3.9 s of a core to 0.4 s (its cost grows much
    # faster than the method's size). The job took 25.3-27.4 s instead of 27.2-29.6 s, with the same outputs
    # (SCALE=1, 6 alternating runs each).
    checked = keep_text_of_rejects(trim_and_check(with_record_text(records), RULE_FIELDS))
    # A reject carries its text in record_text: the readers' columns are not needed after the checks.
    return mark_duplicates(checked, precedence).drop("unparsed_text", "malformed")


def apply_session_defaults(spark: SparkSession) -> dict[str, str]:
    """Set each of ``SESSION_DEFAULTS`` that the Spark configuration leaves unset; the session's value of each.

    A key the Spark configuration sets (``--conf``, ``[spark] conf``) keeps its value: an operator can turn
    adaptive query execution or the cache's compression back on without a code change.
    """
    configuration = spark.sparkContext.getConf()
    values = {}
    for key, default in SESSION_DEFAULTS.items():
        configured = configuration.contains(key)
        if not configured:
            spark.conf.set(key, default)
        values[key] = spark.conf.get(key)
        log.info("%s=%s (%s)", key, values[key],
                 "set in the Spark configuration" if configured else "the job's default")
    return values


def run(spark: SparkSession, batch_date: dt.date | str, sources: Sequence[SourceSpec | dict], curated: str,
        rejects: str, counts: str, shuffle_partitions: int | None = None,
        curated_files: int = CURATED_FILES) -> list[dict]:
    """Curate one batch with an existing session; returns the per-source counts written to ``counts``.

    ``curated_files``: the number of curated Parquet files, which is also the number of tasks that check and
    de-duplicate the records (the job's one shuffle of all records); size it for the data and the cluster.
    """
    if isinstance(batch_date, str):
        batch_date = dt.date.fromisoformat(batch_date)
    specs = source_specs(sources)
    if shuffle_partitions:
        spark.conf.set("spark.sql.shuffle.partitions", str(shuffle_partitions))
    # Field-count checks of the CSV parser must see every column, whatever a query needs.
    spark.conf.set("spark.sql.csv.parser.columnPruning.enabled", "false")
    apply_session_defaults(spark)

    deferred = Deferred()
    tally = SourceCounts([spec.name for spec in specs])
    marked = tally.observe_duplicates(marked_records(spark, specs, deferred, tally, curated_files))
    # Only the kept records and the rejects are cached: every output reads them and nothing else, and the
    # duplicates (two thirds of the records of a typical batch) are only counted. (The check and
    # de-duplication stage took 4.0-4.5 s caching every record and 3.4-3.9 s caching the survivors, the job
    # 20.2-20.5 s against 19.4-20.2 s: SCALE=1, 4 alternating runs.)
    survivors = without_duplicates(marked).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        # One pass over all the files fills the cache and both ends of the accounting (JSON sources parse
        # alongside the CSV reads, once); then the JSON sources' column checks (keys collected by that pass) and
        # the accounting, before anything is written.
        tally.count_survivors(survivors)
        deferred.run_checks()
        tally.check_record_numbers(limit=MAX_SOURCE_ROW)
        rows = tally.rows()
        check_accounting(rows)
        for row in rows:
            log.info("source %(source_name)s: read %(records_read)d, rejected %(rejected)d, kept %(kept)d, "
                     "duplicates %(duplicates)d", row)

        @inheritable_thread_target(spark)  # the pool thread gets this thread's local properties and tags
        def write_rejects_and_counts() -> None:
            _fixed_layout(rejected_records(survivors, batch_date), REJECTS_FILES, "source_name", "source_row") \
                .write.mode("overwrite").parquet(rejects)
            counts_frame(spark, rows).write.mode("overwrite").json(counts)

        # The rejects and the counts are written while the curated records are: their small jobs and the driver's
        # planning between jobs fill the cores' idle moments (the outputs took 3.4-3.5 s one after the other,
        # 2.6-2.7 s side by side: SCALE=1, 3 alternating runs). So that the curated output's _SUCCESS still
        # means "every output is complete", its committer writes none, and the job writes it after all three.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="winepipe-outputs") as pool:
            side = pool.submit(write_rejects_and_counts)
            kept = trim_fields(kept_records(survivors).drop("reason", "record_text"), LENGTH_ONLY_FIELDS)
            derived = with_num_wines_of_variety(with_vintage(kept, batch_date))
            try:
                curated_records(derived, batch_date).sortWithinPartitions("review_id") \
                    .write.mode("overwrite").option(MARK_SUCCESS, "false").parquet(curated)
            except Exception:
                # The curated write's error is the one raised; the other outputs' would otherwise go unreported.
                side_error = side.exception()  # waits for the other outputs
                if side_error is not None:
                    log.error("writing the rejects and counts failed too: %s", side_error)
                raise
            side.result()
        write_success_flag(spark, curated)
    finally:
        survivors.unpersist()
    return rows


def write_success_flag(spark: SparkSession, directory: str) -> None:
    """An empty ``_SUCCESS`` in ``directory``, on any Hadoop file system (local, ``s3a://``).

    Hadoop's FileOutputCommitter writes the same empty file; the S3A committers write a JSON summary there instead,
    but the caller's flag target only checks that the file exists. Needs a classic session (py4j), not Spark
    Connect.
    """
    hadoop_fs = spark.sparkContext._jvm.org.apache.hadoop.fs
    flag = hadoop_fs.Path(hadoop_fs.Path(directory), SUCCESS_FLAG)
    flag.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).create(flag, True).close()


def cuts_csv_sources(master: str, csv_parts: int) -> bool:
    """Whether ``main`` cuts the local CSV sources into parts (``--csv-parts``), given the master URL: only for a
    local master, whose executors read this machine's temporary files."""
    return csv_parts != 1 and master.startswith("local")


def stops_its_session(master: str) -> bool:
    """Whether ``main`` stops the session it created before it returns, given the session's master URL.

    Not in local mode: there the driver and executors live in spark-submit's JVM, which exits as soon as this
    process does, and its shutdown hook stops the context ("Invoking stop() from shutdown hook") in about 0.1 s.
    PySpark's ``stop()`` also shuts its accumulator server down, whose handler polls once a second: it added
    0.9 s to every run (SCALE=1, last job to exit: 1.3 s with it, 0.4 s without). On a cluster manager the job
    still stops the context itself, so that the application ends cleanly before the driver process does.
    """
    return not master.startswith("local")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the job from its command line; 0 on success, 2 when a source or the accounting is wrong."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # basicConfig is a no-op when something (pyspark) already gave the root logger a handler.
    logging.getLogger("winepipe").setLevel(logging.INFO)
    args = parse_args(argv)
    existing = SparkSession.getActiveSession()
    parts_dir = None
    try:
        try:
            specs = source_specs(args.sources)
        except ValueError as exc:
            log.error("curation of batch %s failed: %s", args.batch_date, exc)
            return 2
        # spark-submit passed the master to the JVM, whose configuration SparkConf reads before any context exists.
        master = existing.sparkContext.master if existing else SparkConf().get("spark.master", "local[*]")
        if cuts_csv_sources(master, args.csv_parts):
            parts_dir = tempfile.mkdtemp(prefix="winepipe-csv-parts-", dir=args.work_dir)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="winepipe-csv-parts") as pool:
            # The sources are cut while the session starts (py4j waits for the JVM without holding the GIL).
            cutting = pool.submit(cut_csv_sources, specs, args.csv_parts, parts_dir) if parts_dir else None
            spark = existing or SparkSession.builder.appName("winepipe-curate").getOrCreate()
            master = spark.sparkContext.master
            if cutting is not None:
                try:
                    specs = cutting.result()
                except OSError as exc:
                    log.warning("reading the CSV sources uncut: cutting them into parts failed: %s", exc)
        try:
            run(spark, args.batch_date, specs, args.curated, args.rejects, args.counts, args.shuffle_partitions,
                args.curated_files)
        except (SourceSchemaError, AccountingError, ValueError) as exc:
            log.error("curation of batch %s failed: %s", args.batch_date, exc)
            return 2
        finally:
            if existing is None and stops_its_session(master):
                spark.stop()
    finally:
        if parts_dir:
            shutil.rmtree(parts_dir, ignore_errors=True)
    log.info("curation of batch %s done", args.batch_date)
    return 0


if __name__ == "__main__":
    sys.exit(main())
