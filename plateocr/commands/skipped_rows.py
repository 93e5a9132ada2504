"""The table of rows a command skipped, by reason (`crop`, `train-detector`)."""

from __future__ import annotations

from rich.table import Table


def skipped_rows_table(problems, report) -> Table:
    """Reasons (the text before any ':' detail) and how many rows each skipped."""
    from plateocr.problems import summarise

    table = Table(title=f"skipped rows (details in {report})")
    table.add_column("reason")
    table.add_column("rows", justify="right")
    for reason, n in summarise(problems):
        table.add_row(reason, str(n))
    return table
