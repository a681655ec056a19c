"""Direct factorisations a window keeps while it is filled: a round's Poisson fusion and
re-anchoring solve the same systems again in the next round (the mask does not change between
rounds, and where a round finds the hole as the one before, its fusion's system is the same),
and a still or sliding mask gives every frame the same system (RESULTS.md, issue 19)."""

from __future__ import annotations

import hashlib
import threading

from flowfill.grid import Factorisation

KEEP_UNKNOWNS = 131_072
"""Unknowns a window keeps factorised: the LDL^T of these grid systems takes 300-500 bytes an
unknown, so at most about 64 MB; a system found after the budget is spent is made and dropped
as before."""


class KeptSolvers:
    """Solvers by the key of the system they solve, kept for later calls of one window within
    KEEP_UNKNOWNS; shared by its frame threads (a factorisation's solve writes nothing to it).
    Only direct factorisations are kept: a multigrid hierarchy is larger than its system and is
    made for systems beyond any budget here. ``last``: no later round will ask again (the
    window's last round, or a first round on the proxy), so only a system asked for a second
    time is kept (a still or sliding mask's): a moving mask's are dropped as they are used.
    """

    def __init__(self, budget: int = KEEP_UNKNOWNS, last: bool = False) -> None:
        self._left = budget
        self._items: dict[bytes, object] = {}
        self._lock = threading.Lock()
        self._asked: set[bytes] | None = set() if last else None

    def last_round(self) -> None:
        """From now on keep only systems asked for a second time (see ``last``); those kept
        so far stay."""
        with self._lock:
            if self._asked is None:
                self._asked = set()

    def get(self, key: bytes) -> object | None:
        """What was kept under ``key`` (None: nothing)."""
        return self._items.get(key)

    def keep(self, key: bytes, value: object, method: object, unknowns: int) -> None:
        """Keep ``value`` under ``key`` if its solver ``method`` is a direct factorisation and
        its ``unknowns`` fit in what is left of the budget."""
        if not isinstance(method, Factorisation):
            return
        with self._lock:
            if key in self._items or unknowns > self._left:
                return
            if self._asked is not None:
                digest = hashlib.blake2b(key, digest_size=16).digest()
                if digest not in self._asked:  # the first time: it may never be asked again
                    self._asked.add(digest)
                    return
            self._left -= unknowns
            self._items[key] = value

    def __len__(self) -> int:
        return len(self._items)
