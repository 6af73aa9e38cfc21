"""spark.sources: CSV and JSON files to records with the right source_row, malformed records captured."""
from __future__ import annotations

import logging

import pytest

from spark.sources import RECORD_COLUMNS, SourceSchemaError, SourceSpec, read_source

HEADER_130K = (",country,description,designation,points,price,province,region_1,region_2,taster_name,"
               "taster_twitter_handle,title,variety,winery")
HEADER_150K = ",country,description,designation,points,price,province,region_1,region_2,variety,winery"


def rec130(index: int, description: str = "Nice wine.", winery: str = "Nicosia", title: str = "Nicosia 2013 X",
           price: str = "15.0") -> str:
    quoted = '"' + description.replace('"', '""') + '"'
    return (f"{index},Italy,{quoted},Vulkà Bianco,87,{price},Sicily & Sardinia,Etna,,Kerin O’Keefe,"
            f"@paulgwine\u00a0,{title},White Blend,{winery}")


def read(spark, path: str, fmt: str = "csv", name: str = "src") -> list:
    df = read_source(spark, SourceSpec(name=name, format=fmt, precedence=1, path=path))
    assert tuple(df.columns) == RECORD_COLUMNS
    return df.orderBy("source_row").collect()


def test_multiline_fields_and_malformed_records_keep_source_row(spark, write_file):
    wrapped = '"' + rec130(1).replace('"', '""') + '"'
    lines = [
        HEADER_130K,
        rec130(0, description='line one\nline two, with "quotes"\n\nand a blank line', winery="First"),
        wrapped,                                   # a record wrapped in an extra pair of quotes
        "2,Italy,too,few",                         # wrong field count
        rec130(3, winery="AfterMalformed"),
        ",,,,,,,,,,",                              # an empty trailing record of a 150k-shaped file
        rec130(5, description="multi\nline\nagain", winery="Last"),
        "",                                        # blank lines are not records
    ]
    rows = read(spark, write_file("a.csv", "\n".join(lines) + "\n"))
    assert [(r.source_row, r.malformed, r.winery) for r in rows] == [
        (1, False, "First"), (2, True, None), (3, True, None), (4, False, "AfterMalformed"), (5, True, None),
        (6, False, "Last")]
    assert rows[0].description == 'line one\nline two, with "quotes"\n\nand a blank line'
    assert rows[0].taster_twitter_handle == "@paulgwine\u00a0"  # as read; trimming is a later rule
    assert rows[1].unparsed_text == wrapped
    assert rows[2].unparsed_text == "2,Italy,too,few"
    assert rows[4].unparsed_text == ",,,,,,,,,,"
    assert rows[3].unparsed_text is None


def test_a_large_multiline_file_is_one_partition_numbered_in_file_order(spark, write_file):
    # Far more bytes than the split size: the reader must still not split the file.
    body = [rec130(i, description=f"record {i + 1}\nsecond line, \"quoted\"", winery=f"W{i + 1}")
            for i in range(3000)]
    path = write_file("big.csv", "\n".join([HEADER_130K, *body]) + "\n")
    previous = spark.conf.get("spark.sql.files.maxPartitionBytes")
    spark.conf.set("spark.sql.files.maxPartitionBytes", "65536")
    try:
        df = read_source(spark, SourceSpec("big", "csv", 1, path))
        rows = df.select("source_row", "winery", "description").collect()
    finally:
        spark.conf.set("spark.sql.files.maxPartitionBytes", previous)
    assert len(rows) == 3000
    assert all(r.winery == f"W{r.source_row}" and r.description.startswith(f"record {r.source_row}\n")
               for r in rows)
    assert sorted(r.source_row for r in rows) == list(range(1, 3001))


def test_bom_and_crlf(spark, write_file):
    content = "\ufeff" + "\r\n".join([HEADER_150K,
                                     '0,US,"crlf\r\ninside",Reserve,96,235,California,Napa Valley,Napa,'
                                     'Cabernet Sauvignon,Heitz',
                                     "1,Spain,plain,,95,110,Northern Spain,Toro,,Tinta de Toro,Numanthia"]) + "\r\n"
    rows = read(spark, write_file("bom.csv", content))
    assert [(r.source_row, r.winery, r.price, r.designation) for r in rows] == [
        (1, "Heitz", "235", "Reserve"), (2, "Numanthia", "110", None)]
    assert rows[0].country == "US"
    # Spark's parser turns a quoted \r\n into \n (documented in spark.sources).
    assert rows[0].description == "crlf\ninside"
    assert rows[0].title is None and rows[0].taster_name is None


def test_header_only_source_has_no_records(spark, write_file):
    assert read(spark, write_file("empty.csv", HEADER_130K + "\n")) == []


