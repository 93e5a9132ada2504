"""Ids -> readings: the one decoding eval, predict, the API and export share."""

from __future__ import annotations

import numpy as np
import pytest

from plateocr.charset import Charset
from plateocr.inference.decoding import Reading, decode_readings, sequence_confidence, text_length

CS = Charset.from_texts(["AB12"])  # <nul>=0, '0'..'9'=1..10, 'A'=11, 'B'=12


def ids(text: str, length: int = 6) -> list[int]:
    return CS.pad(CS.encode(text), length)


def test_text_stops_at_the_first_null_and_confidences_follow_it():
    chars = np.array([ids("AB1"), [CS.id_of("B"), 0, CS.id_of("A"), 0, 0, 0], ids("AB12B1")])
    scores = np.array([[0.9, 0.8, 0.7, 0.6, 0.5, 0.4], [0.5, 0.9, 0.1, 0.1, 0.1, 0.1], [0.5] * 6])
    masks = np.random.default_rng(0).random((3, 6, 2, 5))
    out = decode_readings(CS, chars, scores, attention_masks=masks)
    assert [r.text for r in out] == ["AB1", "B", "AB12B1"]
    assert out[0].char_confidences == pytest.approx((0.9, 0.8, 0.7))
    # sequence confidence: the characters and the end-of-text null step, nothing after it
    assert out[0].confidence == pytest.approx(0.9 * 0.8 * 0.7 * 0.6)
    assert out[1].confidence == pytest.approx(0.5 * 0.9)
    assert out[2].confidence == pytest.approx(0.5**6)  # no null: every step
    assert out[1].attention.shape == (1, 2, 5) and np.array_equal(out[1].attention[0], masks[1, 0])
    assert decode_readings(CS, chars, scores)[0].attention is None


def test_the_networks_confidence_is_used_when_given():
    out = decode_readings(CS, np.array([ids("A")]), np.array([[0.5] * 6]), confidences=np.array([0.123]))
    assert out[0] == Reading("A", 0.123, (0.5,))


def test_helpers():
    assert text_length(ids("AB"), CS.null_code) == 2
    assert text_length(ids("AB12B1"), CS.null_code) == 6
    assert sequence_confidence([0.5, 0.5, 0.1, 0.1], ids("A", 4), CS.null_code) == pytest.approx(0.25)
