"""spark.job end to end: golden values on the real sample rows, determinism, errors, spark-submit script mode."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from spark.contract import CURATED_SCHEMA, FIELDS, REASONS, REJECTS_SCHEMA
from spark.accounting import SourceCounts
from spark.job import (
    ADAPTIVE, CACHE_COMPRESSED, apply_session_defaults, cut_csv_sources, cuts_csv_sources, main, marked_records,
    parse_args, run, source_specs, stops_its_session,
)
from spark.sources import Deferred
from tests.real_samples import SAMPLES

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BATCH = "2026-11-24"


def sample_sources(json_precedence: int = 2) -> list[dict]:
    return [
        {"name": "reviews_130k_csv", "format": "csv", "precedence": 3,
         "path": str(SAMPLES / "winemag-data-130k-v2.head.csv")},
        {"name": "reviews_130k_json", "format": "json", "precedence": json_precedence,
         "path": str(SAMPLES / "winemag-data-130k-v2.head.json")},
        {"name": "reviews_150k_csv", "format": "csv", "precedence": 1,
         "path": str(SAMPLES / "winemag-data_first150k.head.csv")},
    ]


def outputs(base: Path) -> dict[str, str]:
    return {zone: str(base / zone) for zone in ("curated", "rejects", "counts")}


def run_job(spark, base: Path, sources: list[dict], shuffle_partitions: int | None = None) -> list[dict]:
    out = outputs(base)
    return run(spark, BATCH, sources, out["curated"], out["rejects"], out["counts"], shuffle_partitions)


def sha1_key(winery: str, variety: str, description: str) -> str:
    return hashlib.sha1(f"{winery}\x1f{variety}\x1f{description}".encode()).hexdigest()


def zero_reasons(**nonzero: int) -> dict[str, int]:
    return {**dict.fromkeys(REASONS, 0), **nonzero}


EXPECTED_SAMPLE_COUNTS = [
    {"source_name": "reviews_130k_csv", "records_read": 21, "rejected": 0, "kept": 21, "duplicates": 0,
     "rejected_by_reason": zero_reasons()},
    {"source_name": "reviews_130k_json", "records_read": 21, "rejected": 0, "kept": 0, "duplicates": 21,
     "rejected_by_reason": zero_reasons()},
    {"source_name": "reviews_150k_csv", "records_read": 20, "rejected": 0, "kept": 20, "duplicates": 0,
     "rejected_by_reason": zero_reasons()},
]

NICOSIA_DESCRIPTION = ("Aromas include tropical fruit, broom, brimstone and dried herb. The palate isn't overly "
                       "expressive, offering unripened apple, citrus and dried sage alongside brisk acidity.")


@pytest.fixture(scope="module")
def sample_run(spark, tmp_path_factory):
    base = tmp_path_factory.mktemp("sample_run")
    counts = run_job(spark, base, sample_sources())
    return base, counts


def test_sample_counts_returned_and_written(spark, sample_run):
    base, counts = sample_run
    assert counts == EXPECTED_SAMPLE_COUNTS
    parts = sorted((base / "counts").glob("part-*.json"))
    assert len(parts) == 1 and (base / "counts" / "_SUCCESS").exists()
    written = [json.loads(line) for line in parts[0].read_text(encoding="utf-8").splitlines()]
    assert written == EXPECTED_SAMPLE_COUNTS
    for row in written:
        assert row["records_read"] == row["rejected"] + row["kept"] + row["duplicates"]


def test_sample_output_schemas(spark, sample_run):
    base, _ = sample_run
    curated = spark.read.parquet(str(base / "curated"))
    assert [(f.name, f.dataType) for f in curated.schema.fields] == [
        (f.name, f.dataType) for f in CURATED_SCHEMA.fields]
    rejects = spark.read.parquet(str(base / "rejects"))
    assert [(f.name, f.dataType) for f in rejects.schema.fields] == [
        (f.name, f.dataType) for f in REJECTS_SCHEMA.fields]
    assert rejects.count() == 0
    # Curated's completion flag is written last, once the other outputs are committed.
    flag = (base / "curated" / "_SUCCESS").stat()
    assert flag.st_size == 0
    for zone in ("rejects", "counts"):
        assert flag.st_mtime_ns >= (base / zone / "_SUCCESS").stat().st_mtime_ns


def test_no_completion_flag_when_another_output_fails(spark, tmp_path):
    # The rejects are written beside the curated records: a failure there must leave the curated output
    # without its flag, although its files are complete.
    (tmp_path / "not-a-directory").write_text("")
    out = outputs(tmp_path)
    with pytest.raises(Exception, match="not-a-directory") as failure:
        run(spark, BATCH, sample_sources(), out["curated"], str(tmp_path / "not-a-directory" / "rejects"),
            out["counts"])
    assert len(list((tmp_path / "curated").glob("part-*.parquet"))) == 4, failure.value
    assert not (tmp_path / "curated" / "_SUCCESS").exists()


def test_when_the_curated_output_fails_too_both_failures_are_reported(spark, tmp_path, caplog):
    for name in ("curated-blocker", "rejects-blocker"):
        (tmp_path / name).write_text("")  # a file where a directory should be made
    with caplog.at_level(logging.ERROR, logger="winepipe.spark.job"), \
            pytest.raises(Exception, match="curated-blocker") as failure:
        run(spark, BATCH, sample_sources(), str(tmp_path / "curated-blocker" / "curated"),
            str(tmp_path / "rejects-blocker" / "rejects"), str(tmp_path / "counts"))
    assert "rejects-blocker" not in str(failure.value)
    assert "writing the rejects and counts failed too" in caplog.text and "rejects-blocker" in caplog.text


def test_sample_golden_values(spark, sample_run):
    base, _ = sample_run
    rows = {(r.source_name, r.source_row): r.asDict() for r in spark.read.parquet(str(base / "curated")).collect()}
    assert len(rows) == 41
    assert {name for name, _ in rows} == {"reviews_130k_csv", "reviews_150k_csv"}  # the JSON rows all lost

    nicosia = rows[("reviews_130k_csv", 1)]
    assert nicosia == {
        "review_id": sha1_key("Nicosia", "White Blend", NICOSIA_DESCRIPTION),
        "country": "Italy", "description": NICOSIA_DESCRIPTION, "designation": "Vulkà Bianco", "points": 87,
        "price": None, "province": "Sicily & Sardinia", "region_1": "Etna", "region_2": None,
        "taster_name": "Kerin O’Keefe", "taster_twitter_handle": "@kerinokeefe",
        "title": "Nicosia 2013 Vulkà Bianco  (Etna)", "variety": "White Blend", "winery": "Nicosia",
        "vintage": 2013, "num_wines_of_variety": 1, "source_name": "reviews_130k_csv", "source_row": 1,
        "batch_date": dt.date(2026, 11, 24),
    }
    rainstorm = rows[("reviews_130k_csv", 3)]
    assert rainstorm["taster_twitter_handle"] == "@paulgwine"  # the trailing U+00A0 is trimmed
    assert (rainstorm["price"], rainstorm["designation"], rainstorm["num_wines_of_variety"]) == (
        Decimal("14.00"), None, 2)
    avidagos = rows[("reviews_130k_csv", 2)]
    assert "It's  already drinkable" in avidagos["description"]  # inner double space kept
    setteporte = rows[("reviews_130k_csv", 14)]
    assert (setteporte["title"], setteporte["price"], setteporte["vintage"]) == (
        "Masseria Setteporte 2012 Rosso  (Etna)", None, 2012)
    assert rows[("reviews_130k_csv", 8)]["variety"] == "Gewürztraminer"
    assert rows[("reviews_130k_csv", 8)]["num_wines_of_variety"] == 3

    heitz = rows[("reviews_150k_csv", 1)]
    assert (heitz["winery"], heitz["points"], heitz["price"], heitz["title"], heitz["taster_name"],
            heitz["taster_twitter_handle"], heitz["vintage"], heitz["num_wines_of_variety"]) == (
        "Heitz", 96, Decimal("235.00"), None, None, None, None, 4)
    assert heitz["description"].endswith("Enjoy 2022–2030.") and not heitz["winery"].endswith("\r")
    carmen = rows[("reviews_150k_csv", 2)]
    assert (carmen["winery"], carmen["designation"], carmen["price"]) == (
        "Bodega Carmen Rodríguez", "Carodorum Selección Especial Reserva", Decimal("110.00"))
    assert rows[("reviews_150k_csv", 20)]["num_wines_of_variety"] == 8  # Pinot Noir: 1 + 7
    assert len({r["review_id"] for r in rows.values()}) == 41


def test_every_curated_field_is_trimmed(spark, tmp_path, write_file):
    # The checks trim only the fields the rules read; the job trims the others for the kept records alone.
    padded = {"country": "\u00a0" + "c" * 64 + " ", "description": " d\u3000", "designation": "\tdes ",
              "points": " 90 ", "price": " 15.5\u00a0", "province": "\u2003p ", "region_1": " r1\u00a0",
              "region_2": " r2 ", "taster_name": "\u00a0t ", "taster_twitter_handle": " @h\u3000",
              "title": " Wine 2015 ", "variety": " v ", "winery": " w\u00a0"}
    path = write_file("padded.csv", "," + ",".join(FIELDS) + "\n0," + ",".join(f'"{padded[f]}"' for f in FIELDS))
    counts = run_job(spark, tmp_path, [{"name": "padded", "format": "csv", "precedence": 1, "path": path}])
    assert (counts[0]["kept"], counts[0]["rejected"]) == (1, 0)
    row = spark.read.parquet(str(tmp_path / "curated")).first()
    text = [name for name in FIELDS if name not in ("points", "price")]
    assert [row[name] for name in text] == [padded[name].strip() for name in text]
    assert (row.points, row.price, row.vintage) == (90, Decimal("15.50"), 2015)


def test_json_source_gives_the_same_records_as_the_csv(spark, sample_run, tmp_path):
    base, _ = sample_run
    counts = run_job(spark, tmp_path, sample_sources(json_precedence=4))
    assert [(c["source_name"], c["kept"], c["duplicates"]) for c in counts] == [
        ("reviews_130k_csv", 0, 21), ("reviews_130k_json", 21, 0), ("reviews_150k_csv", 20, 0)]

    def by_id(path: Path) -> dict:
        return {r.review_id: {k: v for k, v in r.asDict().items() if k != "source_name"}
                for r in spark.read.parquet(str(path)).collect()}

    assert by_id(tmp_path / "curated") == by_id(base / "curated")


MESSY_CSV = "\n".join([
    ",country,description,designation,points,price,province,region_1,region_2,variety,winery",
    '0,US,"Same  wine,\nsame text.",,90,20.0,Oregon,,,Pinot Noir,Ponzi',
    '1,US,"\u00a0Same wine, same text.\u3000",,91,21.0,Oregon,,,Pinot\u00a0Noir,Ponzi ',   # duplicate of 1
    '"2,US,wrapped,,90,20.0,Oregon,,,Pinot Noir,Wrapped"',                                  # malformed
    "3,US,pointless,,eighty,20.0,Oregon,,,Pinot Noir,Ponzi",                                # bad_points
    "4,US,cheap,,85,0,Oregon,,,Riesling,Ponzi",                                             # bad_price
    "5,US,fine,,85,9.5,Oregon,,,Riesling,Ponzi",
    ",,,,,,,,,,",                                                                           # missing_description
    ",,,,,,,,,,",
]) + "\n"


def test_rejects_and_duplicates_of_a_messy_source(spark, tmp_path, write_file):
    sources = [{"name": "messy", "format": "csv", "precedence": 1, "path": write_file("messy.csv", MESSY_CSV)},
               {"name": "empty", "format": "csv", "precedence": 2,
                "path": write_file("empty.csv", "," + ",".join(CURATED_SCHEMA.names[1:14]) + "\n")}]
    counts = run_job(spark, tmp_path / "out", sources)
    assert counts == [
        {"source_name": "empty", "records_read": 0, "rejected": 0, "kept": 0, "duplicates": 0,
         "rejected_by_reason": zero_reasons()},
        {"source_name": "messy", "records_read": 8, "rejected": 5, "kept": 2, "duplicates": 1,
         "rejected_by_reason": zero_reasons(malformed_record=1, bad_points=1, bad_price=1, missing_description=2)},
    ]
    rejects = [r.asDict() for r in spark.read.parquet(str(tmp_path / "out" / "rejects"))
               .orderBy("source_row").collect()]
    assert [(r["source_row"], r["reason"]) for r in rejects] == [
        (3, "malformed_record"), (4, "bad_points"), (5, "bad_price"), (7, "missing_description"),
        (8, "missing_description")]
    assert rejects[0]["raw"] == '"2,US,wrapped,,90,20.0,Oregon,,,Pinot Noir,Wrapped"'
    assert json.loads(rejects[1]["raw"]) == {
        "country": "US", "description": "pointless", "designation": None, "points": "eighty", "price": "20.0",
        "province": "Oregon", "region_1": None, "region_2": None, "taster_name": None,
        "taster_twitter_handle": None, "title": None, "variety": "Pinot Noir", "winery": "Ponzi"}
    assert {str(r["batch_date"]) for r in rejects} == {BATCH}
    curated = spark.read.parquet(str(tmp_path / "out" / "curated")).orderBy("source_row").collect()
    assert [(r.source_row, r.winery, r.variety, r.price, r.num_wines_of_variety) for r in curated] == [
        (1, "Ponzi", "Pinot Noir", Decimal("20.00"), 1), (6, "Ponzi", "Riesling", Decimal("9.50"), 1)]
    assert curated[0].description == "Same  wine,\nsame text."


def part_contents(spark, directory: Path) -> list[list[tuple]]:
    """Rows of each part file in stored order, files in part-number order."""
    parts = sorted(directory.glob("part-*.parquet"), key=lambda p: p.name.split("-")[1])
    return [[tuple(r) for r in spark.read.parquet(str(p)).collect()] for p in parts]


def test_same_files_content_whatever_the_shuffle_partitions(spark, tmp_path, write_file):
    sources = [*sample_sources(), {"name": "messy", "format": "csv", "precedence": 0,
                                   "path": write_file("messy.csv", MESSY_CSV)}]
    one = run_job(spark, tmp_path / "one", sources, shuffle_partitions=1)
    seven = run_job(spark, tmp_path / "seven", sources, shuffle_partitions=7)
    spark.conf.set("spark.sql.shuffle.partitions", "4")
    assert one == seven
    for zone in ("curated", "rejects"):
        first = part_contents(spark, tmp_path / "one" / zone)
        assert first == part_contents(spark, tmp_path / "seven" / zone)
        assert sum(len(rows) for rows in first) == (43 if zone == "curated" else 5)
        for rows in first:
            keys = [row[0] for row in rows] if zone == "curated" else [(row[0], row[1]) for row in rows]
            assert keys == sorted(keys)


def test_curated_files_sets_the_curated_layout_not_its_rows(spark, tmp_path, write_file):
    sources = [*sample_sources(), {"name": "messy", "format": "csv", "precedence": 0,
                                   "path": write_file("messy.csv", MESSY_CSV)}]
    four = run_job(spark, tmp_path / "four", sources)
    out = outputs(tmp_path / "three")
    three = run(spark, BATCH, sources, out["curated"], out["rejects"], out["counts"], curated_files=3)
    assert three == four
    default, fewer = part_contents(spark, tmp_path / "four" / "curated"), part_contents(spark, Path(out["curated"]))
    assert (len(default), len(fewer)) == (4, 3)
    assert sorted(row for rows in fewer for row in rows) == sorted(row for rows in default for row in rows)
    assert sum(len(rows) for rows in fewer) == 43
    for rows in fewer:
        assert [row[0] for row in rows] == sorted(row[0] for row in rows)
    assert part_contents(spark, Path(out["rejects"])) == part_contents(spark, tmp_path / "four" / "rejects")


def test_curated_files_must_be_positive(capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--batch-date", BATCH, "--sources", "[]", "--curated", "c", "--rejects", "r", "--counts", "n",
                    "--curated-files", "0"])
    assert exit_info.value.code == 2
    assert "--curated-files: must be at least 1, not 0" in capsys.readouterr().err


def test_adaptive_execution_and_cache_compression_are_off_unless_the_spark_configuration_sets_them(spark, caplog):
    # A session setting is the job's to change; the SparkConf's (spark-submit --conf) is not.
    spark.conf.set(ADAPTIVE, "true")
    spark.conf.set(CACHE_COMPRESSED, "true")
    with caplog.at_level(logging.INFO, logger="winepipe.spark.job"):
        assert apply_session_defaults(spark) == {ADAPTIVE: "false", CACHE_COMPRESSED: "false",
                                                 "spark.sql.files.openCostInBytes": "1099511627776"}
    assert spark.conf.get(ADAPTIVE) == "false" and spark.conf.get(CACHE_COMPRESSED) == "false"
    assert "spark.sql.adaptive.enabled=false (the job's default)" in caplog.text
    assert "spark.sql.inMemoryColumnarStorage.compressed=false (the job's default)" in caplog.text


# HotSpot's HugeMethodLimit: a method of more bytecode is never JIT-compiled, it runs interpreted.
HUGE_METHOD_LIMIT = 8000
# The bytecode the checks' loop may take (5,755 bytes now).
CHECKS_LOOP_BUDGET = 6000


@pytest.mark.parametrize("csv_parts", [1, 3])
def test_generated_code_of_the_checks_stays_jit_compilable(spark, tmp_path, write_file, csv_parts):
    # The checks (trimming, the rules, the de-duplication's sort) are one loop of generated code. At 8,423 bytes
    # it ran interpreted: 19 % of the job's CPU samples at SCALE=10, and 1 % once under the limit. Sources cut into
    # parts must keep source_row non-nullable, or the loop grows (a nullable one ran the stage 40 % slower).
    specs = source_specs([*sample_sources(), {"name": "messy", "format": "csv", "precedence": 0,
                                              "path": write_file("messy.csv", MESSY_CSV)}])
    if csv_parts > 1:
        specs = cut_csv_sources(specs, csv_parts, str(tmp_path))
        assert [len(spec.parts) for spec in specs] == [3, 0, 3, 3]
    apply_session_defaults(spark)  # as run() plans it
    spark.conf.set("spark.sql.csv.parser.columnPruning.enabled", "false")
    marked = marked_records(spark, specs, Deferred(), SourceCounts([spec.name for spec in specs]))
    debug = getattr(spark._jvm.org.apache.spark.sql.execution.debug, "package")
    subtrees = debug.codegenStringSeq(marked._jdf.queryExecution().executedPlan())
    sizes = {subtrees.apply(i)._1().splitlines()[0]: subtrees.apply(i)._3().maxMethodCodeSize()
             for i in range(subtrees.size())}
    assert any(plan.startswith("*") and "Sort [review_id" in plan for plan in sizes), sizes
    # Over the limit after a change to the rules or the trimming: write the new expression with less generated
    # code (as the CASE WHEN of the length rule in spark/rules.py), or measure the job at SCALE=10 with it.
    assert max(sizes.values()) <= HUGE_METHOD_LIMIT, sizes
    # Under the limit, C2's compilation time still grows much faster than the method: the checks' loop took it
    # 3.9 s of a core at 7,921 bytes (every field trimmed there) and 0.4 s at 5,755 (only the fields the rules
    # read; spark.job.marked_records).
    checks = [size for plan, size in sizes.items() if plan.startswith("*") and "Sort [review_id" in plan]
    assert checks and max(checks) <= CHECKS_LOOP_BUDGET, sizes


def single_source_argv(name: str, fmt: str, path: str, out: dict[str, str]) -> list[str]:
    """The job's command line for one source."""
    return ["--batch-date", BATCH, "--sources",
            json.dumps([{"name": name, "format": fmt, "precedence": 1, "path": path}]),
            "--curated", out["curated"], "--rejects", out["rejects"], "--counts", out["counts"]]


