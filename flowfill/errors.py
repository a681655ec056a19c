"""Errors that reach the user as one line: the file (or option) and what is wrong with it."""

from __future__ import annotations

import os


class InputError(Exception):
    """Bad input: the CLI prints ``str(err)`` on one line and exits with code 2."""

    def __init__(self, path: str | os.PathLike | None, problem: str) -> None:
        self.path = None if path is None else os.fspath(path)
        self.problem = " ".join(str(problem).split())  # always one line
        super().__init__(self.problem if self.path is None else f"{self.path}: {self.problem}")

    def __reduce__(self) -> tuple[type[InputError], tuple[str | None, str]]:
        """Pickled as its two arguments (a Ray worker's error reaches the driver intact)."""
        return type(self), (self.path, self.problem)


class Cancelled(Exception):
    """The caller's cancel check asked the run to stop (a host's abort, a closed client)."""
