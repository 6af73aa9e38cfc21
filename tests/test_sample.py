"""The sample-data generator (tasks/sample.py): formats as the real files, determinism, profile, exact manifest.

Pure tests: no services. The generator is loaded from its file so these tests do not depend on the Luigi tasks
that ``tasks/__init__.py`` imports.
"""
from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.real_samples import SAMPLES, SHARED_BESIDE

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_PY = ROOT / "tasks" / "sample.py"
DATE = "2026-11-24"

_spec = importlib.util.spec_from_file_location("winepipe_sample_under_test", SAMPLE_PY)
sample = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = sample  # dataclasses/typing look the module up by name
_spec.loader.exec_module(sample)

CSV130, JSON130, CSV150 = sample.FILE_130K_CSV, sample.FILE_130K_JSON, sample.FILE_150K_CSV
SAMPLE_OF = {CSV130: "winemag-data-130k-v2.head.csv", JSON130: "winemag-data-130k-v2.head.json",
             CSV150: "winemag-data_first150k.head.csv"}


# -- a plain-Python reading of DATA_CONTRACT.md sections 1-5, independent of the generator ------------------------
MAX_LEN = {"country": 64, "designation": 255, "province": 128, "region_1": 128, "region_2": 128,
           "taster_name": 128, "taster_twitter_handle": 64, "title": 512, "variety": 128, "winery": 255}


def _trim(v: Any) -> Any:
    if v is None or not isinstance(v, str):
        return v
    v = v.strip()  # str.strip() removes every character for which isspace() is true, U+00A0 included
    return v or None


def _norm(v: str) -> str:
    return " ".join(v.split())


def _as_int_points(v: Any) -> int | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v) if v.is_integer() else None
    s = str(v).strip()
    if re.fullmatch(r"[+-]?\d+", s):
        return int(s)
    if re.fullmatch(r"[+-]?\d+\.0*", s):
        return int(float(s))
    return None


def _price_ok(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, bool):
        return False
    if isinstance(v, str):
        try:
            v = float(v)
        except ValueError:
            return False
    if not isinstance(v, (int, float)):
        return False
    return 0 < v <= 100000


def read_source(path: Path) -> list[tuple[dict[str, Any] | None, Any]]:
    """Records of a source file as (dict of raw values or None if malformed, raw)."""
    if path.suffix == ".json":
        out = []
        for el in json.loads(path.read_text(encoding="utf-8")):
            out.append((el if isinstance(el, dict) else None, el))
        return out
    text = path.read_bytes().decode("utf-8", errors="surrogateescape").lstrip("\ufeff")
    rows = csv.reader(io.StringIO(text, newline=""))
    header = next(rows)
    cols = header[1:]
    out = []
    for row in rows:
        bad = len(row) != len(header) or any(re.search("[\udc80-\udcff]", f) for f in row)
        out.append((None if bad else {c: (v if v != "" else None) for c, v in zip(cols, row[1:])}, row))
    return out


def reason_of(rec: dict[str, Any] | None) -> str | None:
    """The first failing rule of section 3, or None for a valid record."""
    if rec is None:
        return "malformed_record"
    for f in ("description", "variety", "winery"):
        if _trim(rec.get(f)) is None:
            return f"missing_{f}"
    p = _as_int_points(rec.get("points"))
    if p is None or not 80 <= p <= 100:
        return "bad_points"
    if not _price_ok(rec.get("price")):
        return "bad_price"
    for f, n in MAX_LEN.items():
        v = _trim(rec.get(f))
        if isinstance(v, str) and len(v) > n:
            return "field_too_long"
    return None


def review_key(rec: dict[str, Any]) -> str:
    raw = "\x1f".join(_norm(rec[f]) for f in ("winery", "variety", "description"))
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()


def curate(out: Path) -> dict[str, dict[str, Any]]:
    """Per file: records, rejected per reason, kept and duplicates, sources in the contract's precedence."""
    seen: set[str] = set()
    result = {}
    for name in (CSV130, JSON130, CSV150):
        counts = {"records": 0, "rejected": {r: 0 for r in sample.REASONS}, "kept": 0, "duplicates": 0}
        for rec, _ in read_source(out / name):
            counts["records"] += 1
            reason = reason_of(rec)
            if reason:
                counts["rejected"][reason] += 1
                continue
            key = review_key(rec)
            if key in seen:
                counts["duplicates"] += 1
            else:
                seen.add(key)
                counts["kept"] += 1
        result[name] = counts
    return result