def test_main_exits_non_zero_naming_the_missing_column(spark, tmp_path, write_file, caplog):
    header = ",country,description,designation,points,price,province,region_1,region_2,winery"
    path = write_file("novariety.csv", header + "\n0,US,d,,90,10.0,Oregon,,,Ponzi\n")
    out = outputs(tmp_path)
    argv = single_source_argv("broken", "csv", path, out)
    with caplog.at_level(logging.ERROR):
        assert main(argv) == 2
    assert any("broken lacks required column(s): variety" in r.getMessage() for r in caplog.records)
    assert not Path(out["curated"]).exists()


def test_spark_submit_script_mode_with_zipped_package(tmp_path):
    # The package comes only from the zip: the script runs from a copy outside the project, cwd elsewhere.
    package = tmp_path / "spark.zip"
    with zipfile.ZipFile(package, "w") as zf:
        for path in sorted((PROJECT_ROOT / "spark").glob("*.py")):
            zf.write(path, f"spark/{path.name}")
    app = tmp_path / "app" / "job.py"
    app.parent.mkdir()
    shutil.copy(PROJECT_ROOT / "spark" / "job.py", app)
    out = outputs(tmp_path / "out")
    spark_submit = Path(sys.executable).with_name("spark-submit")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SPARK_HOME")}
    env["PYSPARK_PYTHON"] = sys.executable
    cmd = [str(spark_submit), "--master", "local[2]", "--conf", "spark.ui.enabled=false",
           "--conf", "spark.sql.shuffle.partitions=2", "--conf", "spark.sql.adaptive.enabled=true",
           "--conf", "spark.sql.inMemoryColumnarStorage.compressed=true",
           "--py-files", str(package), str(app),
           "--batch-date", BATCH, "--sources", json.dumps(sample_sources()),
           "--curated", out["curated"], "--rejects", out["rejects"], "--counts", out["counts"],
           "--shuffle-partitions", "3"]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-5000:]
    # spark-submit's Python runner merges the driver's stderr (where logging writes) into its stdout.
    assert "INFO winepipe.spark.job: curation of batch 2026-11-24 done" in done.stdout + done.stderr
    for setting in ("spark.sql.adaptive.enabled=true", "spark.sql.inMemoryColumnarStorage.compressed=true"):
        assert f"INFO winepipe.spark.job: {setting} (set in the Spark configuration)" in done.stdout + done.stderr
    part = next(Path(out["counts"]).glob("part-*.json"))
    assert [json.loads(line) for line in part.read_text(encoding="utf-8").splitlines()] == EXPECTED_SAMPLE_COUNTS
    assert (Path(out["curated"]) / "_SUCCESS").exists()
    # In local mode the job leaves stopping the context to the JVM's shutdown hook (stops_its_session), after
    # its last log line; the hook still stops it.
    log_text = done.stdout + done.stderr
    assert log_text.index("curation of batch 2026-11-24 done") < log_text.index(
        "SparkContext: Invoking stop() from shutdown hook") < log_text.index("Successfully stopped SparkContext")


