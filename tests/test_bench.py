"""The benchmark harness at a tiny scale, so that it cannot rot: structure only, never timings.

Runs ``python -m bench --scale 0.001 --repeat 1`` once (every contender and floor once, several Spark jobs:
a few minutes) in its own namespace and output directory, and checks results.json and RESULTS.md.
"""
from __future__ import annotations

import json
import secrets
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration

CONTENDERS = ("pipeline", "pipeline_noop", "load", "load_floor", "transform", "transform_floor", "extract",
              "extract_floor", "seed_style", "pandas")


@pytest.fixture(scope="module")
def bench_run(stack, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench-out")
    namespace = f"bench-smoke-{secrets.token_hex(3)}"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--scale", "0.001", "--repeat", "1", "--out", str(out),
         "--namespace", namespace, "--remove-data", "--time-cap", "600"],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    return proc, out, namespace


def test_the_harness_exits_cleanly(bench_run):
    proc, _, _ = bench_run
    assert proc.returncode == 0, proc.stderr[-4000:]


def test_results_json_has_every_contender_and_matching_counts(bench_run):
    _, out, _ = bench_run
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    entry = results["scales"]["0.001"]
    assert set(entry["contenders"]) == set(CONTENDERS)
    for key, contender in entry["contenders"].items():
        assert contender["ok"], f"{key}: {contender['reason']}"
        assert len(contender["runs"]) == 1
        assert {"median_s", "min_s", "max_s", "peak_rss_bytes"} <= set(contender)
        assert contender["peak_rss_bytes"] > 0
    counts = entry["counts"]
    assert counts["match"], counts["detail"]
    assert counts["compared"] == ["pipeline", "seed_style", "pandas"]
    assert counts["per_contender"]["pipeline"] == counts["manifest_expected"]
    assert set(entry["ratios"]) >= {"pipeline_vs_seed_style", "pipeline_vs_pandas", "extract_vs_floor",
                                    "transform_vs_floor", "load_rate_vs_floor"}
    assert all(entry["ratios"][k] is not None for k in entry["ratios"])
    assert {t["result"] for t in entry["targets"]} <= {"PASS", "FAIL", "n/a at this scale"}
    assert {"cores", "memory_bytes", "cpu_model"} <= set(entry["machine"])


def test_results_md_is_written(bench_run):
    _, out, _ = bench_run
    text = (out / "RESULTS.md").read_text(encoding="utf-8")
    assert "## SCALE=0.001" in text
    assert "MISMATCH" not in text
    for label in ("pipeline, cold end to end", "baseline: seed-style", "baseline: pandas", "Machine:"):
        assert label in text


def test_the_namespace_is_cleaned_up(bench_run):
    from tasks.s3 import s3_client

    from tasks import mysql

    _, _, namespace = bench_run
    buckets = {b["Name"] for b in s3_client().list_buckets().get("Buckets", [])}
    assert f"winepipe-{namespace}" not in buckets
    conn = mysql.connect()
    with conn.cursor() as cur:
        cur.execute("SHOW DATABASES LIKE %s", ("winepipe_" + namespace.replace("-", "_"),))
        assert cur.fetchall() == ()
    conn.close()
    assert not (ROOT / ".stack" / "sftp" / namespace).exists()


def test_peak_rss_counts_a_child_that_shares_its_parents_memory_once():
    from bench.measure import resident_total

    # pages: a JVM (10), its child between vfork and exec (11, read a moment later: the JVM's resident set moved),
    # the PySpark daemon (12) and a worker it forked that has memory of its own by now (13)
    parents = {10: 1, 11: 10, 12: 10, 13: 12}
    statm = {10: (1_000_000, 550_000), 11: (1_000_000, 550_012), 12: (40_000, 3_000), 13: (41_000, 2_999)}
    assert resident_total(statm, parents) == 550_000 + 3_000 + 2_999
    # Without its parent in the tree, the same numbers are a process of their own.
    assert resident_total({11: (1_000_000, 550_000)}, parents) == 550_000
