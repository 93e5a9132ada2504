import pytest

from conftest import write_csv
from plateocr.annotations import read_annotations, read_csv_records
from plateocr.errors import PlateOCRError


def test_good_rows_become_annotations_with_their_csv_line(tmp_path):
    csv_path = write_csv(
        tmp_path / "a.csv",
        [
            ("a.jpg", " AB123 ", "10", "50.5", "20", "40"),
            ("b.jpg", "007", 1, 2, 3, 4),
        ],
    )
    good, problems = read_annotations(csv_path)
    assert problems == []
    assert [(a.line, a.file, a.text, a.box) for a in good] == [
        (2, "a.jpg", "AB123", (10.0, 50.5, 20.0, 40.0)),
        (3, "b.jpg", "007", (1.0, 2.0, 3.0, 4.0)),  # leading zeros kept: read as strings
    ]


def test_bad_rows_are_reported_with_line_image_and_reason(tmp_path):
    csv_path = write_csv(
        tmp_path / "a.csv",
        [
            ("ok.jpg", "OK1", 1, 9, 1, 9),
            ("", "NOFILE", 1, 9, 1, 9),
            ("e.jpg", "  ", 1, 9, 1, 9),
            ("n.jpg", "NUM", "ten", 9, 1, 9),
            ("m.jpg", "NAN", 1, 9, "nan", 9),
            ("d.jpg", "DEG", 9, 9, 1, 9),
            ("i.jpg", "INV", 1, 9, 9, 1),
            ("ok2.jpg", "OK2", 1, 9, 1, 9),
        ],
    )
    good, problems = read_annotations(csv_path)
    assert [a.text for a in good] == ["OK1", "OK2"]
    got = {p.line: (p.image, p.reason) for p in problems}
    assert got[3] == ("", "no image file named")
    assert got[4] == ("e.jpg", "empty text")
    assert got[5] == ("n.jpg", "xmin 'ten' is not a number")
    assert got[6] == ("m.jpg", "ymin 'nan' is not a number")
    assert got[7][1].startswith("degenerate box")
    assert got[8][1].startswith("degenerate box")
    assert all(p.source == str(csv_path) for p in problems)


def test_missing_column_is_a_one_line_error_naming_it(tmp_path):
    csv_path = write_csv(
        tmp_path / "a.csv", [("a.jpg", "AB1", 1, 2, 3)], header=("files", "text", "xmin", "xmax", "ymin")
    )
    with pytest.raises(PlateOCRError) as e:
        read_annotations(csv_path)
    msg = str(e.value)
    assert "missing column(s) ymax" in msg and str(csv_path) in msg and "\n" not in msg


