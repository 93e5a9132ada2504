import json

import pytest

from plateocr.errors import PlateOCRError
from plateocr.spec import DatasetSpec, SplitSpec


def make_spec():
    return DatasetSpec(
        splits={"train": SplitSpec("train-*.tfrecord", 83), "test": SplitSpec("test-*.tfrecord", 17)},
        charset_file="charset.txt",
        image_shape=(64, 256, 3),
        num_of_views=1,
        max_sequence_length=8,
        null_code=0,
        num_classes=37,
        keep_aspect=False,
        margin=0.05,
        seed=7,
    )


def test_spec_round_trip(tmp_path):
    spec = make_spec()
    spec.write(tmp_path / "dataset.json")
    assert DatasetSpec.read(tmp_path) == spec  # a folder finds dataset.json in it
    d = json.loads((tmp_path / "dataset.json").read_text())
    assert d["image_shape"] == [64, 256, 3]
    assert d["splits"]["test"] == {"pattern": "test-*.tfrecord", "size": 17}
    assert (spec.height, spec.width) == (64, 256)


def test_missing_spec_says_what_to_run(tmp_path):
    with pytest.raises(PlateOCRError, match="plateocr tfrecords"):
        DatasetSpec.read(tmp_path)


@pytest.mark.parametrize("content", ["{not json", json.dumps({"splits": {}}), json.dumps([1, 2])])
def test_bad_spec_is_a_one_line_error(tmp_path, content):
    (tmp_path / "dataset.json").write_text(content)
    with pytest.raises(PlateOCRError) as e:
        DatasetSpec.read(tmp_path / "dataset.json")
    assert "dataset.json" in str(e.value) and "\n" not in str(e.value)
