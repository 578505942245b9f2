"""The project's user-facing error: one line naming the file, the line and the rule that was broken.

The CLI prints `GeneFinderInputError` without a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import os


class GeneFinderInputError(ValueError):
    """Bad input from the user (a file, a flag, a config), reported as `path:line: message`."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        self.path, self.line, self.reason = path, line, message
        where = f"{path}:{line}: " if path and line else (f"{path}: " if path else "")
        super().__init__(f"{where}{message}")


def require_file(path: str | os.PathLike, what: str) -> None:
    """Refuse, in one line, a `what` ("FASTA", "config", ...) path that is missing or is not a regular file (a
    folder given where a file was meant would otherwise fail later, deep inside whatever opens it)."""
    if not os.path.exists(path):
        raise GeneFinderInputError(f"{what} file not found", os.fspath(path))
    if not os.path.isfile(path):
        raise GeneFinderInputError(f"{what} path is a folder or a device, not a file", os.fspath(path))