@pytest.mark.parametrize("master, stops", [("local[*]", False), ("local[2]", False), ("local", False),
                                           ("yarn", True), ("spark://host:7077", True),
                                           ("k8s://https://host:6443", True)])
def test_the_job_stops_its_session_itself_only_on_a_cluster_manager(master, stops):
    assert stops_its_session(master) is stops


def test_main_exits_non_zero_for_a_json_source_missing_a_column(spark, tmp_path, write_file, caplog):
    # The job checks a JSON source's keys after its first pass over the data, but still before writing anything.
    path = write_file("nowinery.json", '[{"points": "87", "description": "a", "variety": "V"}, 42]')
    out = outputs(tmp_path)
    argv = single_source_argv("broken_json", "json", path, out)
    with caplog.at_level(logging.ERROR):
        assert main(argv) == 2
    assert any("broken_json lacks required column(s): " in r.getMessage() and "winery" in r.getMessage()
               for r in caplog.records)
    for zone in ("curated", "rejects", "counts"):
        assert not Path(out[zone]).exists()


def test_json_column_present_in_one_record_only_or_null_everywhere_is_fine(spark, tmp_path, write_file):
    # A key counts as present when any object has it, even with null values only.
    path = write_file("sparse.json", '[{"points": "87", "description": "a", "variety": "V", "winery": "W",'
                      ' "country": null, "designation": null, "price": null, "province": null},'
                      ' {"points": "88", "description": "b", "variety": "V", "winery": "W", "region_1": null,'
                      ' "region_2": null}]')
    rows = run_job(spark, tmp_path, [{"name": "sparse", "format": "json", "precedence": 1, "path": path}])
    assert [(r["records_read"], r["kept"], r["rejected"]) for r in rows] == [(2, 2, 0)]


