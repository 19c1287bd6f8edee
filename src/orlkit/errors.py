"""Errors for bad input: the CLI prints their message alone and exits with code 2."""

from __future__ import annotations


class OrlkitError(Exception):
    """Bad input or usage: one clear message, no traceback, exit code 2."""


class DatasetError(OrlkitError):
    """A dataset that cannot be trained on. Names the source, the field and the first bad row."""

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None,
                 row: int | None = None):
        self.source, self.field, self.row = source, field, row
        where = []
        if source:
            where.append(str(source))
        if field:
            where.append(f"field '{field}'")
        if row is not None:
            where.append(f"row {row}")
        super().__init__(f"{': '.join(where)}: {message}" if where else message)


# Run-config fields that `orlkit train` / `orlkit online` take as command-line options; the others are set from Python.
# tests/test_cli.py checks this set against the parsers.
_CLI_OPTIONS = frozenset({"compile", "dataset", "device", "eval_episodes", "eval_every", "log_every", "precision",
                          "seed", "snapshot_every", "start_steps", "steps"})


def option_name(field: str) -> str:
    """How a message names a run-config field: ``--log-every`` where the CLI has that option, else ``field``."""
    return f"--{field.replace('_', '-')}" if field in _CLI_OPTIONS else field
