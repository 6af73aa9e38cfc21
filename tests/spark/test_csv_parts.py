"""spark.csv_parts: a CSV file cut at record boundaries, each part a CSV file of its own (no Spark here)."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from spark.csv_parts import CsvPart, cut_points, parts_for, split_csv

HEADER = b"\xef\xbb\xbf,name,text\n"
# Ten records of 20 bytes each; records 3 and 7 hold quoted line breaks and doubled quotes.
RECORDS = [
    b"0,alpha,plain text1\n",
    b"1,beta,plain text 22\n",
    b'2,gamma,"a\nb ""c"" d"\n',
    b"3,delta,plain text 4\n",
    b"4,eps,plain text 555\n",
    b"5,zeta,plain text 66\n",
    b'6,eta,"x,\n\ny ""z"""\n',
    b"7,theta,plain text8\n",
    b"8,iota,plain text 99\n",
    b"9,kappa,plain text0\n",
]
BODY = b"".join(RECORDS)


def write(tmp_path: Path, content: bytes, name: str = "in.csv") -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


def bodies(parts: list[CsvPart], header: bytes) -> list[bytes]:
    """Each part's text after its header (the first part keeps the file's own)."""
    out = []
    for part in parts:
        data = Path(part.path).read_bytes()
        assert data.startswith(header), part
        out.append(data[len(header):])
    return out


