"""Output files that appear whole or not at all: write to a hidden temporary file beside the target, then rename.

An interrupted or failed command must not leave a truncated TSV, VCF or PNG that looks finished; `os.replace`
within one directory is atomic on POSIX and Windows.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def new_file_mode() -> int:
    """The mode `open(path, "w")` gives a new file: 0o666 less the process's umask. `tempfile.mkstemp` makes its
    file 0o600 whatever the umask, so a file renamed into place from it is chmod-ed to this first."""
    umask = os.umask(0o022)  # reading the umask means setting it; it is put back at once
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """A temporary path beside `path` (same suffix) to write to; renamed onto `path` when the block succeeds,
    with the permissions a file written there directly would have."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, new_file_mode())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