def test_extra_unknown_column_is_ignored_with_a_warning(spark, write_file, caplog):
    content = "\n".join([HEADER_150K + ",vintage_note", "0,US,d,,90,10.0,Oregon,,,Pinot Noir,Ponzi,old vines"])
    with caplog.at_level(logging.WARNING, logger="winepipe.spark.sources"):
        rows = read(spark, write_file("extra.csv", content + "\n"), name="extra_src")
    assert [(r.winery, r.malformed) for r in rows] == [("Ponzi", False)]
    assert any(rec.levelno == logging.WARNING and "vintage_note" in rec.getMessage()
               and "extra_src" in rec.getMessage() for rec in caplog.records)


def test_missing_required_column_is_an_error_naming_it(spark, write_file):
    header = HEADER_150K.replace(",winery", "")
    path = write_file("missing.csv", header + "\n0,US,d,,90,10.0,Oregon,,,Pinot Noir\n")
    with pytest.raises(SourceSchemaError, match=r"src lacks required column\(s\): winery"):
        read_source(spark, SourceSpec("src", "csv", 1, path))


def test_invalid_utf8_is_malformed_and_shown_as_replacement_character(spark, write_file):
    good = rec130(0, winery="Before").encode()
    bad = rec130(1, description="caf\x00", winery="Bad").encode().replace(b"caf\x00", b"caf\xe9 \xff")
    after = rec130(2, winery="After").encode()
    rows = read(spark, write_file("latin1.csv", b"\n".join([HEADER_130K.encode(), good, bad, after]) + b"\n"))
    assert [(r.source_row, r.malformed, r.winery) for r in rows] == [
        (1, False, "Before"), (2, True, None), (3, False, "After")]
    assert "caf\ufffd \ufffd" in rows[1].unparsed_text and '"winery":"Bad"' in rows[1].unparsed_text
    # Valid non-ASCII text is untouched.
    assert rows[0].taster_name == "Kerin O’Keefe" and rows[0].designation == "Vulkà Bianco"


def test_json_points_as_string_or_number_and_non_objects_malformed(spark, write_file):
    content = ('[{"points": "87", "price": 15.0, "description": "a", "variety": "V", "winery": "W", '
               '"country": "Italy", "designation": null, "province": "P", "region_1": null, "region_2": null, '
               '"taster_name": "Kerin O’Keefe", "taster_twitter_handle": "@paulgwine\u00a0", "title": "T 2013"},\n'
               ' "not an object",\n 42,\n'
               ' {"points": 87, "price": null, "description": "b", "variety": "V", "winery": "W2", "country": null,'
               ' "designation": "D", "province": null, "region_1": null, "region_2": null},\n'
               ' {"points": "88", "description": {"nested": 1}, "variety": "V", "winery": "W3"},\n'
               ' {"points": 87.0, "price": 235, "description": "c", "variety": "V", "winery": "W4"}]')
    rows = read(spark, write_file("r.json", content), fmt="json")
    assert [(r.source_row, r.malformed, r.points, r.price, r.winery) for r in rows] == [
        (1, False, "87", "15.0", "W"), (2, True, None, None, None), (3, True, None, None, None),
        (4, False, "87", None, "W2"), (5, True, None, None, None), (6, False, "87.0", "235", "W4")]
    assert rows[0].taster_name == "Kerin O’Keefe" and rows[0].taster_twitter_handle == "@paulgwine\u00a0"
    assert rows[1].unparsed_text == '"not an object"' and rows[2].unparsed_text == "42"
    assert rows[4].unparsed_text == '{"points": "88", "description": {"nested": 1}, "variety": "V", "winery": "W3"}'
    assert rows[3].title is None  # an absent key is NULL


def test_json_missing_required_key_everywhere_is_an_error(spark, write_file):
    path = write_file("nowinery.json", '[{"points": "87", "description": "a", "variety": "V"}]')
    with pytest.raises(SourceSchemaError, match="winery"):
        read_source(spark, SourceSpec("json_src", "json", 1, path))


def test_json_empty_array_has_no_records(spark, write_file):
    assert read(spark, write_file("empty.json", "[ ]\n"), fmt="json") == []


def test_utf8_bytes_that_look_like_latin1_line_breaks_are_kept(spark, write_file):
    # "Å" is C3 85 and U+2028 is E2 80 A8: their 0x85 / 0xA8 bytes must not split or alter a record.
    text = "Åland Å\u2028cuvée\u0085end"
    rows = read(spark, write_file("nel.csv", "\n".join([HEADER_130K, rec130(0, description=text, winery="Å"),
                                                        rec130(1, winery="Next")]) + "\n"))
    assert [(r.source_row, r.malformed, r.description, r.winery) for r in rows] == [
        (1, False, text, "Å"), (2, False, "Nice wine.", "Next")]


