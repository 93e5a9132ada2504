"""The one exception type the CLI turns into a one-line message and a non-zero exit."""

import errno
import os


class PlateOCRError(Exception):
    """A problem the user can fix: missing file, wrong column, existing output, ...

    The message is one line that names the file (and row) and what is wrong.
    """

    exit_code = 1


class OutputExistsError(PlateOCRError):
    """Refusing to overwrite a user's earlier output without --force."""

    exit_code = 3


def path_problem(path: str | os.PathLike) -> str | None:
    """Why `path` cannot be opened, in a few words ("no such file or directory", "a symbolic
    link loop"...), or None when it can be."""
    try:
        os.stat(path)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "a symbolic link loop"
        if e.errno == errno.ENOTDIR:
            return "a part of the path is a file, not a folder"
        return (e.strerror or str(e)).lower()
    return None


def tf_error_message(error: Exception) -> str:
    """The line of a TensorFlow error that says what went wrong (not where the graph was built)."""
    text = getattr(error, "message", None) or str(error)
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("Graph execution error", "Detected at node", "File ", "Node:", "[[")):
            continue
        return line
    return type(error).__name__
