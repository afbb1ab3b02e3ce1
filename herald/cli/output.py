"""How the ``herald`` commands print what they got: aligned tables for people, or ``--json``
(what the API answers) for scripts."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

__all__ = ["add_group", "add_json_flag", "show", "table"]

Subcommands = Any
"""What ``ArgumentParser.add_subparsers`` answers (a private argparse type)."""


def add_group(commands: Subcommands, name: str, summary: str) -> Subcommands:
    """A command with actions of its own (``herald keys create``)."""
    parser = commands.add_parser(name, help=summary, description=summary)
    return parser.add_subparsers(dest="action", required=True, metavar="ACTION")


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON, as the API answers")


def show(result: BaseModel | Sequence[BaseModel], columns: list[str], as_json: bool) -> None:
    """Print one model or a list of them."""
    many = not isinstance(result, BaseModel)
    models = list(result) if not isinstance(result, BaseModel) else [result]
    rows = [model.model_dump(mode="json") for model in models]
    print(json.dumps(rows if many else rows[0], indent=2) if as_json else table(rows, columns))


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """Aligned columns with a header; lists shown comma-separated, nothing as ``-``."""

    def cell(value: Any) -> str:
        if isinstance(value, list):
            return ",".join(str(item) for item in value)
        return "-" if value is None else str(value)

    cells = [[cell(row.get(column)) for column in columns] for row in rows]
    widths = [
        max(len(text) for text in [column, *(line[i] for line in cells)])
        for i, column in enumerate(columns)
    ]
    return "\n".join(
        "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
        for line in [columns, *cells]
    )
