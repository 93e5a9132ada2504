"""The renderer's outline fonts: found when present, a user's own font taken, built-in faces
without any, and every layout family rendered at the crop size."""

from __future__ import annotations

import csv
import sys

import cv2
import numpy as np
import pytest
from PIL import ImageFont
from typer.testing import CliRunner

from plateocr.cli import app, main
from plateocr.defaults import BASE_ALPHABET, CROP_SIZE
from plateocr.errors import PlateOCRError
from plateocr.synth import outline_fonts, plate
from plateocr.synth.crops import FAMILY_SHARES, crop_rng, render_crop
from plateocr.synth.outline_fonts import FontChoice, use_fonts


@pytest.fixture
def font_dir(tmp_path):
    """A folder holding one real TrueType font: the one Pillow embeds (Aileron), so the test
    needs no system fonts."""
    d = tmp_path / "myfonts"
    d.mkdir()
    (d / "aileron.otf").write_bytes(ImageFont.load_default(40).font_bytes)
    return d


@pytest.fixture(autouse=True)
def restore_fonts():
    yield
    use_fonts(None)


def test_without_fonts_the_renderer_draws_with_its_built_in_faces(monkeypatch):
    fonts = use_fonts(FontChoice(system=False))
    assert not fonts
    called = []
    monkeypatch.setattr(outline_fonts, "draw_text_mask", lambda *a, **k: called.append(a))
    for seed in range(20):
        ink = plate.text_mask(np.random.default_rng(seed), "AB 123")
        assert ink.max() == 255
    assert called == []


def test_a_user_font_is_drawn_and_covers_the_alphabet(font_dir, monkeypatch):
    fonts = use_fonts(FontChoice(system=False, user_dirs=(str(font_dir),)))
    assert [p.rsplit("/", 1)[-1] for p in fonts.paths] == ["aileron.otf"]
    monkeypatch.setattr(plate, "OUTLINE_SHARE", 1.0)
    seen = []
    real = outline_fonts.draw_text_mask
    monkeypatch.setattr(outline_fonts, "draw_text_mask", lambda *a, **k: seen.append(a[2]) or real(*a, **k))
    ink = plate.text_mask(np.random.default_rng(0), "XY 42")
    assert seen == ["XY 42"] and ink.max() > 127  # (a hollow text is fainter inside)
    # the glyphs are the font's: the outline drawing of 8 differs from the built-in stroke 8
    f = fonts.pick(np.random.default_rng(0))
    glyph8, _, advance = f.glyph("8")
    assert glyph8.max() == 255 and advance > 0


def test_every_character_has_ink_of_its_own(font_dir):
    fonts = use_fonts(FontChoice(system=False, user_dirs=(str(font_dir),)))
    f = fonts.pick(np.random.default_rng(0))
    masks = {c: f.glyph(c)[0] for c in BASE_ALPHABET}
    assert all(m.max() == 255 for m in masks.values())
    assert not np.array_equal(masks["0"], masks["O"]) and not np.array_equal(masks["1"], masks["I"])


