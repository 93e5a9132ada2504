import pytest
from conftest import file_size_limit

from plateocr.errors import OutputExistsError, PlateOCRError
from plateocr.outputs import atomic_path, check_can_write, check_output_path, write_bytes_atomic, write_text_atomic


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half-written")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_atomic_write_replaces_and_creates_parents(tmp_path):
    target = tmp_path / "a" / "b" / "out.txt"
    write_text_atomic(target, "one")
    write_text_atomic(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_check_can_write(tmp_path):
    check_can_write(tmp_path / "new", force=False)  # absent: fine
    (tmp_path / "empty").mkdir()
    check_can_write(tmp_path / "empty", force=False)  # empty folder: fine
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(OutputExistsError, match="--force"):
        check_can_write(tmp_path / "full", force=False)
    check_can_write(tmp_path / "full", force=True)


def test_atomic_files_get_the_umask_mode_not_private(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "f.txt", "x")
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "f.txt").stat().st_mode)
    assert mode & 0o044 == 0o044  # group/other can read, as with open()


def test_outputs_under_a_file_or_of_the_wrong_kind_are_refused_before_any_work(tmp_path):
    (tmp_path / "afile").write_text("x")
    for path in (tmp_path / "afile" / "sub", tmp_path / "afile" / "sub" / "deeper.csv"):
        with pytest.raises(
            PlateOCRError, match=f"{path}: cannot create it: {tmp_path / 'afile'} is a file, not a folder"
        ):
            check_can_write(path, force=True)
    with pytest.raises(PlateOCRError, match="afile: exists and is not a folder"):
        check_output_path(tmp_path / "afile", "records folder", folder=True)
    with pytest.raises(PlateOCRError, match="is a folder; the errors file is a file"):
        check_can_write(tmp_path, force=True, what="errors file", folder=False)
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(PlateOCRError, match="loop: cannot use it as the output"):
        check_output_path(tmp_path / "loop")
    check_output_path(tmp_path / "new" / "deeper" / "x.csv", folder=False)  # to be created: fine


def test_a_failed_write_is_a_one_line_error_naming_the_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "big.bin"
    with pytest.raises(PlateOCRError, match=f"{target}: cannot write it \\(File too large\\)"):
        with file_size_limit(4096):
            write_bytes_atomic(target, b"x" * 10_000)
    assert list(tmp_path.iterdir()) == []