def test_csv_sources_cut_into_parts_give_the_same_files(spark, tmp_path, write_file, caplog):
    sources = [*sample_sources(), {"name": "messy", "format": "csv", "precedence": 0,
                                   "path": write_file("messy.csv", MESSY_CSV)}]
    argv = ["--batch-date", BATCH, "--sources", json.dumps(sources)]
    whole, cut = outputs(tmp_path / "whole"), outputs(tmp_path / "cut")
    assert main([*argv, *[f"--{zone}={path}" for zone, path in whole.items()], "--csv-parts", "1"]) == 0
    work = tmp_path / "work"
    work.mkdir()
    with caplog.at_level(logging.INFO, logger="winepipe.spark.csv_parts"):
        assert main([*argv, *[f"--{zone}={path}" for zone, path in cut.items()], "--csv-parts", "3",
                     "--work-dir", str(work)]) == 0
    assert [m for m in caplog.messages if "cut into" in m] == [
        f"{source['path']}: cut into 3 parts for parallel reading" for source in sources if source["format"] == "csv"]
    assert list(work.iterdir()) == []  # the parts are removed
    for zone in ("curated", "rejects"):
        assert part_contents(spark, Path(cut[zone])) == part_contents(spark, Path(whole[zone]))
    assert spark.read.json(cut["counts"]).collect() == spark.read.json(whole["counts"]).collect()
    assert (Path(cut["curated"]) / "_SUCCESS").exists()