def test_upright_m_and_w_point_their_v_from_the_top_and_from_the_bottom(font_dir):
    """The narrow-face M and W (two upright stems, a V between them to part of the height): the
    W's V rises from the bottom (no ink above its point between the stems, as an H with no bar),
    the M's hangs from the top; both reach `depth` and no further."""
    fonts = use_fonts(FontChoice(system=False, user_dirs=(str(font_dir),)))
    f = fonts.pick(np.random.default_rng(0))
    for depth in (0.4, 0.7):
        m, w = outline_fonts._mw_variant("M", f, depth), outline_fonts._mw_variant("W", f, depth)
        assert m.shape == w.shape and m.shape[0] == f.cap_h
        cap, width = m.shape
        mid = width // 2 - outline_fonts._stem(f) // 2  # the V's point column (stems at the sides)
        column_m, column_w = m[:, mid - 1 : mid + 2].max(axis=1) > 127, w[:, mid - 1 : mid + 2].max(axis=1) > 127
        inked_m, inked_w = np.flatnonzero(column_m), np.flatnonzero(column_w)
        # between the stems the M's V ends at its point, `depth` down, the bottom fifth bare;
        # the W's V rises to its point, `depth` up, the top fifth bare (an H with no bar instead)
        assert inked_m.max() == pytest.approx(depth * cap, abs=0.12 * cap) and not column_m[-cap // 5 :].any()
        assert inked_w.min() == pytest.approx((1 - depth) * cap, abs=0.12 * cap) and not column_w[: cap // 5].any()
        # the stems: ink from top to bottom at both sides
        assert (m[:, : width // 4].max(axis=1) > 127).mean() > 0.9 and (
            w[:, -width // 4 :].max(axis=1) > 127
        ).mean() > 0.9
    # drawn on some plates only, in place of the font's own
    drawn = [outline_fonts.draw_text_mask(np.random.default_rng(seed), fonts, "W") for seed in range(30)]
    own = outline_fonts.draw_text_mask(np.random.default_rng(0), fonts, "W")
    assert len({d.tobytes() for d in drawn}) > 1 and own.max() == 255


def test_a_folder_without_fonts_is_refused(tmp_path):
    with pytest.raises(PlateOCRError, match="no .ttf"):
        use_fonts(FontChoice(system=False, user_dirs=(str(tmp_path),)))
    with pytest.raises(PlateOCRError, match="no such font folder"):
        use_fonts(FontChoice(system=False, user_dirs=(str(tmp_path / "missing"),)))


def test_a_file_that_is_no_font_is_refused(tmp_path):
    (tmp_path / "bad.ttf").write_bytes(b"not a font")
    with pytest.raises(PlateOCRError, match="bad.ttf: not a font"):
        use_fonts(FontChoice(system=False, user_dirs=(str(tmp_path),)))


@pytest.mark.parametrize("family", sorted(FAMILY_SHARES))
def test_every_layout_family_renders_at_the_crop_size(family):
    for i in range(6):
        crop, text = render_crop(crop_rng(3, i), family=family)
        assert crop.shape == (*CROP_SIZE, 3) and crop.dtype == np.uint8
        assert 3 <= len(text) <= 10 and set(text) <= set(BASE_ALPHABET)
        grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
        assert np.percentile(grey, 95) - np.percentile(grey, 5) > 20  # something is drawn
    crop, text = render_crop(crop_rng(3, 99), text="AB123CD", family=family)
    assert text == "AB123CD"


def test_synth_takes_a_user_font_and_writes_a_contact_sheet(tmp_path, font_dir):
    res = CliRunner().invoke(
        app,
        [
            "synth",
            str(tmp_path / "out"),
            "--crops",
            "--count",
            "10",
            "--workers",
            "1",
            "--no-system-fonts",
            "--fonts",
            str(font_dir),
            "--sheet",
            str(tmp_path / "sheet.png"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "1 outline fonts" in res.output
    sheet = cv2.imread(str(tmp_path / "sheet.png"))
    with open(tmp_path / "out" / "labels.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 10
    # 8 columns x 2 rows of 2x-scaled crops
    assert sheet.shape[1] > 8 * 2 * CROP_SIZE[1] and 2 * 2 * CROP_SIZE[0] < sheet.shape[0] < 3 * 2 * CROP_SIZE[0] + 60


def test_synth_with_a_bad_font_folder_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(
        sys,
        "argv",
        ["plateocr", "synth", str(tmp_path / "out"), "--crops", "--count", "2", "--fonts", str(tmp_path / "nofonts")],
    )
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code != 0
    err = capsys.readouterr().err.strip()
    assert "nofonts: no such font folder" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_writing_crops_leaves_the_process_fonts_as_they_were(tmp_path, font_dir):
    from plateocr.synth.crop_dataset import write_crops

    before = use_fonts(FontChoice(system=False, user_dirs=(str(font_dir),)))
    write_crops(tmp_path / "c", 2, seed=0, fonts=FontChoice(system=False))
    assert outline_fonts.active() is before and len(before.paths) == 1


@pytest.mark.parametrize("text", ["", " ", "-", "ab1"])
def test_render_crop_refuses_a_text_outside_the_alphabet(text):
    with pytest.raises(ValueError, match="plate text"):
        render_crop(crop_rng(0, 0), text=text)
