"""Peak resident memory of a piece of work, read from the kernel (Linux) or getrusage.

On Linux the process's high-water mark (VmHWM) is reset through ``/proc/self/clear_refs``
just before the work, so the peak seen after it belongs to that work alone.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_bytes(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def current_rss() -> int | None:
    """Resident set size of this process now, in bytes (None where unknown)."""
    return _status_bytes("VmRSS")


def reset_peak() -> bool:
    """Reset this process's peak-RSS mark to its current RSS; False where the OS can't."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def peak_rss() -> int:
    """Peak resident set size of this process in bytes (since the last :func:`reset_peak`)."""
    hwm = _status_bytes("VmHWM")
    if hwm is not None:
        return hwm
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)
