"""Where ``--ray`` runs: a local cluster started for the run, or an existing one by address."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType

from flowfill.errors import InputError

RAY_VERSION = "2.60.0"
INSTALL = "pip install 'flowfill[ray]'"


def import_ray() -> ModuleType:
    """The ``ray`` module; an InputError saying how to install it when it is missing."""
    try:
        import ray
    except ImportError:
        raise InputError("--ray", f"Ray is not installed; install it with: {INSTALL} "
                         f"(ray=={RAY_VERSION})") from None
    return ray


@dataclass(frozen=True)
class Target:
    """A cluster to run on: ``address`` None starts a local one with ``cpus`` CPUs (None: all
    of this machine's)."""

    address: str | None
    cpus: int | None = None


def parse_target(text: str) -> Target:
    """``local``, ``local:N`` (N workers on this machine) or a cluster's address."""
    text = text.strip()
    if not text:
        raise InputError("--ray", "give local, local:N or a cluster's address (host:port)")
    kind, _, count = text.partition(":")
    if kind != "local":
        return Target(text)
    if not count:
        return Target(None)
    try:
        cpus = int(count)
    except ValueError:
        cpus = 0
    if cpus < 1:
        raise InputError("--ray", f"local:N needs a worker count of at least 1, not {count!r}")
    return Target(None, cpus)


@contextmanager
def _warnings_off(quiet: bool) -> Iterator[None]:
    """Ray's own start-up notices (the token authentication one) silenced under ``--quiet``."""
    logger = logging.getLogger("ray")
    level = logger.level
    if quiet:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextmanager
def connected(target: Target, quiet: bool = False) -> Iterator[ModuleType]:
    """Ray, connected to ``target`` for the duration (a local cluster is stopped after);
    ``quiet``: Ray's start-up notices are not shown."""
    ray = import_ray()
    if ray.is_initialized():  # the caller holds a connection: use it, leave it open
        yield ray
        return
    settings = {"log_to_driver": False, "configure_logging": False, "include_dashboard": False}
    if target.address is None:
        with _warnings_off(quiet):
            # address "local": a new cluster here, even where RAY_ADDRESS names another
            ray.init(address="local", num_cpus=target.cpus or os.cpu_count() or 1, **settings)
    else:
        settings.pop("include_dashboard")
        host = target.address.rpartition(":")[0].removeprefix("ray://")
        if host.startswith("127.") or host == "localhost":  # a cluster on loopback: stay there
            settings["_node_ip_address"] = "127.0.0.1" if host == "localhost" else host
        try:
            with _warnings_off(quiet):
                ray.init(address=target.address, **settings)
        except (ConnectionError, ValueError, RuntimeError) as err:
            raise InputError("--ray", f"cannot connect to the cluster at {target.address}: "
                             f"{' '.join(str(err).split())[:200]}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def cluster_cpus(ray: ModuleType) -> int:
    """How many CPUs the connected cluster has (at least 1)."""
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def worker_count(ray: ModuleType, target: Target) -> int:
    """How many workers a run on ``target`` starts: N for local:N, one per CPU otherwise."""
    if target.cpus:
        return target.cpus
    return cluster_cpus(ray) if target.address else os.cpu_count() or 1
