"""Coats of arms, seals and stickers drawn on synthetic plates (plateocr.synth.emblems)."""

from __future__ import annotations

import numpy as np

from plateocr.synth.emblems import (
    draw_country_code,
    draw_group_emblem,
    draw_national_panel,
    draw_seal,
    draw_shield,
    shield_mask,
    widest_gap,
)


def test_shield_mask_has_square_shoulders_and_a_point():
    m = shield_mask(24, 20)
    assert m.shape == (24, 20)
    assert m[1, 1] > 0.9 and m[1, -2] > 0.9  # top corners filled
    assert m[-1, 0] < 0.1 and m[-1, -1] < 0.1  # bottom corners cut away
    assert m[-3, 10] > 0.5  # the point


def test_widest_gap_finds_the_run_between_groups():
    ink = np.zeros((10, 60), np.uint8)
    ink[:, 2:10] = 255
    ink[:, 13:20] = 255  # gap of 3
    ink[:, 30:40] = 255  # gap of 10: the widest
    ink[:, 42:50] = 255
    assert widest_gap(ink) == (20, 30)
    one = np.zeros((10, 20), np.float32)
    one[:, 5:15] = 1.0
    assert widest_gap(one) is None
    assert widest_gap(np.zeros((5, 5), np.uint8)) is None


def test_group_emblems_stay_inside_their_box():
    for seed in range(30):
        plate = np.full((60, 240, 3), 235.0, np.float32)
        x0, x1, y0, y1 = 100, 124, 10, 50
        draw_group_emblem(np.random.default_rng(seed), plate, x0, x1, y0, y1)
        changed = np.abs(plate - 235.0).max(axis=2) > 1
        assert changed[y0:y1, x0:x1].sum() > 20, seed  # something visible was drawn
        changed[y0:y1, x0:x1] = False
        assert changed.sum() <= 4, seed  # anti-aliased edges at most a pixel outside


def test_shields_and_seals_clip_at_the_plate_edges():
    plate = np.full((30, 50, 3), 200.0, np.float32)
    rng = np.random.default_rng(0)
    draw_shield(rng, plate, -5, -4, 12, 14)
    draw_shield(rng, plate, 45, 25, 12, 14)
    draw_seal(rng, plate, 49, 29, 6)
    assert plate.shape == (30, 50, 3) and np.isfinite(plate).all()
    assert np.abs(plate[:8, :6] - 200).max() > 10  # the clipped shield shows in the corner


def test_national_panel_is_a_shield_over_a_code_inside_its_columns():
    coded = 0
    for seed in range(20):
        plate = np.full((60, 240, 3), 235.0, np.float32)
        draw_national_panel(np.random.default_rng(seed), plate, 4, 22, (20.0, 20.0, 20.0))
        changed = np.abs(plate - 235.0).max(axis=2) > 1
        assert not changed[:, 27:].any(), seed  # nothing beyond the panel's columns
        top, bottom = changed[: 60 // 2].sum(), changed[int(60 * 0.68) :].sum()
        assert top > 60, seed  # the coat of arms fills the upper half
        coded += bottom > 5  # the country code, below it (left out now and then)
    assert coded >= 14


def test_country_code_is_drawn_in_the_given_colour_near_the_bottom():
    plate = np.full((50, 30, 3), 100.0, np.float32)
    draw_country_code(np.random.default_rng(1), plate, 0, 30, (250.0, 10.0, 10.0))
    ink = np.abs(plate - 100.0).max(axis=2) > 40
    rows = np.flatnonzero(ink.any(axis=1))
    assert rows.size and rows.min() > 50 * 0.5 and rows.max() < 50
    darkest = plate[ink]
    assert (darkest[:, 0] > darkest[:, 2]).all()  # blended towards the blue-channel colour