def test_cuts_at_record_boundaries_and_numbers_each_part(tmp_path):
    path = write(tmp_path, HEADER + BODY)
    (tmp_path / "parts").mkdir()
    parts = split_csv(path, 3, str(tmp_path / "parts"))
    # Targets at a third and two thirds of the file's bytes; each cut is the end of the first record ending
    # at or after its target.
    size = len(HEADER + BODY)
    cuts = [offset for offset, _ in cut_points(path, 3)[1]]
    for target, cut in zip((size // 3, size * 2 // 3), cuts):
        assert cut >= target and (HEADER + BODY)[:cut].endswith(b"\n")
    assert [Path(p.path).name for p in parts] == ["part-00000.csv", "part-00001.csv", "part-00002.csv"]
    assert [p.first_row for p in parts] == [1, 4, 8]
    assert bodies(parts, HEADER) == [b"".join(RECORDS[:3]), b"".join(RECORDS[3:7]), b"".join(RECORDS[7:])]


def test_a_record_with_line_breaks_is_never_cut(tmp_path):
    # Every possible target falls inside the long quoted record, so the cut comes after it.
    long = b'1,b,"' + b"line\n" * 40 + b'end"\n'
    path = write(tmp_path, b"h,n,t\n0,a,first\n" + long + b"2,c,last\n")
    parts = split_csv(path, 2, str(tmp_path))
    assert [p.first_row for p in parts] == [1, 3]
    assert bodies(parts, b"h,n,t\n") == [b"0,a,first\n" + long, b"2,c,last\n"]


@pytest.mark.parametrize("chunk_bytes", [1, 7, 64, 1 << 20])
def test_the_same_cuts_whatever_the_chunk_size(tmp_path, chunk_bytes):
    path = write(tmp_path, HEADER + BODY)
    assert cut_points(path, 4, chunk_bytes=chunk_bytes) == cut_points(path, 4)
    # Records end at 34, 55, 77, 98, 119, 140, 160, 180, 201 and 221; the targets are 55, 110 and 165.
    assert cut_points(path, 4) == (14, [(55, 2), (119, 5), (180, 8)])


@pytest.mark.parametrize("content, header, first_rows, texts", [
    # Blank lines are not records.
    (b"h,n\n0,a\n\n\n1,b\n2,c\n\n3,d\n4,e\n", b"h,n\n", [1, 3], [b"0,a\n\n\n1,b\n", b"2,c\n\n3,d\n4,e\n"]),
    # CRLF line ends, inside a quoted field too.
    (b'h,n\r\n0,"a\r\nb"\r\n1,b\r\n\r\n2,c\r\n3,d\r\n', b"h,n\r\n", [1, 3],
     [b'0,"a\r\nb"\r\n1,b\r\n', b"\r\n2,c\r\n3,d\r\n"]),
    # The last record may lack its line end.
    (b"h,n\n0,a\n1,b\n2,c\n3,d", b"h,n\n", [1, 3], [b"0,a\n1,b\n", b"2,c\n3,d"]),
])
def test_cut_in_two(tmp_path, content, header, first_rows, texts):
    parts = split_csv(write(tmp_path, content), 2, str(tmp_path))
    assert [p.first_row for p in parts] == first_rows
    assert bodies(parts, header) == texts


@pytest.mark.parametrize("line", [
    b'5,stray "quote",x\n',          # a quote inside an unquoted field
    b'5,"closed"late,x\n',           # text after a closing quote
    b"5,carriage\rreturn,x\n",       # a carriage return in an unquoted field
    b"5,other,line end\r\n",         # the other kind of line end
])
def test_no_cut_after_text_that_is_not_plain_csv(tmp_path, caplog, line):
    # The parser's view of everything after such text is not certain: the rest of the file stays one part.
    records = [b"%d,name,some text here\n" % i for i in range(10)]
    content = b"h,n,t\n" + b"".join(records[:5]) + line + b"".join(records[5:])
    path = write(tmp_path, content)
    with caplog.at_level(logging.INFO, logger="winepipe.spark.csv_parts"):
        parts = split_csv(path, 4, str(tmp_path))
    # The first cut (after record 3, at the first target) is made; the next target lies past the odd line.
    assert [p.first_row for p in parts] == [1, 4]
    assert b"".join(bodies(parts, b"h,n,t\n")) == content[len(b"h,n,t\n"):]
    assert f"no cut after byte {len(b'h,n,t') + 1 + 5 * 22}" in caplog.text


def test_text_that_is_not_plain_csv_before_the_first_cut_leaves_the_file_whole(tmp_path):
    content = b'h,n\n0,"unclosed\n' + b"".join(b"%d,x\n" % i for i in range(1, 50))
    path = write(tmp_path, content)
    assert split_csv(path, 3, str(tmp_path / "unused")) == [CsvPart(path)]


def test_a_record_longer_than_the_limit_ends_the_cutting(tmp_path):
    long = b'20,"' + b"x" * 300 + b'"\n'
    path = write(tmp_path, b"h,n\n" + b"".join(b"%02d,a\n" % i for i in range(20)) + long + b"21,b\n")
    # Targets 103, 207 and 311: the first cut is after record 20 (byte 104), the next after the long one.
    assert cut_points(path, 4)[1] == [(104, 20), (410, 21)]
    assert cut_points(path, 4, chunk_bytes=16, max_record_bytes=100)[1] == [(104, 20)]
    parts = split_csv(path, 4, str(tmp_path), chunk_bytes=16, max_record_bytes=100)
    assert [p.first_row for p in parts] == [1, 21]


@pytest.mark.parametrize("content", [b"", b"h,n\n", b"h,n", b"\nh,n\n0,a\n1,b\n2,c\n", b"h,n\n0,a\n"])
def test_files_that_are_not_cut(tmp_path, content):
    # Empty, header only (with or without a line end), a blank line before the header, a single record.
    path = write(tmp_path, content)
    assert split_csv(path, 3, str(tmp_path / "unused")) == [CsvPart(path)]
    assert not (tmp_path / "unused").exists()


def test_one_part_asked_is_the_file_itself(tmp_path):
    path = write(tmp_path, HEADER + BODY)
    assert split_csv(path, 1, str(tmp_path)) == [CsvPart(path)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


@pytest.mark.parametrize("size, cores, parts", [
    (0, 2, 1), (8 * 2**20 - 1, 2, 1), (8 * 2**20, 2, 1), (16 * 2**20, 2, 2), (50 * 2**20, 2, 2),
    (50 * 2**20, 8, 6), (500 * 2**20, 8, 8), (500 * 2**20, 1, 1),
])
def test_parts_for_one_a_core_none_under_the_minimum(size, cores, parts):
    assert parts_for(size, cores) == parts
