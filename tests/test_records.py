"""The tfrecords stage on real crop files, read back with TensorFlow."""

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import write_csv, write_image
from fsns_tf import read_fsns
from plateocr.charset import Charset
from plateocr.errors import OutputExistsError, PlateOCRError
from plateocr.imaging import fit
from plateocr.records import (
    NoUsableRowsError,
    RecordsOptions,
    locate_crops,
    read_rows,
    split_rows,
    write_records,
)
from plateocr.spec import DatasetSpec
from plateocr.defaults import CROP_SIZE

SIZE = CROP_SIZE  # what records fit crops to by default


def make_crops(folder: Path, rows, size=SIZE, seed=0) -> Path:
    """Noise crops (the hardest case for pixel-exact PNGs) named by (file, text) rows, and a
    files,text CSV; a row may give its own image shape third (crops of other sizes); the
    extension picks the format. Returns the CSV."""
    rng = np.random.default_rng(seed)
    for row in rows:
        shape = row[2] if len(row) > 2 else size
        write_image(folder / row[0], rng.integers(0, 256, size=(*shape, 3), dtype=np.uint8))
    return write_csv(folder / "labels.csv", [r[:2] for r in rows], header=("files", "text"))


def unique_rows(n, prefix="P"):
    return [(f"c{i:03d}.png", f"{prefix}{i:03d}") for i in range(n)]


def read_split(out: Path, spec: DatasetSpec, split: str) -> list[dict]:
    files = sorted(out.glob(spec.splits[split].pattern))
    return read_fsns(files, spec.max_sequence_length)


