import pytest

from plateocr.charset import Charset, UnknownCharacterError, text_problem
from plateocr.defaults import BASE_ALPHABET
from plateocr.errors import PlateOCRError


def test_default_charset_starts_with_null_and_base_alphabet():
    cs = Charset.from_texts(["AB-12", "XY 9"])
    assert cs.null_code == 0 and cs.chars[0] is None
    assert "".join(cs.chars[1:37]) == BASE_ALPHABET
    # extra characters follow the base alphabet, sorted
    assert cs.chars[37:] == (" ", "-")
    assert cs.num_classes == 39


def test_ids_stable_across_datasets():
    a = Charset.from_texts(["ABC123"])
    b = Charset.from_texts(["ZZZ999", "Ä1"])
    for ch in BASE_ALPHABET:
        assert a.id_of(ch) == b.id_of(ch)


def test_file_round_trip_with_space_and_null(tmp_path):
    cs = Charset.from_texts(["A B", "Ö"])
    path = tmp_path / "charset.txt"
    cs.write(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "0\t<nul>"
    assert "\t<space>" in lines[37]
    again = Charset.read(path)
    assert again == cs
    assert again.decode(again.encode("A BÖ")) == "A BÖ"


def test_encode_pad_decode():
    cs = Charset.from_texts([])
    ids = cs.encode("AB12")
    padded = cs.pad(ids, 8)
    assert padded[4:] == [cs.null_code] * 4
    assert cs.decode(padded) == "AB12"
    with pytest.raises(ValueError):
        cs.pad(ids, 3)


def test_decode_stops_at_first_null():
    cs = Charset.from_texts([])
    ids = cs.encode("AB") + [cs.null_code] + cs.encode("C")
    assert cs.decode(ids) == "AB"


def test_unknown_characters_are_named():
    cs = Charset.from_texts([])
    with pytest.raises(UnknownCharacterError) as e:
        cs.encode("AB#c#")
    assert e.value.chars == ["#", "c"]
    assert "'#'" in str(e.value) and "'c'" in str(e.value)


def test_read_reference_style_charset_with_null_at_end(tmp_path):
    path = tmp_path / "cs.txt"
    path.write_text("0\tA\n1\tB\n2\t<nul>\n", encoding="utf-8")
    cs = Charset.read(path)
    assert cs.null_code == 2
    assert cs.encode("BA") == [1, 0]


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "empty"),
        ("0\tA\n1\tB\n", "exactly one <nul>"),
        ("0\t<nul>\n2\tA\n", "without gaps"),
        ("0\t<nul>\nx\tA\n", "line 2"),
        ("0\t<nul>\n1\tA\n1\tB\n", "listed twice"),
        ("0\t<nul>\n1\tA\n2\tA\n", "once"),
    ],
)
def test_bad_charset_files_get_one_line_errors(tmp_path, content, message):
    path = tmp_path / "cs.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PlateOCRError) as e:
        Charset.read(path)
    assert message in str(e.value)
    assert str(path) in str(e.value)
    assert "\n" not in str(e.value)


def test_missing_charset_file(tmp_path):
    with pytest.raises(PlateOCRError, match="not found"):
        Charset.read(tmp_path / "nope.txt")


LINE_BREAKERS = ["\f", "\x85", "\u2028", "\u2029", "\n", "\r", "\v", "\x1c", "\t", "\x00"]


@pytest.mark.parametrize("char", LINE_BREAKERS)
def test_a_charset_never_writes_a_file_it_cannot_read_back(tmp_path, char):
    cs = Charset.from_texts(["AB" + char + "CD"])
    with pytest.raises(PlateOCRError, match="cannot write the character"):
        cs.write(tmp_path / "cs.txt")
    assert not (tmp_path / "cs.txt").exists()
    assert (
        text_problem("AB" + char + "CD")
        == f"text {'AB' + char + 'CD'!r} holds U+{ord(char):04X}, a line break or control character"
    )


def test_unusual_but_printable_characters_round_trip(tmp_path):
    texts = ["ÄÖÜ ß", "京A·12345", "\u00a0\u3000", "مصر١٢٣", "<nul>x", "#;,\"'\\"]
    cs = Charset.from_texts(texts)
    assert all(text_problem(t) is None for t in texts)
    cs.write(tmp_path / "cs.txt")
    assert Charset.read(tmp_path / "cs.txt") == cs
