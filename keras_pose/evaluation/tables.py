"""Markdown result tables in the layout of the official README and logs."""

from __future__ import annotations

from typing import Mapping, Sequence


def format_table(metrics: Mapping[str, float], names: Sequence[str],
                 row_name: str, title: str = "", digits: int = 3) -> str:
    """Formats one row of metrics as the official code's markdown table.

    The official ``_print_name_value`` prints ``| Arch | name | ... |``, a
    ``|---|`` rule and one row with 3 decimals; the README tables are the
    same. ``title`` (e.g. which boxes were used) goes on a line above.

    Args:
      metrics: name -> value.
      names: the columns, in order (each must be in ``metrics``).
      row_name: the first cell of the row (the architecture name).
      title: optional line printed above the table.
      digits: decimals of each value.

    Returns:
      The table as a string with a trailing newline.
    """
    missing = [n for n in names if n not in metrics]
    if missing:
        raise KeyError(f"metrics lack the table columns {missing}")
    lines = []
    if title:
        lines.append(title)
    lines.append("| Arch | " + " | ".join(names) + " |")
    lines.append("|---" * (len(names) + 1) + "|")
    lines.append(f"| {row_name} | " + " | ".join(
        f"{float(metrics[n]):.{digits}f}" for n in names) + " |")
    return "\n".join(lines) + "\n"