def all_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def skipped(out: Path) -> list[dict]:
    with open(out / "skipped.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_every_record_parses_and_equals_its_crop(tmp_path):
    rows = unique_rows(10) + [
        ("big.png", "BIG1", (100, 400)),  # other sizes are fitted
        ("small.jpg", "SMALL2", (20, 70)),
        ("gray.png", "GRAY3"),
    ]
    crops = tmp_path / "crops"
    make_crops(crops, rows)
    gray = cv2.cvtColor(cv2.imread(str(crops / "gray.png")), cv2.COLOR_BGR2GRAY)
    cv2.imwrite(str(crops / "gray.png"), gray)  # 8-bit grayscale PNG at the target size
    out = tmp_path / "records"

    result = write_records(crops, out, RecordsOptions(split=0.75, seed=1))

    spec = DatasetSpec.read(out)
    charset = Charset.read(out / spec.charset_file)
    assert spec.image_shape == (*SIZE, 3) and spec.num_of_views == 1
    assert spec.max_sequence_length == 6 == result.max_length  # "SMALL2"
    assert spec.num_classes == charset.num_classes and spec.null_code == charset.null_code == 0
    by_text = {r[1]: r[0] for r in rows}
    seen = []
    assert set(spec.splits) == {"train", "val", "test"}
    for split in spec.splits:
        examples = read_split(out, spec, split)
        assert len(examples) == spec.splits[split].size
        for ex in examples:
            file = by_text[ex["text"]]
            expected = fit(cv2.imread(str(crops / file), cv2.IMREAD_COLOR), SIZE)
            assert np.array_equal(ex["image"], expected[:, :, ::-1]), file  # pixel-exact, RGB
            if file.startswith("c"):  # plain RGB PNG at the target size: copied as it is
                assert ex["png"] == (crops / file).read_bytes()
            assert ex["format"] == b"png"
            assert (ex["width"], ex["orig_width"]) == (SIZE[1], SIZE[1])
            n = len(ex["text"])
            assert ex["unpadded"] == charset.encode(ex["text"])
            assert ex["class"][:n] == ex["unpadded"]
            assert ex["class"][n:] == [spec.null_code] * (spec.max_sequence_length - n)
            assert charset.decode(ex["class"]) == ex["text"]
            seen.append(ex["text"])
    assert sorted(seen) == sorted(by_text)
    assert skipped(out) == []


def test_default_charset_is_base_alphabet_then_extras(tmp_path):
    crops = tmp_path / "crops"
    make_crops(crops, [("a.png", "AB-1"), ("b.png", "ÖZ9")])
    write_records(crops, tmp_path / "records")
    charset = Charset.read(tmp_path / "records" / "charset.txt")
    assert charset == Charset.from_texts(["AB-1", "ÖZ9"])
    assert charset.chars[0] is None and "".join(charset.chars[1:37]) == "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    assert charset.chars[37:] == ("-", "Ö")


def test_split_follows_fraction_and_seed_and_is_byte_deterministic(tmp_path):
    crops = tmp_path / "crops"
    make_crops(crops, unique_rows(60))
    opts = RecordsOptions(split=0.83, seed=7, shards=2)
    write_records(crops, tmp_path / "a", opts)
    write_records(crops, tmp_path / "b", opts)
    assert all_bytes(tmp_path / "a") == all_bytes(tmp_path / "b")

    spec = DatasetSpec.read(tmp_path / "a")
    # --split is the training part, val included; val is --val of it (0.1 of 50, but at least 5)
    assert spec.splits["train"].size + spec.splits["val"].size == round(0.83 * 60) == 50
    assert spec.splits["val"].size == 5 and spec.splits["test"].size == 10
    assert spec.seed == 7 and spec.extra["val_fraction"] == 0.1
    names = sorted(p.name for p in (tmp_path / "a").glob("*.tfrecord"))
    assert names == [f"{s}-0000{i}-of-00002.tfrecord" for s in ("test", "train", "val") for i in (0, 1)]

    write_records(crops, tmp_path / "c", RecordsOptions(split=0.83, seed=8, shards=2))
    test_a = {e["text"] for e in read_split(tmp_path / "a", spec, "test")}
    test_c = {e["text"] for e in read_split(tmp_path / "c", spec, "test")}
    assert len(test_c) == 10 and test_a != test_c


def split_texts(out: Path) -> dict[str, list[str]]:
    spec = DatasetSpec.read(out)
    return {split: [e["text"] for e in read_split(out, spec, split)] for split in spec.splits}


def test_same_text_stays_in_one_split(tmp_path):
    rows = [(f"d{t}_{k}.png", f"DUP{t}") for t in range(8) for k in range(3)] + unique_rows(16)
    crops = tmp_path / "crops"
    make_crops(crops, rows)
    write_records(crops, tmp_path / "grouped", RecordsOptions(split=0.5, seed=3))
    texts = split_texts(tmp_path / "grouped")
    assert sum(map(len, texts.values())) == 40
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        assert not set(texts[a]) & set(texts[b]), (a, b)
    assert abs(len(texts["train"]) + len(texts["val"]) - 20) <= 3  # groups of 3 fill the fraction to within a group

    # without grouping, the same seed splits some plate across train and test
    rows_, _ = read_rows(locate_crops(crops))
    train_rows, test_rows = split_rows(rows_, 0.5, seed=3, group_by_text=False)
    assert len(train_rows) == 20
    assert {r.text for r in train_rows} & {r.text for r in test_rows}


def test_plates_are_grouped_by_normalised_text_and_by_photo_across_train_val_and_test(tmp_path):
    # One plate written four ways; crop's manifest names each crop's photo (source): the two plates
    # of a photo are different texts, yet must share a split, as must every spelling of a plate.
    spellings = ["AB 12-CD", "ab12cd", "AB·12·CD", "A.B12 CD"]
    rows = [(f"s{i}.png", t, f"images/car{i}.jpg") for i, t in enumerate(spellings)]
    for p in range(30):  # photos with two plates each (text P<p>X and P<p>Y)
        rows += [
            (f"p{p}x.png", f"P{p:02d}X", f"images/photo{p}.jpg"),
            (f"p{p}y.png", f"P{p:02d}Y", f"images/photo{p}.jpg"),
        ]
    rows += [(f"u{i}.png", f"U{i:03d}", f"images/single{i}.jpg") for i in range(20)]
    crops = tmp_path / "crops"
    make_crops(crops, [r[:2] for r in rows])
    write_csv(crops / "labels.csv", rows, header=("files", "text", "source"))
    photo_of = {t: src for _, t, src in rows}
    from plateocr.records import plate_key

    assert {plate_key(t) for t in spellings} == {"AB12CD"}
    for seed in range(4):
        out = tmp_path / f"records{seed}"
        write_records(crops, out, RecordsOptions(split=0.7, val=0.2, seed=seed))
        texts = split_texts(out)
        assert sum(map(len, texts.values())) == len(rows) and all(texts.values())
        where_key = {}
        where_photo = {}
        for split, ts in texts.items():
            for t in ts:
                assert where_key.setdefault(plate_key(t), split) == split, (t, seed)
                assert where_photo.setdefault(photo_of[t], split) == split, (t, seed)
        spec = DatasetSpec.read(out)
        part = spec.splits["train"].size + spec.splits["val"].size
        assert abs(part - round(0.7 * len(rows))) <= 4  # whole groups (of up to 4) fill the fractions
        assert abs(spec.splits["val"].size - round(0.2 * part)) <= 4 and spec.extra["val_fraction"] == 0.2


def test_val_zero_writes_no_val_split_and_too_few_plates_none_either(tmp_path):
    crops = tmp_path / "crops"
    make_crops(crops, unique_rows(30))
    result = write_records(crops, tmp_path / "none", RecordsOptions(val=0))
    assert set(result.spec.splits) == {"train", "test"} and result.spec.extra["val_fraction"] == 0
    assert not list((tmp_path / "none").glob("val-*"))
    assert any(n.startswith("no val split (--val 0)") for n in result.notes)
    assert result.spec.splits["train"].size == round(0.83 * 30)  # all of the training part trains
    # a few plates only: a quarter of the training part (here 2 of 8); 3 plates: none
    make_crops(tmp_path / "few", unique_rows(10))
    few = write_records(tmp_path / "few", tmp_path / "few_records", RecordsOptions(split=0.8))
    assert (few.spec.splits["train"].size, few.spec.splits["val"].size, few.spec.splits["test"].size) == (6, 2, 2)
    make_crops(tmp_path / "three", unique_rows(3))
    three = write_records(tmp_path / "three", tmp_path / "three_records", RecordsOptions(split=1.0))
    assert "val" not in three.spec.splits and three.spec.splits["train"].size == 3
    assert any(n.startswith("no val split (too few plates: 3 in the training part)") for n in three.notes)
    with pytest.raises(PlateOCRError, match="--val 1.5"):
        write_records(crops, tmp_path / "bad", RecordsOptions(val=1.5))
    # --val 1: val takes all but one plate of the training part, never all of it
    whole = write_records(crops, tmp_path / "whole", RecordsOptions(val=1.0))
    assert whole.spec.splits["train"].size == 1 and whole.spec.splits["val"].size == round(0.83 * 30) - 1


def test_reused_charset_skips_and_reports_unknown_characters(tmp_path):
    crops = tmp_path / "crops"
    make_crops(crops, [("a.png", "AB12"), ("b.png", "ÄB1"), ("c.png", "C3"), ("d.png", "x-1")])
    given = Charset.from_texts([])  # 0-9 A-Z
    given.write(tmp_path / "base_charset.txt")
    out = tmp_path / "records"
    result = write_records(crops, out, RecordsOptions(charset_file=tmp_path / "base_charset.txt", split=1.0, val=0))
    assert Charset.read(out / "charset.txt") == given
    reasons = {r["line"]: r["reason"] for r in skipped(out)}
    assert set(reasons) == {"3", "5"}
    assert "'Ä'" in reasons["3"] and "base_charset.txt" in reasons["3"]
    assert "'x'" in reasons["5"] and "'-'" in reasons["5"]
    assert sorted(e["text"] for e in read_split(out, result.spec, "train")) == ["AB12", "C3"]


def test_bad_rows_are_skipped_with_their_reason_and_good_rows_kept(tmp_path):
    crops = tmp_path / "crops"
    good = unique_rows(6)
    make_crops(crops, good + [("trunc.png", "TRUNC"), ("junk.png", "JUNK"), ("long.png", "TOOLONG7")])
    data = (crops / "trunc.png").read_bytes()
    (crops / "trunc.png").write_bytes(data[: len(data) // 2])
    (crops / "junk.png").write_bytes(b"this is not an image")
    with open(crops / "labels.csv", "a", encoding="utf-8") as f:
        f.write("missing.png,MISS\nc000.png,\n,NOFILE\n")
    out = tmp_path / "records"

    result = write_records(crops, out, RecordsOptions(max_length=6, split=0.5))

    reasons = {int(r["line"]): r for r in skipped(out)}
    assert sorted(reasons) == [8, 9, 10, 11, 12, 13]
    assert reasons[8]["reason"].startswith("corrupt crop: not a readable image")
    assert reasons[8]["image"] == "trunc.png"
    assert reasons[9]["reason"].startswith("corrupt crop: not a readable image")
    assert "too long" in reasons[10]["reason"] and "8 characters" in reasons[10]["reason"]
    assert "not found" in reasons[11]["reason"]
    assert reasons[12]["reason"] == "empty text"
    assert reasons[13]["reason"] == "no crop file named"
    assert len(result.problems) == 6
    texts = [e["text"] for s in result.spec.splits for e in read_split(out, result.spec, s)]
    assert sorted(texts) == [t for _, t in good]
    assert result.spec.max_sequence_length == 6


def test_refuses_to_overwrite_without_force_and_force_clears_old_shards(tmp_path):
    crops = tmp_path / "crops"
    make_crops(crops, unique_rows(12))
    out = tmp_path / "records"
    write_records(crops, out, RecordsOptions(shards=3))
    assert len(list(out.glob("train-*.tfrecord"))) == 3
    before = all_bytes(out)
    with pytest.raises(OutputExistsError):
        write_records(crops, out, RecordsOptions(shards=1))
    assert all_bytes(out) == before
    (out / "notes.txt").write_text("mine")
    result = write_records(crops, out, RecordsOptions(shards=1), force=True)
    assert [p.name for p in out.glob("train-*.tfrecord")] == ["train-00000-of-00001.tfrecord"]
    assert (out / "notes.txt").read_text() == "mine"
    assert len(read_split(out, result.spec, "train")) == result.spec.splits["train"].size


def test_empty_test_split_is_allowed_and_reported(tmp_path):
    crops = tmp_path / "crops"
    make_crops(crops, unique_rows(5))
    result = write_records(crops, tmp_path / "records", RecordsOptions(split=1.0, val=0))
    assert result.spec.splits["train"].size == 5 and result.spec.splits["test"].size == 0
    assert any("test split is empty" in n for n in result.notes)
    assert read_split(tmp_path / "records", result.spec, "test") == []


def test_worker_processes_write_the_same_bytes(tmp_path):
    crops = tmp_path / "crops"
    make_crops(crops, unique_rows(30) + [("odd.png", "ODD", (30, 90))])
    write_records(crops, tmp_path / "one", RecordsOptions(workers=1, shards=2))
    write_records(crops, tmp_path / "two", RecordsOptions(workers=2, shards=2))
    assert all_bytes(tmp_path / "one") == all_bytes(tmp_path / "two")


@pytest.mark.parametrize("workers", [1, 2])
def test_interrupted_run_leaves_no_spec_and_no_partial_shard(tmp_path, workers):
    crops = tmp_path / "crops"
    make_crops(crops, unique_rows(12))
    out = tmp_path / "records"

    def stop_after_six(done, total):
        if done == 6:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_records(crops, out, RecordsOptions(split=1.0, val=0, shards=3, workers=workers), progress=stop_after_six)
    names = sorted(p.name for p in out.iterdir())
    assert names == ["charset.txt", "train-00000-of-00003.tfrecord"]  # shard 0 was complete
    assert len(read_fsns([out / names[1]], 4)) == 4


def test_nothing_usable_is_an_error_and_writes_no_spec(tmp_path):
    crops = tmp_path / "crops"
    make_crops(crops, [("a.png", "A1")])
    (crops / "a.png").write_bytes(b"garbage")
    with pytest.raises(NoUsableRowsError) as e:
        write_records(crops, tmp_path / "records")
    assert len(e.value.problems) == 1
    assert not (tmp_path / "records" / "dataset.json").exists()
    assert not list((tmp_path / "records").glob("*.tfrecord"))

    (crops / "labels.csv").write_text("files,text\nnone.png,A1\n")
    with pytest.raises(NoUsableRowsError):
        write_records(crops, tmp_path / "records2")
    assert not (tmp_path / "records2").exists()


def test_strict_writes_no_spec_when_a_row_is_skipped(tmp_path):
    crops = tmp_path / "crops"
    make_crops(crops, unique_rows(3) + [("bad.png", "BAD")])
    (crops / "bad.png").write_bytes(b"garbage")
    with pytest.raises(PlateOCRError, match="--strict"):
        write_records(crops, tmp_path / "records", RecordsOptions(strict=True))
    assert not (tmp_path / "records" / "dataset.json").exists()
    assert len(skipped(tmp_path / "records")) == 1


def test_wrong_columns_is_a_one_line_error(tmp_path):
    crops = tmp_path / "crops"
    crops.mkdir()
    (crops / "labels.csv").write_text("image,label\na.png,AB\n")
    with pytest.raises(PlateOCRError, match="missing column") as e:
        write_records(crops, tmp_path / "records")
    assert "\n" not in str(e.value)


def test_crop_settings_and_a_csv_of_ready_made_crops(tmp_path):
    # crop.json beside the CSV gives the size, fitting and margin; file names are relative to the CSV
    folder = tmp_path / "mine"
    labels = make_crops(folder, [("sub/a.png", "AA1"), ("sub/b.png", "BB22", (40, 40))], size=(32, 128))
    (folder / "crop.json").write_text(json.dumps({"size": [32, 128], "keep_aspect": True, "margin": 0.1}))
    result = write_records(labels, tmp_path / "records", RecordsOptions(split=1.0))
    spec = result.spec
    assert spec.image_shape == (32, 128, 3) and spec.keep_aspect is True and spec.margin == 0.1
    examples = {e["text"]: e for e in read_split(tmp_path / "records", spec, "train")}
    assert examples["AA1"]["png"] == (folder / "sub/a.png").read_bytes()
    expected = fit(cv2.imread(str(folder / "sub/b.png")), (32, 128), keep_aspect=True)
    assert np.array_equal(examples["BB22"]["image"], expected[:, :, ::-1])
    assert examples["BB22"]["width"] == 128


def test_explicit_size_overrides_and_missing_input_is_an_error(tmp_path):
    crops = tmp_path / "crops"
    make_crops(crops, unique_rows(2))
    result = write_records(crops, tmp_path / "r", RecordsOptions(size=(32, 64), keep_aspect=False, split=1.0))
    assert result.spec.image_shape == (32, 64, 3)
    assert {e["image"].shape for e in read_split(tmp_path / "r", result.spec, "train")} == {(32, 64, 3)}
    with pytest.raises(PlateOCRError, match="no such crops folder"):
        write_records(tmp_path / "missing", tmp_path / "r2")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PlateOCRError, match="no labels.csv"):
        write_records(tmp_path / "empty", tmp_path / "r2")


def test_a_row_with_extra_fields_is_reported_not_shifted(tmp_path):
    # A stray comma must not turn the text into the file name of the next column over.
    from conftest import make_crops

    labels = make_crops(tmp_path / "crops", ["AB123", "CD456", "EF789"])
    lines = labels.read_text().splitlines()
    lines[2] = lines[2] + ",extra"  # the second data row, line 3 of the file
    labels.write_text("\n".join(lines) + "\n")
    result = write_records(tmp_path / "crops", tmp_path / "records", RecordsOptions(split=1.0))
    assert [(p.line, "fields" in p.reason) for p in result.problems] == [(3, True)]
    spec = DatasetSpec.read(tmp_path / "records")
    assert spec.splits["train"].size == 2


def test_labels_with_line_breaks_or_control_characters_are_skipped_and_the_charset_reads_back(tmp_path):
    crops = tmp_path / "crops"
    bad = ["AB\fCD", "AB\x85CD", "AB\u2028CD", "AB\nCD"]  # the last one a quoted newline in the CSV
    make_crops(crops, unique_rows(6) + [(f"bad{i}.png", t) for i, t in enumerate(bad)])
    out = tmp_path / "records"
    result = write_records(crops, out, RecordsOptions(split=0.5))
    reasons = [r["reason"] for r in skipped(out)]
    assert reasons == [f"text {t!r} holds U+{ord(t[2]):04X}, a line break or control character" for t in bad]
    assert Charset.read(out / "charset.txt") == result.charset  # what train reads
    assert result.spec.splits["train"].size + result.spec.splits["test"].size == 6


def test_plain_rgb_pngs_are_copied_others_re_encoded_and_damaged_ones_refused():
    import struct
    import zlib

    from plateocr.imaging import decode_image
    from plateocr.records import crop_png

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    img = np.random.default_rng(0).integers(0, 256, (*SIZE, 3), dtype=np.uint8)
    plain = cv2.imencode(".png", img)[1].tobytes()
    assert crop_png(plain, SIZE, False) == plain
    after_ihdr = 8 + 25
    exif = plain[:after_ihdr] + chunk(b"eXIf", b"MM\x00*\x00\x00\x00\x08\x00\x00") + plain[after_ihdr:]
    gray = cv2.imencode(".png", img[:, :, 0])[1].tobytes()
    for data in (exif, gray, cv2.imencode(".png", img[:, :-8])[1].tobytes()):  # EXIF, grayscale, another size
        again = crop_png(data, SIZE, False)
        assert again != data and decode_image(again).shape == (*SIZE, 3)
    assert np.array_equal(decode_image(crop_png(exif, SIZE, False)), img)
    idat_crc = len(plain) - 12 - 4  # the last 4 bytes before IEND's 12
    for damaged in (plain[: len(plain) // 2], plain[:idat_crc] + bytes([plain[idat_crc] ^ 1]) + plain[idat_crc + 1 :]):
        with pytest.raises(PlateOCRError, match="not a readable image"):
            crop_png(damaged, SIZE, False)
