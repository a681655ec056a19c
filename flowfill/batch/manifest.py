"""The batch manifest: a CSV file with columns ``input,mask,output`` and optional overrides of
any ``flowfill remove`` option (column ``window`` for ``--window``; an empty cell keeps the
batch's value). Paths are relative to the manifest's folder. Every problem is one line naming
the manifest's row."""

from __future__ import annotations

import argparse
import copy
import csv
import os
from dataclasses import dataclass

from flowfill.errors import InputError
from flowfill.io.masks import ALPHA, AUTO, BORDERS

REQUIRED = ("input", "mask", "output")
BATCH_WIDE = ("ray", "resume", "quiet", "threads", "help", "version", "mask", "output")
"""Options that are the batch's, not a clip's (and the short forms' long names)."""
TRUE, FALSE = ("on", "yes", "true", "1"), ("off", "no", "false", "0")


@dataclass(frozen=True)
class Row:
    """One clip of the manifest: its data row (1 = the first after the header) and the
    ``flowfill remove`` arguments it runs with."""

    number: int
    line: int
    args: argparse.Namespace

    @property
    def name(self) -> str:
        return f"row {self.number} (line {self.line})"


def _column_actions(parser: argparse.ArgumentParser, header: list[str],
                    where: str) -> dict[str, argparse.Action]:
    """The parser's action for each override column (``max-keyframes`` or ``max_keyframes``)."""
    actions: dict[str, argparse.Action] = {}
    for column in header:
        if column in REQUIRED:
            continue
        flag = "--" + column.lstrip("-").replace("_", "-")
        action = parser._option_string_actions.get(flag)
        if flag[2:] in BATCH_WIDE:
            raise InputError(where, f"column {column!r}: --{flag[2:]} is the whole batch's, "
                                    "given on the command line, not per clip")
        if not column or action is None:
            raise InputError(where, f"unknown column {column!r} (columns: input, mask, output "
                                    "and options of flowfill remove such as window, fill)")
        actions[column] = action
    return actions


def _path(value: str, base: str) -> str:
    return value if os.path.isabs(value) else os.path.normpath(os.path.join(base, value))


def _mask(value: str, base: str) -> str:
    """A mask cell: the keywords (alpha, borders[:RGB], auto[:kind]) as they are (``./alpha``
    for a folder of that name, as on the command line), else a path."""
    if value.split(":")[0] in (ALPHA, BORDERS, AUTO):
        return value
    return _path(value, base)


def _override(args: argparse.Namespace, action: argparse.Action, column: str, value: str,
              parser: argparse.ArgumentParser, where: str) -> None:
    """Set ``args`` from one override cell, checked as the command line checks it."""
    if action.nargs == 0:  # a switch: on/off
        word = value.lower()
        if word not in TRUE + FALSE:
            raise InputError(where, f"column {column}: {value!r} is not on or off")
        on = word in TRUE
        if isinstance(action, argparse.BooleanOptionalAction):
            setattr(args, action.dest, on)
        else:  # --no-object-flow and the like
            setattr(args, action.dest, action.const if on else action.default)
        return
    try:
        parsed = parser.parse_args([f"{action.option_strings[-1]}={value}"])
    except Exception as err:  # the CLI's parser raises its usage error
        raise InputError(where, f"column {column}: {err}") from None
    setattr(args, action.dest, getattr(parsed, action.dest))


def read_manifest(path: str, defaults: argparse.Namespace,
                  parser: argparse.ArgumentParser) -> list[Row]:
    """The manifest's clips: each row's arguments are ``defaults`` (the batch's command line)
    with its input, mask, output and overrides, checked by ``parser`` (the options of
    ``flowfill remove``); blank rows and rows starting with # are skipped."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            lines = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InputError(path, f"cannot be read as a CSV manifest ({err})") from None
    lines = [(n, [c.strip() for c in cells]) for n, cells in enumerate(lines, 1)]
    lines = [(n, c) for n, c in lines if any(c) and not c[0].startswith("#")]
    if not lines:
        raise InputError(path, "is empty: it needs a header line input,mask,output")
    _, header = lines[0]
    missing = [c for c in REQUIRED if c not in header]
    if missing or len(set(header)) != len(header):
        problem = (f"the header lacks {', '.join(missing)}" if missing
                   else "the header names a column twice")
        raise InputError(f"{path} header", f"{problem} (it needs input,mask,output)")
    actions = _column_actions(parser, header, f"{path} header")
    base = os.path.dirname(os.path.abspath(path))
    rows: list[Row] = []
    for number, (line, cells) in enumerate(lines[1:], 1):
        where = f"{path} row {number} (line {line})"
        if len(cells) != len(header):
            raise InputError(where, f"has {len(cells)} cells for {len(header)} columns")
        cell = dict(zip(header, cells, strict=True))
        for name in REQUIRED:
            if not cell[name]:
                raise InputError(where, f"no {name}")
        args = copy.copy(defaults)
        args.input, args.output = _path(cell["input"], base), _path(cell["output"], base)
        args.mask = _mask(cell["mask"], base)
        for column, action in actions.items():
            if cell[column]:
                _override(args, action, column, cell[column], parser, where)
        rows.append(Row(number, line, args))
    if not rows:
        raise InputError(path, "lists no clips")
    _check_outputs(rows, path)
    return rows


def _check_outputs(rows: list[Row], path: str) -> None:
    """No two rows write the same output, and no output is another row's input or mask."""
    def key(p: str) -> str:
        return os.path.normcase(os.path.realpath(p.rstrip("/\\") or p))

    reads = {}
    for row in rows:
        reads.setdefault(key(row.args.input), row)
        if os.path.exists(row.args.mask):
            reads.setdefault(key(row.args.mask), row)
    seen: dict[str, Row] = {}
    for row in rows:
        out = key(row.args.output)
        where = f"{path} {row.name}"
        if out in seen:
            raise InputError(where, f"output {row.args.output} is also the output of "
                                    f"{seen[out].name}")
        if out in reads:
            raise InputError(where, f"output {row.args.output} is the input or mask of "
                                    f"{reads[out].name}")
        seen[out] = row
