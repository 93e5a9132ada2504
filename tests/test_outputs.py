import pytest

from plateocr.errors import OutputExistsError
from plateocr.outputs import atomic_path, check_can_write, write_text_atomic


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
