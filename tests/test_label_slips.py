"""Labels that look like O/0 or I/1 slips: found by the formats of the other labels, on real
label sets, and what the records then hold."""

import csv
from pathlib import Path

from fsns_tf import read_fsns
from plateocr.charset import Charset
from plateocr.label_slips import find_slips
from plateocr.records import LABEL_CHECKS_FILE, RecordsOptions, write_records
from plateocr.spec import DatasetSpec
from test_records import make_crops

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def labels(path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as f:
        return [row["text"].strip() for row in csv.DictReader(f)]


def test_the_real_eu_labels_that_write_the_letter_o_for_a_zero_are_found(real_plates):
    slips = find_slips(labels(real_plates / "annot.csv"))
    # Slovak plates (LL NNN LL) labelled with a letter O among their digits, and a Czech one
    assert {t: s.suggested for t, s in slips.items()} == {
        "RKO99AN": "RK099AN",
        "RKO26AJ": "RK026AJ",
        "RKO82AL": "RK082AL",
        "RK3OOAG": "RK300AG",
        "4BO4979": "4B04979",
    }
    assert slips["RK3OOAG"].own_format == "LLNLLLL" and slips["RK3OOAG"].suggested_format == "LLNNNLL"
    # left alone: an O where the format has a letter (BA302OZ), a Polish W053011 that only three
    # swaps would fit to a common format, OY09FEU's format, which no label of the set shares, and
    # RK6O5AB, whose format the vanity plate VW4X4WP shares with an X where the O stands
    assert not {"BA302OZ", "BB135BO", "W053011", "OYO9FEU", "RK6O5AB"} & set(slips)


def test_no_label_is_taken_for_a_slip_in_the_argentine_set_or_the_sample(real_ar_plates):
    # old LLL NNN plates with a real letter O (OIN290, OPT205) sit beside the Mercosur LL NNN LL
    ar = labels(real_ar_plates / "labels.csv")
    assert any(t.startswith("O") for t in ar)
    assert find_slips(ar) == {}
    assert find_slips(labels(SAMPLE / "annot.csv")) == {}


def test_a_rare_format_needs_ten_times_as_many_labels_against_it():
    assert find_slips(["AB123CD"] * 9 + ["ABO23CD"]) == {}  # 9 labels are too few to judge by
    assert find_slips(["AB123CD"] * 10 + ["ABO23CD"])["ABO23CD"].suggested == "AB023CD"
    # a format 10 labels follow does not overrule one that 2 follow (a real second series)
    assert find_slips(["AB123CD"] * 10 + ["ABO23CD", "XYO45ZZ"]) == {}
    assert set(find_slips(["AB123CD"] * 20 + ["ABO23CD", "XYO45ZZ"])) == {"ABO23CD", "XYO45ZZ"}


def test_a_rare_series_with_other_characters_where_the_swap_would_be_is_left_alone():
    # Brazil: old LLL NNNN plates and a few Mercosur LLL N L NN, whose letter may be an I
    old = [f"ABC{i:04d}" for i in range(40)]
    assert find_slips(old + ["ABC1I23", "XYZ4D56"]) == {}
    assert find_slips(old + ["ABC1I23", "XYZ4I56"]).keys() == {"ABC1I23", "XYZ4I56"}


def test_i_for_one_and_a_zero_for_the_letter_o_are_slips_too():
    slips = find_slips(["ABC1234"] * 10 + ["ABCI234"] + ["ABCD12"] * 10 + ["AB0D12"])
    assert slips["ABCI234"].suggested == "ABC1234"
    assert slips["AB0D12"].suggested == "ABOD12"
    assert "ABC1234" not in slips and "ABCD12" not in slips


def test_labels_in_lower_case_are_checked_in_their_case():
    slips = find_slips(["ab123cd"] * 20 + ["abo23cd", "abc123"] + ["abc123"] * 20 + ["ab0123"])
    assert slips["abo23cd"].suggested == "ab023cd" and slips["ab0123"].suggested == "abo123"


def plates_with_one_slip(folder, slip_text="ABO23CD"):
    rows = [(f"c{i:03d}.png", f"AB{i:03d}CD") for i in range(1, 40)] + [("slip.png", slip_text)]
    return make_crops(folder, rows)


def split_texts(out) -> dict[str, list[str]]:
    spec = DatasetSpec.read(out)
    return {
        s: [e["text"] for e in read_fsns(sorted(out.glob(spec.splits[s].pattern)), spec.max_sequence_length)]
        for s in spec.splits
    }


def checks(out) -> list[dict]:
    with open(out / LABEL_CHECKS_FILE, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_records_train_on_the_suggested_text_and_test_keeps_the_label(tmp_path):
    csv_path = plates_with_one_slip(tmp_path / "crops")
    found = {}
    for seed in range(12):  # the slip lands in train or val on some seeds and in test on others
        out = tmp_path / f"records{seed}"
        result = write_records(csv_path, out, RecordsOptions(seed=seed))
        (check,) = checks(out)
        assert (check["label"], check["suggested"], check["line"]) == ("ABO23CD", "AB023CD", "41")
        texts = split_texts(out)
        split = check["split"]
        expected = "ABO23CD" if split == "test" else "AB023CD"
        assert check["written"] == expected and expected in texts[split]
        assert "ABO23CD" not in texts["train"] + texts.get("val", [])
        # the slip and the real AB023CD are one plate: both in the slip's split, in no other
        assert [name for name, t in texts.items() if "AB023CD" in t] == [split]
        assert texts[split].count("AB023CD") + texts[split].count("ABO23CD") == 2
        assert DatasetSpec.read(out).extra["labels_fixed"] == int(split != "test")
        assert DatasetSpec.read(out).extra["fix_labels"] is True
        assert [c.label for c in result.label_checks] == ["ABO23CD"]
        found[split == "test"] = True
    assert found == {True: True, False: True}


def test_keep_labels_trains_on_them_as_given_and_still_lists_them(tmp_path):
    csv_path = plates_with_one_slip(tmp_path / "crops")
    out = tmp_path / "records"
    write_records(csv_path, out, RecordsOptions(split=1.0, val=0.0, fix_labels=False))
    assert "ABO23CD" in split_texts(out)["train"]
    assert [(c["label"], c["written"]) for c in checks(out)] == [("ABO23CD", "ABO23CD")]
    assert DatasetSpec.read(out).extra["labels_fixed"] == 0 and DatasetSpec.read(out).extra["fix_labels"] is False


def test_a_reused_charset_without_the_suggested_character_keeps_the_label(tmp_path):
    # a country without the letter O: "AB0D12" looks like a slip for "ABOD12", which it cannot encode
    rows = [(f"c{i}.png", f"AB{c}D{i}{i}") for i, c in enumerate("ABCDEFGHJK")] + [("slip.png", "AB0D12")]
    csv_path = make_crops(tmp_path / "crops", rows)
    Charset.from_texts([], base="0123456789ABCDEFGHIJKLMNPQRSTUVWXYZ").write(tmp_path / "charset.txt")
    out = tmp_path / "records"
    write_records(csv_path, out, RecordsOptions(split=1.0, val=0.0, charset_file=tmp_path / "charset.txt"))
    assert [(c["label"], c["suggested"], c["written"]) for c in checks(out)] == [("AB0D12", "ABOD12", "AB0D12")]
    assert "AB0D12" in split_texts(out)["train"]