def test_json_column_check_deferred_to_the_first_full_pass(spark, write_file):
    from spark.sources import Deferred
    path = write_file("nowinery2.json", '[{"points": "87", "description": "a", "variety": "V"}]')
    deferred = Deferred()
    df = read_source(spark, SourceSpec("json_src", "json", 1, path), deferred)  # no pass of its own
    assert df.count() == 1
    with pytest.raises(SourceSchemaError, match="winery"):
        deferred.run_checks()
    good = write_file("good.json", '[{"points": "87", "description": "a", "variety": "V", "winery": "W",'
                      ' "country": null, "designation": null, "price": null, "province": null,'
                      ' "region_1": null, "region_2": null}, "x"]')
    deferred = Deferred()
    df = read_source(spark, SourceSpec("json_src", "json", 1, good), deferred)
    assert df.count() == 2
    deferred.run_checks()


def messy_csv_records() -> list[bytes]:
    """Records of the kinds a batch has, at the start of a file (cut points fall among all of them)."""
    wrapped = '"' + rec130(3).replace('"', '""') + '"'
    kinds = [
        rec130(0, description='two lines,\nwith "quotes"', winery="Multi").encode(),
        b"",                                                               # a blank line: no record
        wrapped.encode(),                                                  # malformed: one field
        b"4,Italy,too,few",                                                # malformed: field count
        rec130(5, description="caf\x00", winery="Bad").encode().replace(b"caf\x00", b"caf\xe9"),  # not UTF-8
        b"   ",                                                            # white space only: a record
        rec130(7, description="\u00c5land \u2028 x", winery="\u00c5").encode(),
        rec130(8, description='""', winery="Quotes").encode(),
    ]
    return [*kinds, *[rec130(i, description=f"d{i}\n{i}", winery=f"W{i}").encode() for i in range(9, 60)]]


@pytest.fixture
def one_file_a_task(spark):
    """The job's session setting (spark.job.SESSION_DEFAULTS) under which a cut source's parts are read."""
    from spark.job import OPEN_COST, SESSION_DEFAULTS
    previous = spark.conf.get(OPEN_COST)
    spark.conf.set(OPEN_COST, SESSION_DEFAULTS[OPEN_COST])
    yield
    spark.conf.set(OPEN_COST, previous)


@pytest.mark.parametrize("eol", [b"\n", b"\r\n"])
@pytest.mark.parametrize("parts", [2, 3, 7])
def test_a_source_cut_into_parts_reads_as_the_whole_file(spark, tmp_path, write_file, one_file_a_task, eol, parts):
    from spark.csv_parts import split_csv
    content = eol.join([b"\xef\xbb\xbf" + HEADER_130K.encode(), *messy_csv_records()]) + eol
    # A stray quote near the end: no cut after it, and the last part holds it as the whole file does.
    content += b'60,Italy,stray "quote,,87,15.0,S,E,,K,@k,T,V,Stray' + eol + rec130(61, winery="Last").encode()
    path = write_file("messy.csv", content)
    (tmp_path / "parts").mkdir()
    cut = split_csv(path, parts, str(tmp_path / "parts"))
    assert len(cut) == parts
    whole = read(spark, path)
    assert [r.source_row for r in whole] == list(range(1, 61))
    assert [r.source_row for r in whole if r.malformed] == [2, 3, 4, 5]
    assert (whole[58].description, whole[59].winery) == ('stray "quote', "Last")
    df = read_source(spark, SourceSpec("src", "csv", 1, path, parts=tuple(cut)))
    assert df.rdd.getNumPartitions() == parts
    assert df.orderBy("source_row").collect() == whole


def test_a_read_that_packs_parts_into_fewer_partitions_is_refused(spark, tmp_path, write_file):
    from spark.csv_parts import split_csv
    path = write_file("p.csv", b"\n".join([HEADER_130K.encode(), *messy_csv_records()]) + b"\n")
    (tmp_path / "parts").mkdir()
    cut = split_csv(path, 3, str(tmp_path / "parts"))
    previous = spark.conf.get("spark.sql.files.openCostInBytes")
    # Files cost only their size, and one task may take all the bytes: the three parts share one task.
    spark.conf.set("spark.sql.files.openCostInBytes", "0")
    spark.conf.set("spark.sql.files.minPartitionNum", "1")
    try:
        with pytest.raises(ValueError, match=r"must be read as 3 partition\(s\), one a file, not 1"):
            read_source(spark, SourceSpec("src", "csv", 1, path, parts=tuple(cut)))
    finally:
        spark.conf.set("spark.sql.files.openCostInBytes", previous)
        spark.conf.unset("spark.sql.files.minPartitionNum")