# -- fixtures ----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("s001")
    return out, sample.generate(out, DATE, 0.01, 42)


@pytest.fixture(scope="module")
def medium(tmp_path_factory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("s005")
    return out, sample.generate(out, DATE, 0.05, 42)


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    sample.generate(out, DATE, 0.005, 3, dirty=False)
    return out


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- formats -----------------------------------------------------------------------------------------------------
def _pandas(path: Path) -> pd.DataFrame:
    # One reader for the real rows and the generated ones; nullable dtypes so that NULLs do not turn ints to floats
    if path.suffix == ".json":
        return pd.read_json(path, dtype_backend="numpy_nullable")
    return pd.read_csv(path, index_col=0, dtype_backend="numpy_nullable")


@pytest.mark.parametrize("name", [CSV130, JSON130, CSV150])
def test_pandas_reads_the_same_columns_and_types_as_from_the_real_rows(clean, name):
    real, generated = _pandas(SAMPLES / SAMPLE_OF[name]), _pandas(clean / name)
    assert list(generated.columns) == list(real.columns)
    assert generated.dtypes.to_dict() == real.dtypes.to_dict()
    assert len(generated) == round(sample.REAL_RECORDS[name] * 0.005)


@pytest.mark.parametrize("name", [CSV130, CSV150])
def test_csv_header_line_ends_and_price_format_are_the_real_ones(small, clean, name):
    real = (SAMPLES / SAMPLE_OF[name]).read_bytes()
    for out in (small[0], clean):
        data = (out / name).read_bytes()
        eol = b"\r\n" if name == CSV150 else b"\n"
        assert data.split(eol, 1)[0] + eol == real.split(eol, 1)[0] + eol
        assert data.endswith(eol) and real.endswith(eol)
        if name == CSV130:
            assert b"\r" not in data and b"\r" not in real
        else:  # every record ends with CRLF; a bare LF only occurs inside a quoted description
            records = list(csv.reader(io.StringIO(data.decode("utf-8", "replace"), newline="")))
            assert data.count(b"\r\n") == len(records)
    price_re = r"\d+\.0" if name == CSV130 else r"\d+"
    for text in (real.decode("utf-8"), (clean / name).read_text(encoding="utf-8")):
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        assert rows and all(re.fullmatch(price_re, r["price"]) or r["price"] == "" for r in rows)
        assert all(r[""].isdigit() for r in rows)
        assert [int(r[""]) for r in rows] == list(range(len(rows)))


def test_json_layout_is_the_real_one(clean, small):
    real_text = (SAMPLES / SAMPLE_OF[JSON130]).read_text(encoding="utf-8")
    real = json.loads(real_text)
    for out in (clean, small[0]):
        text = (out / JSON130).read_text(encoding="utf-8")
        assert text.startswith('[{"points": "') and real_text.startswith('[{"points": "')
        assert text.endswith("}]") and real_text.endswith("}]")
        assert "\\u00a0" not in text and "\u00a0" in text  # ensure_ascii=False like the sample
        objs = [o for o in json.loads(text) if isinstance(o, dict)]
        assert {tuple(o) for o in objs} == {tuple(real[0])}  # same keys in the same order
    for o in json.loads((clean / JSON130).read_text(encoding="utf-8")):
        assert isinstance(o["points"], str) and o["points"].isdigit()
        assert o["price"] is None or isinstance(o["price"], float)
        assert all(v is None or isinstance(v, str) for k, v in o.items() if k not in ("points", "price"))


# -- determinism and counts --------------------------------------------------------------------------------------
def test_same_parameters_give_the_same_bytes_and_another_seed_other_bytes(small, tmp_path):
    out, manifest = small
    again = sample.generate(tmp_path / "again", DATE, 0.01, 42)
    other = sample.generate(tmp_path / "other", DATE, 0.01, 43)
    for name in (CSV130, JSON130, CSV150):
        assert _sha(tmp_path / "again" / name) == _sha(out / name) == manifest["files"][name]["sha256"]
        assert again["files"][name] == manifest["files"][name]
        assert _sha(tmp_path / "other" / name) != _sha(out / name)
        assert other["files"][name]["records"] == manifest["files"][name]["records"]
    assert sorted(p.name for p in out.iterdir()) == sorted((CSV130, JSON130, CSV150))  # no .tmp left behind


def test_the_command_line_writes_the_same_files_and_the_manifest(small, tmp_path):
    out, manifest = small
    proc = subprocess.run([sys.executable, str(SAMPLE_PY), "--date", DATE, "--scale", "0.01", "--seed", "42",
                           "--out", str(tmp_path / "cli"), "--manifest", str(tmp_path / "m.json")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert json.loads((tmp_path / "m.json").read_text(encoding="utf-8")) == json.loads(json.dumps(manifest))
    assert "winemag-data_first150k.csv: 1509 records" in proc.stderr
    # a re-run with a current manifest leaves the files alone
    mtimes = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "cli").iterdir()}
    again = sample.generate(tmp_path / "cli", DATE, 0.01, 42, manifest_path=tmp_path / "m.json")
    assert again == json.loads(json.dumps(manifest))
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "cli").iterdir()} == mtimes


