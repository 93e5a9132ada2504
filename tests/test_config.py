"""ModelConfig: built from a dataset spec, JSON round trip, clear errors."""

import json

import pytest

from plateocr.errors import PlateOCRError
from plateocr.model.config import ModelConfig
from plateocr.spec import DatasetSpec, SplitSpec


def make_spec(**changes):
    values = dict(
        splits={"train": SplitSpec("train-*", 10)},
        charset_file="charset.txt",
        image_shape=(64, 512, 3),
        num_of_views=2,
        max_sequence_length=9,
        null_code=0,
        num_classes=37,
    )
    values.update(changes)
    return DatasetSpec(**values)


def test_from_spec_takes_the_dataset_shape_and_overrides():
    config = ModelConfig.from_spec(make_spec(), final_endpoint="Mixed_5b", weight_decay=None)
    assert config.image_shape == (64, 512, 3)
    assert (config.num_of_views, config.view_width) == (2, 256)
    assert (config.max_sequence_length, config.num_classes, config.null_code) == (9, 37, 0)
    assert config.final_endpoint == "Mixed_5b"
    assert config.weight_decay == ModelConfig.__dataclass_fields__["weight_decay"].default


def test_json_round_trip():
    config = ModelConfig.from_spec(make_spec(), use_coordinates=False, batch_norm_decay=0.9)
    text = json.dumps(config.to_dict())  # as the model folder's config.json holds it
    assert json.loads(text)["image_shape"] == [64, 512, 3]
    assert ModelConfig.from_dict(json.loads(text)) == config


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"final_endpoint": "Mixed_9z"}, "final_endpoint"),
        ({"num_of_views": 3}, "multiple of num_of_views"),
        ({"null_code": 37}, "null_code"),
        ({"label_smoothing": 1.5}, "label_smoothing"),
        ({"image_shape": (64, 256, 1)}, "3 channels"),
    ],
)
def test_invalid_settings_are_clear_errors(changes, message):
    config = ModelConfig.from_spec(make_spec())
    with pytest.raises(PlateOCRError, match=message):
        config.replace(**changes)


def test_unknown_keys_and_newer_versions_are_errors():
    with pytest.raises(PlateOCRError, match="unknown"):
        ModelConfig.from_spec(make_spec(), lstm_size=3)
    d = ModelConfig.from_spec(make_spec()).to_dict()
    d["colour"] = "red"
    with pytest.raises(PlateOCRError, match="my.json: .*colour"):
        ModelConfig.from_dict(d, source="my.json")
    d = ModelConfig.from_spec(make_spec()).to_dict()
    d["version"] = 99
    with pytest.raises(PlateOCRError, match="newer"):
        ModelConfig.from_dict(d)