@pytest.mark.parametrize("master, csv_parts, cuts", [
    ("local[*]", 0, True), ("local[2]", 3, True), ("local", 0, True), ("local[*]", 1, False),
    ("yarn", 0, False), ("spark://host:7077", 4, False), ("k8s://https://host:6443", 0, False),
])
def test_csv_sources_are_cut_only_for_a_local_master(master, csv_parts, cuts):
    assert cuts_csv_sources(master, csv_parts) is cuts


def test_compressed_and_remote_csv_sources_are_not_cut(tmp_path):
    import gzip
    text = MESSY_CSV.encode() + b"\n"
    plain, packed = tmp_path / "plain.csv", tmp_path / "packed.csv.gz"
    plain.write_bytes(text)
    packed.write_bytes(gzip.compress(text, compresslevel=0))  # stored: its text would look cuttable
    specs = source_specs([{"name": name, "format": "csv", "precedence": 1, "path": path} for name, path in (
        ("plain", str(plain)), ("packed", str(packed)), ("remote", "s3a://bucket/raw/plain.csv"))])
    (tmp_path / "parts").mkdir()
    cut = cut_csv_sources(specs, 2, str(tmp_path / "parts"))
    assert [len(spec.parts) for spec in cut] == [2, 0, 0]
    assert cut[1:] == specs[1:]
    assert sorted(p.relative_to(tmp_path / "parts").as_posix() for p in (tmp_path / "parts").rglob("*.csv")) == [
        "source-0/part-00000.csv", "source-0/part-00001.csv"]
