"""The benchmark's Spark floor reads every record of every file, or it would not be a floor."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bench.floors import spark_floor
from bench.space import read_json_line, spark_submit_command
from tests.conftest import ROOT

FLOOR = ROOT / "bench" / "floors" / "spark_floor.py"


def test_the_spark_floor_reads_the_records_of_a_json_array_with_elements_that_are_not_objects(tmp_path):
    # One element that is not an object makes Spark's multiLine JSON reader return the whole file as one
    # corrupt record: the floor once "read" the batch's JSON file that way, as NULLs, and dropped 130k records.
    (tmp_path / "a.json").write_text(json.dumps([
        {"points": "87", "winery": "W1", "variety": "V", "description": "one", "price": 10.0},
        85,
        {"points": "88", "winery": "W2", "variety": "V", "description": "two", "price": None},
        ["88", "W3"],
        {"points": "89", "winery": "W1", "variety": "V", "description": "one", "price": 12.5},
    ]), encoding="utf-8")
    (tmp_path / "b.csv").write_text(
        ",country,description,points,variety,winery\n"
        '0,US,"multi\nline",90,V,W4\n'
        "1,US,two,91,V,W2\n", encoding="utf-8")
    out = tmp_path / "out"
    cmd = spark_submit_command(FLOOR, ["--csv", str(tmp_path / "b.csv"), "--json", str(tmp_path / "a.json"),
                                       "--out", str(out)])
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = read_json_line(proc.stdout)
    assert result["records"] == {"b.csv": 2, "a.json": 5}
    # Distinct (winery, variety, description): W4/multi line, W2/two, W1/one, and the two non-objects'
    # all-NULL key (once).
    assert result["rows"] == 4


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 8, 13, 1 << 20])
def test_the_floors_json_stream_gives_every_element_whatever_the_chunk_size(tmp_path, monkeypatch, chunk):
    data = [{"points": "87", "price": 12.5, "winery": 'é "q" ]['}, 85, 123456, None, [1, [2]],
            {"winery": "x", "price": 1e5}, "s,]", 7]
    path = tmp_path / "a.json"
    # A BOM, white space and line breaks between the elements, and numbers that a chunk can cut in two.
    path.write_text("\ufeff [ " + json.dumps(data)[1:-1].replace(", ", " ,\n ") + " ] \n", encoding="utf-8")
    monkeypatch.setattr(spark_floor, "CHUNK", chunk)
    fields = spark_floor.FIELDS
    assert list(spark_floor.json_array_rows(str(path))) == [
        tuple(None if e.get(k) is None else str(e[k]) for k in fields) if isinstance(e, dict) else (None,) * 13
        for e in data]
    path.write_text("[]", encoding="utf-8")
    assert list(spark_floor.json_array_rows(str(path))) == []
    path.write_text('[{"winery": "x"}, ', encoding="utf-8")
    with pytest.raises(ValueError, match="does not end"):
        list(spark_floor.json_array_rows(str(path)))
