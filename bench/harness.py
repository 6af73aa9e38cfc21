"""The benchmark run: prerequisites, data, the contenders in rounds, the row-count check, the report.

Every measured thing is one command in a fresh subprocess (bench.measure.run_measured): its wall time and the
peak RSS of its process tree. Between commands the harness puts the stack into the state the measurement
needs (untimed): empty database, empty bucket or zone, the SFTP files in place.

Rounds: each repeat runs every selected contender once, in the order of CONTENDERS, so that a slow phase of
the machine (other engineers' tests) spreads over all contenders instead of hitting one.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench import BENCH, ROOT
from bench.measure import Run, machine, run_measured
from bench.space import MARIADB_JAR, BenchSpace, read_json_line, spark_submit_command

LUIGI = str(Path(sys.executable).parent / "luigi")
PY = sys.executable

# key: (group selected by --only, label, what it is)
CONTENDERS: dict[str, tuple[str, str, str]] = {
    "pipeline": ("pipeline", "pipeline, cold end to end",
                 "luigi LoadWine, empty bucket and database, SFTP files in place"),
    "pipeline_noop": ("noop", "pipeline, no-op re-run", "luigi LoadWine again when everything is complete"),
    "load": ("load", "stage load: LoadWine", "curated present, table empty, marker absent"),
    "load_floor": ("load", "floor: one LOAD DATA LOCAL INFILE", "the curated rows as TSV into an empty table"),
    "transform": ("transform", "stage transform: TransformWine", "raw present, curated absent"),
    "transform_floor": ("transform", "floor: minimal Spark job",
                        "read 3 files, union, dropDuplicates on the natural key, write Parquet"),
    "extract": ("extract", "stage extract: 3 x ExtractWineFile", "empty raw zone, --workers 3"),
    "extract_floor": ("extract", "floor: OpenSSH sftp get + boto3 upload_file", "the same three files"),
    "seed_style": ("seed_style", "baseline: seed-style",
                   "PySpark -> collect() -> one JSON string in Redis -> Spark JDBC writer"),
    "pandas": ("pandas", "baseline: pandas", "read_csv/json, concat, drop_duplicates, to_sql multi"),
}
GROUPS = ("pipeline", "noop", "load", "transform", "extract", "seed_style", "pandas")
WHOLE_JOB = {"pipeline": "wine_reviews", "seed_style": "wine_reviews_seed", "pandas": "wine_reviews_pandas"}


def prerequisites() -> list[str]:
    """What is missing to run the benchmark, each with the command that fixes it."""
    problems = []
    if not shutil.which("sftp"):
        problems.append("OpenSSH's sftp client is missing: apt-get install -y openssh-client")
    if not shutil.which("java"):
        problems.append("java is missing: apt-get install -y openjdk-17-jre-headless")
    if not MARIADB_JAR.is_file():
        problems.append(f"{MARIADB_JAR} (MariaDB Connector/J, for the seed-style baseline's JDBC writer) is "
                        f"missing: apt-get install -y libmariadb-java")
    for path in ("spark/job.py", "tasks/sample.py"):
        if not (ROOT / path).is_file():
            problems.append(f"{path} does not exist yet")
    status = subprocess.run([PY, "-m", "devstack", "status"], cwd=ROOT, capture_output=True, text=True)
    if status.returncode != 0:
        problems.append("the local stack is not healthy: run `make up`\n" + status.stdout + status.stderr)
    return problems


class SetupError(RuntimeError):
    """The state a measurement needs could not be prepared (e.g. the pipeline itself fails at this scale)."""


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.space = BenchSpace.create(args.namespace)
        self.date = args.date
        self.logs = self.space.work_dir / "logs" / f"scale-{args.scale:g}"
        self.runs: dict[str, list[Run]] = {}
        self.failed: dict[str, Run] = {}
        self.tsv: Path | None = None
        # The generator's manifest of the batch being measured (set by main once the files are generated).
        self.manifest: dict = {}

    # -- helpers ----------------------------------------------------------------------------------
    def luigi(self, *task: str) -> list[str]:
        # Luigi's process lock keys on the command line, not the configuration: without a lock directory of
        # its own, a benchmark in another namespace (the smoke test) running the same date would exit 10.
        return [LUIGI, "--module", task[0], *task[1:], "--date", self.date, "--local-scheduler", "--workers",
                str(self.args.workers), "--lock-pid-dir", str(self.lock_dir)]

    @property
    def lock_dir(self) -> Path:
        return self.space.work_dir / "luigi-lock"

    def clear_stale_locks(self) -> None:
        """Forget the pids of earlier runs: the benchmark runs one command at a time in its namespace.

        Luigi's lock counts every pid of the command's pid file whose /proc cmdline is its own command line,
        its own pid and threads included: once the pid counter wraps (32768 here, and the JVMs use thousands of
        thread ids), a run whose pid or thread id equals a pid left by an earlier run takes itself for a
        running duplicate and exits 10.
        """
        shutil.rmtree(self.lock_dir, ignore_errors=True)

    def measure(self, key: str, cmd: list[str], round_no: int, table: str | None = None,
                luigi_expect: str | None = None, records_expect: dict[str, int] | None = None) -> Run | None:
        if key in self.failed:
            return None
        log_path = self.logs / f"{key}-{round_no}.log"
        print(f"[bench] round {round_no}: {key} ...", file=sys.stderr, flush=True)
        self.clear_stale_locks()
        run = run_measured(cmd, env=self.space.env(), cwd=ROOT, log_path=log_path, time_cap=self.args.time_cap)
        output = log_path.read_text(encoding="utf-8", errors="replace")
        run.extra = read_json_line(output)
        # A stage that found its work already done would look fast: check what Luigi says it did.
        if run.ok and luigi_expect == "ran" and "ran successfully" not in output:
            run.ok, run.reason = False, "Luigi ran no task: the state before the run was wrong (see the log)"
        if run.ok and luigi_expect == "noop" and ("ran successfully" in output or "complete ones" not in output):
            run.ok, run.reason = False, "the no-op re-run did not find everything complete (see the log)"
        # A floor that reads fewer records than the files hold does less than the stage: not a floor.
        if run.ok and records_expect is not None and run.extra.get("records") != records_expect:
            run.ok, run.reason = False, (f"read {run.extra.get('records')} records per file, the manifest has "
                                         f"{records_expect}")
        if run.ok and table:
            run.rows = self.space.count_rows(table)
        elif run.ok and "rows" in run.extra:
            run.rows = int(run.extra["rows"])
        print(f"[bench]   {'ok' if run.ok else 'FAILED'} in {run.seconds:.1f} s, peak RSS "
              f"{run.peak_rss_bytes / 2**20:.0f} MiB{'' if run.rows is None else f', {run.rows} rows'}"
              f"{'' if run.ok else ': ' + run.reason}", file=sys.stderr, flush=True)
        self.runs.setdefault(key, []).append(run)
        if not run.ok:
            self.failed[key] = run
        return run

    def untimed(self, cmd: list[str], what: str) -> None:
        log_path = self.logs / f"setup-{what}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.clear_stale_locks()
        with open(log_path, "wb") as logf:
            proc = subprocess.run(cmd, cwd=ROOT, env=self.space.env(), stdout=logf, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            raise SetupError(f"the untimed set-up step {' '.join(cmd[1:4])} failed (exit {proc.returncode}); "
                             f"see {log_path}")

    def reset_all(self) -> None:
        self.space.reset_database()
        self.space.reset_bucket()
        self.space.reset_redis()

    def ensure_curated(self) -> None:
        """The pipeline's outputs up to TransformWine exist (untimed; a no-op when they do)."""
        self.untimed(self.luigi("tasks", "TransformWine"), "transform")

    def export_tsv(self) -> Path:
        """The curated rows, once, as LOAD DATA text with the pipeline's own encoder (untimed)."""
        if self.tsv is None:
            import pyarrow.parquet as pq

            import tasks.load as pipeline_load
            from tasks.load import COLUMNS
            from tasks.s3 import list_keys, s3_client, split_url
            from tasks.transform import transfer_config

            # The pipeline's own LOAD DATA encoder (named to_load_data_text since the FIFO loader).
            encode = getattr(pipeline_load, "to_load_data_text", None) or pipeline_load.to_load_data_lines
            self.ensure_curated()
            prefix = f"s3://{self.space.bucket}/curated/{self.date}/"
            bucket, _ = split_url(prefix)
            tsv = self.space.work_dir / f"curated-{self.date}.tsv"
            part = self.space.work_dir / "part.parquet"
            with open(tsv, "wb") as out:
                for key in sorted(k for k in list_keys(prefix) if k.endswith(".parquet")):
                    s3_client().download_file(bucket, key, str(part), Config=transfer_config())
                    for batch in pq.ParquetFile(part).iter_batches(batch_size=65536, columns=list(COLUMNS)):
                        out.write(encode(batch))
            part.unlink(missing_ok=True)
            self.tsv = tsv
        return self.tsv

    # -- one round ----------------------------------------------------------------------------------
    def round(self, n: int, only: set[str]) -> None:
        """One timed run of every selected contender; a state that cannot be prepared fails its contenders."""
        for group in GROUPS:
            if group not in only:
                continue
            keys = [k for k, v in CONTENDERS.items() if v[0] == group]
            try:
                getattr(self, f"_group_{group}")(n, only)
            except SetupError as exc:
                for key in keys:
                    if key not in self.failed and len(self.runs.get(key, [])) < n:
                        run = Run(False, 0.0, 0, None, str(exc))
                        self.runs.setdefault(key, []).append(run)
                        self.failed[key] = run
                        print(f"[bench]   {key} FAILED: {exc}", file=sys.stderr, flush=True)

    def _group_pipeline(self, n: int, only: set[str]) -> None:
        self.reset_all()
        self.measure("pipeline", self.luigi("tasks", "LoadWine"), n, table="wine_reviews", luigi_expect="ran")

    def _group_noop(self, n: int, only: set[str]) -> None:
        if "pipeline" not in only or "pipeline" in self.failed:
            self.untimed(self.luigi("tasks", "LoadWine"), "complete")
        self.measure("pipeline_noop", self.luigi("tasks", "LoadWine"), n, luigi_expect="noop")

    def _group_load(self, n: int, only: set[str]) -> None:
        sp = self.space
        self.export_tsv()
        sp.reset_database()
        self.measure("load", self.luigi("tasks", "LoadWine"), n, table="wine_reviews", luigi_expect="ran")
        sp.reset_database()
        from tasks import mysql
        mysql.migrate(mysql.connect(database=sp.database))
        self.measure("load_floor", [PY, "-m", "bench.floors.load_floor", "--tsv", str(self.tsv)], n,
                     table="wine_reviews")

    def _group_transform(self, n: int, only: set[str]) -> None:
        sp = self.space
        if "load" not in only:
            self.ensure_curated()
        sp.reset_bucket("curated", "rejects", "counts")
        self.measure("transform", self.luigi("tasks", "TransformWine"), n, luigi_expect="ran")
        out = sp.work_dir / "spark-floor.parquet"
        shutil.rmtree(out, ignore_errors=True)
        batch = sp.batch_dir(self.date)
        from tasks.config import sources
        inputs = []
        for src in sources():
            inputs += [f"--{src.format}", str(batch / src.file)]
        self.measure("transform_floor",
                     spark_submit_command(BENCH / "floors" / "spark_floor.py", inputs + ["--out", str(out)]), n,
                     records_expect={name: f["records"] for name, f in self.manifest.get("files", {}).items()})
        shutil.rmtree(out, ignore_errors=True)

    def _group_extract(self, n: int, only: set[str]) -> None:
        sp = self.space
        sp.reset_bucket("raw")
        self.measure("extract", self.luigi("bench.stage_tasks", "BenchExtract"), n, luigi_expect="ran")
        sp.reset_bucket("floor")
        dest = sp.work_dir / "extract-floor"
        shutil.rmtree(dest, ignore_errors=True)
        self.measure("extract_floor", [PY, "-m", "bench.floors.extract_floor", "--date", self.date,
                                       "--dest", str(dest)], n)
        shutil.rmtree(dest, ignore_errors=True)
        sp.reset_bucket("floor")

    def _group_seed_style(self, n: int, only: set[str]) -> None:
        self._baseline("seed_style", "bench.baselines.seed_style", "wine_reviews_seed", n, uses_redis=True)

    def _group_pandas(self, n: int, only: set[str]) -> None:
        self._baseline("pandas", "bench.baselines.pandas_baseline", "wine_reviews_pandas", n, uses_redis=False)

    def _baseline(self, name: str, module: str, table: str, n: int, uses_redis: bool) -> None:
        """One whole-job baseline from an empty database, with a download folder of its own."""
        sp = self.space
        sp.reset_database()
        if uses_redis:
            sp.reset_redis()
        dest = sp.work_dir / f"{name.split('_')[0]}-download"
        shutil.rmtree(dest, ignore_errors=True)
        self.measure(name, [PY, "-m", module, "--date", self.date, "--work", str(dest)], n, table=table)
        shutil.rmtree(dest, ignore_errors=True)
        if uses_redis:
            sp.reset_redis()

    def cleanup(self) -> None:
        self.space.drop_database()
        self.space.drop_bucket()
        self.space.reset_redis()
        if self.args.remove_data:
            self.space.remove_data()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench", description="winepipe's benchmark (bench/README.md)")
    ap.add_argument("--scale", type=float, default=1.0, help="1: ~410k records, ~200 MB (default 1)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per contender (default 3)")
    ap.add_argument("--only", default=",".join(GROUPS),
                    help=f"comma-separated groups to run (default all): {','.join(GROUPS)}")
    ap.add_argument("--out", type=Path, default=BENCH,
                    help="directory for RESULTS.md and results.json (default bench/)")
    ap.add_argument("--date", default="2026-03-02", help="the batch date of the generated data")
    ap.add_argument("--seed", type=int, default=42, help="the sample generator's seed")
    ap.add_argument("--workers", type=int, default=3, help="luigi --workers (default 3, as `make run`)")
    ap.add_argument("--time-cap", type=float, default=1200.0,
                    help="seconds after which a contender run is killed and reported as failed (default 1200)")
    ap.add_argument("--namespace", default="bench",
                    help="bench or bench-<suffix>: database winepipe_<ns>, bucket winepipe-<ns>, "
                         "SFTP folder .stack/sftp/<ns>/")
    ap.add_argument("--remove-data", action="store_true",
                    help="also delete the generated SFTP files and bench/work/<ns> at the end")
    args = ap.parse_args(argv)
    dt.date.fromisoformat(args.date)
    only = {g.strip() for g in args.only.split(",") if g.strip()}
    unknown = only - set(GROUPS)
    if unknown:
        ap.error(f"--only: unknown group(s) {', '.join(sorted(unknown))}; known: {', '.join(GROUPS)}")
    args.only_set = only
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    from bench import report

    args = parse_args(argv)
    problems = prerequisites()
    if problems:
        for p in problems:
            print(f"[bench] missing prerequisite: {p}", file=sys.stderr)
        return 2
    bench = Bench(args)
    bench.space.activate()
    started = time.time()
    info = machine()
    print(f"[bench] generating the batch {args.date} at scale {args.scale:g} in {bench.space.batch_dir(args.date)}",
          file=sys.stderr, flush=True)
    manifest = bench.manifest = bench.space.generate(args.date, args.scale, args.seed)
    interrupted = False
    try:
        bench.space.reset_bucket()
        for n in range(1, args.repeat + 1):
            bench.round(n, args.only_set)
    except KeyboardInterrupt:  # Ctrl-C: report what was measured so far, marked as interrupted
        interrupted = True
        print("[bench] interrupted: writing the results measured so far", file=sys.stderr)
    finally:
        info["loadavg_at_end"] = list(os.getloadavg())
        try:
            bench.cleanup()
        except Exception as exc:  # noqa: BLE001 - the results matter more than the clean-up
            print(f"[bench] clean-up failed: {exc}", file=sys.stderr)
    entry = report.scale_entry(args, manifest, bench.runs, bench.failed, info, time.time() - started)
    entry["interrupted"] = interrupted
    results = report.write(args.out, entry, info, argv if argv is not None else sys.argv[1:])
    scale = results["scales"][entry["key"]]
    print(f"[bench] wrote {args.out / 'RESULTS.md'} and {args.out / 'results.json'}", file=sys.stderr)
    if not scale["counts"]["match"]:
        print(f"[bench] ROW COUNTS DIFFER: {scale['counts']['detail']}", file=sys.stderr)
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