def test_header_spaces_and_extra_columns_are_accepted(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("files, text, xmin, xmax, ymin, ymax, note\na.jpg, AB1, 1, 2, 3, 4, hi\n")
    good, problems = read_annotations(path)
    assert problems == [] and good[0].text == "AB1" and good[0].box == (1, 2, 3, 4)


def test_missing_empty_or_unreadable_csv_is_one_line_error(tmp_path):
    with pytest.raises(PlateOCRError, match="file not found"):
        read_csv_records(tmp_path / "nope.csv", ("files",))
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(PlateOCRError, match="empty"):
        read_csv_records(tmp_path / "empty.csv", ("files",))
    (tmp_path / "bin.csv").write_bytes(b"files,text\n\xff\xfe\x00garbage,\x81\n")
    with pytest.raises(PlateOCRError, match="not a readable CSV"):
        read_csv_records(tmp_path / "bin.csv", ("files", "text"))


def test_line_numbers_stay_exact_across_blank_lines_and_multiline_fields(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text(
        "files,text,xmin,xmax,ymin,ymax,note\n"
        "a.jpg,AB1,1,2,3,4,\n"
        "\n"
        'b.jpg,AB2,1,2,3,4,"a note\nover two lines"\n'  # a quoted field over two lines (lines 4-5)
        "c.jpg,AB3,1,2,3,4,\n"
    )
    good, problems = read_annotations(path)
    assert problems == []
    assert [(a.line, a.file) for a in good] == [(2, "a.jpg"), (4, "b.jpg"), (6, "c.jpg")]


def test_rows_with_the_wrong_number_of_fields_are_skipped_not_shifted(tmp_path):
    csv_path = write_csv(
        tmp_path / "a.csv",
        [
            ("a.jpg", "AB1", 1, 2, 3, 4, "extra", "more"),
            ("b.jpg", "AB2", 1, 2),
            ("c.jpg", "AB3", 1, 2, 3, 4),
        ],
    )
    good, problems = read_annotations(csv_path)
    assert [(a.line, a.file, a.text) for a in good] == [(4, "c.jpg", "AB3")]
    assert [(p.line, p.image, p.reason) for p in problems] == [
        (2, "a.jpg", "8 fields, the header has 6"),
        (3, "b.jpg", "4 fields, the header has 6"),
    ]


def test_a_byte_order_mark_from_excel_is_ignored(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes("files,text,xmin,xmax,ymin,ymax\na.jpg,ÄB1,1,2,3,4\n".encode("utf-8-sig"))
    good, problems = read_annotations(path)
    assert problems == [] and good[0].text == "ÄB1"


def test_annotations_that_are_not_text_are_one_line_errors(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"files,text,xmin,xmax,ymin,ymax\n\xff\xfe\x00garbage,\x81\n")
    with pytest.raises(PlateOCRError, match="not a readable CSV") as e:
        read_annotations(path)
    assert "\n" not in str(e.value)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(PlateOCRError, match="empty"):
        read_annotations(tmp_path / "empty.csv")
    with pytest.raises(PlateOCRError, match="file not found"):
        read_annotations(tmp_path / "nope.csv")


def test_a_header_naming_a_column_twice_is_refused(tmp_path):
    path = write_csv(
        tmp_path / "a.csv",
        [("a.jpg", "AB1", 1, 2, 3, 4, "b.jpg")],
        header=("files", "text", "xmin", "xmax", "ymin", "ymax", "files"),
    )
    with pytest.raises(PlateOCRError, match="a.csv: column files appears 2 times in the header; keep one"):
        read_annotations(path)


def test_boxes_all_in_fractions_are_marked_and_give_pixels_for_a_photo_size(tmp_path):
    path = write_csv(tmp_path / "a.csv", [("a.jpg", "AB1", 0.17, 0.44, 0.72, 0.83), ("b.jpg", "CD2", 0, 1, 0, 1)])
    good, problems = read_annotations(path)
    assert problems == [] and all(a.fractions for a in good)
    assert good[0].pixel_box(200, 100) == pytest.approx((34, 88, 72, 83))
    assert good[1].pixel_box(200, 100) == (0, 200, 0, 100)


def test_a_csv_that_is_a_symbolic_link_loop_says_so(tmp_path):
    (tmp_path / "loop.csv").symlink_to(tmp_path / "loop.csv")
    with pytest.raises(PlateOCRError, match=r"loop.csv: cannot open it \(a symbolic link loop\)"):
        read_annotations(tmp_path / "loop.csv")


def test_texts_with_line_breaks_or_control_characters_are_skipped_at_their_row(tmp_path):
    path = write_csv(
        tmp_path / "a.csv",
        [
            ("a.jpg", "AB\fCD", 1, 20, 3, 14),
            ("a.jpg", "AB\u2028CD", 1, 20, 3, 14),
            ("a.jpg", "AB\nCD", 1, 20, 3, 14),
            ("a.jpg", "GOOD", 1, 20, 3, 14),
        ],
    )
    good, problems = read_annotations(path)
    assert [a.text for a in good] == ["GOOD"]
    assert [(p.line, p.reason) for p in problems] == [
        (2, "text 'AB\\x0cCD' holds U+000C, a line break or control character"),
        (3, "text 'AB\\u2028CD' holds U+2028, a line break or control character"),
        (4, "text 'AB\\nCD' holds U+000A, a line break or control character"),
    ]
    assert good[0].line == 6  # the quoted newline spans two lines