def test_another_date_is_another_batch_of_mostly_the_same_reviews(small, tmp_path):
    out, _ = small
    sample.generate(tmp_path, "2026-11-25", 0.01, 42)
    assert _sha(tmp_path / CSV130) != _sha(out / CSV130)
    keys = [{review_key(r) for r, _ in read_source(d / CSV130) if r is not None and reason_of(r) is None}
            for d in (out, tmp_path)]
    assert len(keys[0] & keys[1]) > 0.8 * len(keys[0])


@pytest.mark.parametrize("scale, expected", [(0.01, (1300, 1300, 1509)), (0.001, (130, 130, 151))])
def test_record_counts_are_exact(tmp_path, scale, expected):
    manifest = sample.generate(tmp_path, DATE, scale, 42)
    for name, n in zip((CSV130, JSON130, CSV150), expected):
        assert manifest["files"][name]["records"] == n
        assert len(read_source(tmp_path / name)) == n


def test_the_manifest_counts_are_what_the_contract_makes_of_the_files(small, medium):
    for out, manifest in (small, medium):
        expected = curate(out)
        for name in (CSV130, JSON130, CSV150):
            got = {k: manifest["files"][name][k] for k in ("records", "rejected", "kept", "duplicates")}
            assert got == expected[name], name
        assert manifest["expected_curated"] == sum(e["kept"] for e in expected.values())


def test_every_rejection_reason_and_variant_is_present_at_scale_001(small):
    _, manifest = small
    for name in (CSV130, JSON130, CSV150):
        info = manifest["files"][name]
        assert all(n > 0 for n in info["rejected"].values()), (name, info["rejected"])
        assert sum(info["injected"].values()) == sum(info["rejected"].values())
        assert 0.001 < sum(info["rejected"].values()) / info["records"] < 0.03
        assert info["kept"] > 0 and info["duplicates"] > 0
    kinds = {k.split("=")[0] for k in manifest["files"][CSV130]["injected"]}
    assert {"malformed_field_count", "malformed_wrapped", "malformed_invalid_utf8"} <= kinds
    assert "malformed_not_an_object" in {k.split("=")[0] for k in manifest["files"][JSON130]["injected"]}
    variants = sum(len(v) for kind, _, _, v in sample._DIRTY_130K if kind != "malformed_not_an_object")
    assert len(manifest["files"][CSV130]["injected"]) == variants  # every variant of every kind
    assert len(manifest["files"][CSV150]["injected"]) == variants


def test_dirty_csv_records_never_swallow_their_neighbours(small):
    out, manifest = small
    for name in (CSV130, CSV150):
        rows = [raw for _, raw in read_source(out / name)]
        # each record starts with its own index (a wrapped record: inside the quotes)
        assert [int(r[0].split(",", 1)[0]) for r in rows] == list(range(manifest["files"][name]["records"]))


# -- the JSON mirrors the 130k CSV -------------------------------------------------------------------------------
def test_the_json_holds_the_csv_records_in_the_same_order(medium):
    out, manifest = medium
    csv_recs, json_recs = read_source(out / CSV130), read_source(out / JSON130)
    assert len(csv_recs) == len(json_recs)
    csv_malformed = json_not_object = 0
    for (c, _), (j, _) in zip(csv_recs, json_recs):
        if c is None:  # CSV-only damage: the JSON holds the valid record
            csv_malformed += 1
            assert j is not None and reason_of(j) is None
            continue
        if j is None:
            json_not_object += 1
            assert reason_of(c) is None
            continue
        for k, cv in c.items():
            jv = j[k]
            if k == "price" and cv is not None and re.fullmatch(r"-?\d+(\.\d+)?", cv):
                assert isinstance(jv, (int, float)) and jv == float(cv)
            else:
                assert jv == cv, (k, cv, jv)
    assert csv_malformed == manifest["files"][CSV130]["rejected"]["malformed_record"]
    assert json_not_object == manifest["files"][JSON130]["rejected"]["malformed_record"]


