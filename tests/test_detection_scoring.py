import numpy as np
import pytest

from plateocr.detection.scoring import DetectionScore, iou, match


def test_iou_of_hand_made_boxes():
    a = (0, 10, 0, 10)
    assert iou(a, a) == 1.0
    assert iou(a, (5, 15, 0, 10)) == pytest.approx(50 / 150)
    assert iou(a, (0, 5, 0, 5)) == pytest.approx(25 / 100)
    assert iou(a, (10, 20, 0, 10)) == 0.0  # touching edges: xmax is exclusive
    assert iou(a, (3, 3, 0, 10)) == 0.0  # no area
    assert iou((3, 3, 3, 3), (3, 3, 3, 3)) == 0.0


def test_iou_broadcasts_one_box_against_many_and_every_pair():
    boxes = np.array([(0, 10, 0, 10), (5, 15, 0, 10), (20, 30, 0, 10)], float)
    np.testing.assert_allclose(iou(boxes[0], boxes), [1.0, 1 / 3, 0.0])
    pairs = iou(boxes[:, None], boxes[None, :2])
    assert pairs.shape == (3, 2)
    np.testing.assert_allclose(pairs, [[1, 1 / 3], [1 / 3, 1], [0, 0]])
    np.testing.assert_allclose(pairs[:2], pairs[:2].T)


def test_match_pairs_each_plate_with_one_prediction_best_score_first():
    truths = [(0, 100, 0, 20), (200, 300, 0, 20)]
    preds = [
        (2, 102, 0, 20),  # plate 0, good
        (0, 96, 1, 21),  # plate 0 again, better score: takes it
        (200, 300, 50, 70),  # nowhere
        (210, 300, 0, 20),  # plate 1
    ]
    m = match(preds, [0.5, 0.9, 0.99, 0.3], truths)
    assert m.pairs == [(1, 0), (3, 1)]
    assert m.unmatched_predictions == [0, 2]
    assert m.unmatched_truths == []


def test_a_prediction_takes_the_free_plate_it_overlaps_most_and_not_one_already_taken():
    truths = [(0, 100, 0, 20), (60, 160, 0, 20)]
    # the first prediction is plate 1; the second overlaps plate 1 more (IoU 0.61) than plate 0
    # (0.51), and so takes plate 0
    preds = [(60, 160, 0, 20), (28, 140, 0, 20)]
    m = match(preds, [0.9, 0.8], truths)
    assert m.pairs == [(0, 1), (1, 0)]
    assert match(preds, [0.9, 0.8], truths, threshold=0.7).pairs == [(0, 1)]


def test_match_needs_the_iou_threshold():
    truth = [(0, 100, 0, 20)]
    assert match([(0, 50, 0, 20)], [1.0], truth).pairs == [(0, 0)]  # IoU 0.5 exactly
    m = match([(0, 49, 0, 20)], [1.0], truth)
    assert m.pairs == [] and m.unmatched_predictions == [0] and m.unmatched_truths == [0]


def test_match_with_nothing_on_either_side():
    m = match([], [], [(0, 10, 0, 10)])
    assert m.pairs == [] and m.unmatched_predictions == [] and m.unmatched_truths == [0]
    m = match([(0, 10, 0, 10)], [0.5], [])
    assert m.pairs == [] and m.unmatched_predictions == [0] and m.unmatched_truths == []
    with pytest.raises(ValueError):
        match([(0, 10, 0, 10)], [0.5, 0.4], [])


def test_detection_score_counts_found_missed_spurious_and_read_plates():
    score = DetectionScore()
    # photo 1: two plates, one found and read (spaces and case aside), one missed; one spurious box
    score.add(
        [(0, 100, 0, 20), (500, 600, 0, 20)],
        [0.9, 0.8],
        [(2, 100, 0, 20), (200, 300, 0, 20)],
        pred_texts=["ab 123", "ZZZ"],
        true_texts=["AB123", "CD456"],
    )
    # photo 2: one plate found but misread
    score.add([(10, 110, 10, 30)], [0.7], [(10, 110, 10, 30)], ["EF78P"], ["EF789"])
    # photo 3: nothing annotated, nothing predicted
    score.add([], [], [], [], [])
    assert (score.photos, score.found, score.annotated, score.predicted) == (3, 2, 3, 3)
    assert score.recall == pytest.approx(2 / 3) and score.precision == pytest.approx(2 / 3)
    assert score.read_exactly == 1 and score.read_rate == pytest.approx(1 / 3)
    assert score.misread == [("EF789", "EF78P")]
    d = score.to_dict()
    assert d["read_exactly"] == 1 and d["recall"] == pytest.approx(2 / 3)


def test_detection_score_without_texts_or_boxes_says_so():
    score = DetectionScore()
    assert score.recall is None and score.precision is None and score.read_rate is None
    score.add([], [], [(0, 10, 0, 10)])
    assert score.recall == 0.0 and score.precision is None and score.read_exactly is None
    score.add([(50, 60, 0, 10)], [0.4], [])
    assert score.precision == 0.0


def test_a_spurious_box_read_as_the_plate_text_counts_no_reading():
    score = DetectionScore()
    score.add([(300, 400, 0, 20)], [0.9], [(0, 100, 0, 20)], ["AB123"], ["AB123"])
    assert score.read_exactly == 0 and score.found == 0
