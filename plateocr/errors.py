"""The one exception type the CLI turns into a one-line message and a non-zero exit."""


class PlateOCRError(Exception):
    """A problem the user can fix: missing file, wrong column, existing output, ...

    The message is one line that names the file (and row) and what is wrong.
    """

    exit_code = 1


class OutputExistsError(PlateOCRError):
    """Refusing to overwrite a user's earlier output without --force."""

    exit_code = 3
