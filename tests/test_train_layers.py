"""Which variables each --train-layers choice updates (plateocr.training.train_layers)."""

import pytest

from plateocr.training.train_layers import TRAIN_LAYERS, is_trained

STEM = "AttentionOcr_v1/conv_tower_fn/INCE/InceptionV3/Conv2d_4a_3x3/weights"
BLOCK = "AttentionOcr_v1/conv_tower_fn/INCE/InceptionV3/Mixed_5b/Branch_0/Conv2d_0a_1x1/BatchNorm/beta"
DECODER = "AttentionOcr_v1/sequence_logit_fn/SQLR/LSTM/attention_cell_wrapper/kernel"


def test_each_choice_selects_its_layers():
    assert [is_trained(n, "all") for n in (STEM, BLOCK, DECODER)] == [True, True, True]
    assert [is_trained(n, "top") for n in (STEM, BLOCK, DECODER)] == [False, True, True]
    assert [is_trained(n, "decoder") for n in (STEM, BLOCK, DECODER)] == [False, False, True]
    # every choice --train-layers offers is one is_trained knows, and each trains the decoder
    assert all(is_trained(DECODER, choice) for choice in TRAIN_LAYERS)


def test_unknown_choice_is_refused():
    with pytest.raises(ValueError, match="train_layers"):
        is_trained(DECODER, "head")