# -- realism -----------------------------------------------------------------------------------------------------
def test_null_rates_and_distributions_are_like_the_public_files(medium):
    out, _ = medium
    recs = [r for r, _ in read_source(out / JSON130) if r is not None and reason_of(r) is None]
    n = len(recs)

    def null_rate(col: str, rows: list[dict[str, Any]]) -> float:
        return sum(r[col] is None for r in rows) / len(rows)

    expected_130 = {"country": 0.0005, "designation": 0.288, "price": 0.069, "province": 0.0005,
                    "region_1": 0.163, "region_2": 0.611, "taster_name": 0.202, "taster_twitter_handle": 0.240,
                    "variety": 0.0, "description": 0.0, "title": 0.0, "winery": 0.0}
    for col, rate in expected_130.items():
        assert abs(null_rate(col, recs) - rate) < 0.035, (col, null_rate(col, recs))
    points = [int(r["points"]) for r in recs]
    prices = [r["price"] for r in recs if r["price"] is not None]
    assert min(points) >= 80 and max(points) <= 100 and 87.8 < statistics.mean(points) < 89.1
    assert min(prices) >= 4 and 20 <= statistics.median(prices) <= 30 and 30 < statistics.mean(prices) < 42
    assert max(prices) > 200
    assert 17 <= len({r["taster_name"] for r in recs if r["taster_name"]}) <= 19
    assert 200 < statistics.mean(len(r["description"]) for r in recs) < 290
    assert len({r["description"] for r in recs}) > 0.85 * n

    recs150 = [r for r, _ in read_source(out / CSV150) if r is not None and reason_of(r) is None]
    expected_150 = {"designation": 0.303, "price": 0.091, "region_1": 0.166, "region_2": 0.596}
    for col, rate in expected_150.items():
        assert abs(null_rate(col, recs150) - rate) < 0.04, (col, null_rate(col, recs150))


def test_text_has_the_real_files_peculiarities(medium):
    out, _ = medium
    raw = (out / CSV130).read_text(encoding="utf-8", errors="replace")
    recs = [r for r, _ in read_source(out / JSON130) if r is not None]
    handles = {r["taster_twitter_handle"] for r in recs}
    tasters = {r["taster_name"] for r in recs}
    assert "@paulgwine\u00a0" in handles and "@paulgwine" not in handles
    assert "Anne Krebiehl\u00a0MW" in tasters and "Kerin O’Keefe" in tasters
    for word in ("Gewürztraminer", "Château", "Vulkà Bianco"):
        assert word in raw
    assert '""' in raw  # quotes inside descriptions, escaped by doubling
    assert sum(1 for r in recs if "\n" in (r["description"] or "")) > 0
    assert sum(1 for r in recs if "  " in (r["title"] or "")) > 0.005 * len(recs)
    assert sum(1 for r in recs if (r["designation"] or "").endswith(" ")) > 0
    # vintage derivable from the title for most reviews
    years = [re.search(r"\b(19\d\d|20[0-2]\d)\b", r["title"] or "") for r in recs]
    assert sum(y is not None for y in years) > 0.9 * len(recs)
    # exact duplicates like the public file's df.duplicated() (~7.7%), plus white-space-only variants
    assert 0.05 < pd.DataFrame(recs).duplicated().mean() < 0.10


def test_the_150k_file_shares_most_reviews_with_the_130k_file(medium):
    out, _ = medium
    keys130 = {review_key(r) for r, _ in read_source(out / CSV130) if r is not None and reason_of(r) is None}
    recs150 = [r for r, _ in read_source(out / CSV150) if r is not None and reason_of(r) is None]
    shared = sum(review_key(r) in keys130 for r in recs150) / len(recs150)
    assert shared > 0.5
    assert any(review_key(r) not in keys130 for r in recs150)


def test_the_projects_copy_of_the_real_samples_equals_the_shared_folder():
    if not SHARED_BESIDE.is_dir():
        pytest.skip(f"no shared folder beside the project ({SHARED_BESIDE}) to compare tests/samples with")
    copy = ROOT / "tests" / "samples"
    names = sorted(p.name for p in SHARED_BESIDE.iterdir())
    assert sorted(p.name for p in copy.iterdir()) == names
    for name in names:
        assert (copy / name).read_bytes() == (SHARED_BESIDE / name).read_bytes(), name
