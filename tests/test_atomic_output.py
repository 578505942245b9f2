"""formats/atomic_output.py: outputs appear whole or not at all, with the umask's permissions."""

import os
import stat

import pytest

from genefinder.formats.atomic_output import atomic_path, new_file_mode


@pytest.fixture
def umask():
    """Set the process umask for one test and put the old one back."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda mask: os.umask(mask)
    os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_output_gets_the_mode_a_plain_open_gives(tmp_path, umask, mask):
    umask(mask)
    with open(tmp_path / "plain.txt", "w") as fh:
        fh.write("x")
    with atomic_path(tmp_path / "out.tsv") as tmp, open(tmp, "w") as fh:
        fh.write("x")
    plain = stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode)
    assert stat.S_IMODE((tmp_path / "out.tsv").stat().st_mode) == plain == 0o666 & ~mask == new_file_mode()


def test_a_failed_block_leaves_no_file(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "sub" / "out.tsv") as tmp:
        open(tmp, "w").write("half")
        raise RuntimeError("interrupted")
    assert list((tmp_path / "sub").iterdir()) == []
