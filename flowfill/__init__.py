"""flowfill: remove objects, logos, scratches and borders from video by flow-guided completion.

The engine's names load on first use (PEP 562), so importing the package is cheap: a host's
plugin loads quickly, and the ``flowfill`` command takes Ctrl-C before the engine is imported.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flowfill.errors import Cancelled, InputError

if TYPE_CHECKING:
    import numpy as np

    from flowfill.options import Options
    from flowfill.pipeline import Stats, remove_stream
    from flowfill.references import ReferenceFrames
    from flowfill.shot import NeedFrames, Shot

__all__ = ["Cancelled", "InputError", "NeedFrames", "Options", "ReferenceFrames", "Shot",
           "Stats", "remove", "remove_stream"]
__version__ = "0.1.0"

_LAZY = {
    "NeedFrames": "flowfill.shot",
    "Options": "flowfill.options",
    "ReferenceFrames": "flowfill.references",
    "Shot": "flowfill.shot",
    "Stats": "flowfill.pipeline",
    "remove_stream": "flowfill.pipeline",
}


def __getattr__(name: str) -> Any:
    """Import an engine name from its module the first time it is asked for."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flowfill' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def remove(
    frames: Iterable[np.ndarray] | np.ndarray,
    masks: Iterable[np.ndarray] | np.ndarray,
    **options: object,
) -> np.ndarray:
    """Fill ``masks`` (bool H x W, True = remove) in ``frames`` (float32 H x W x 3, or
    H x W x 4 whose alpha comes back unchanged).

    Returns the completed clip as float32 N x H x W x C; outside the masks it equals the input.
    Keyword options are the fields of :class:`flowfill.Options` (plus ``stats=Stats()``, and
    ``progress=True`` for the command's progress bars on stderr).
    A clip longer than a window also gets reference frames picked across it (see Options).
    """
    import numpy as np

    from flowfill.options import Options
    from flowfill.pipeline import remove_stream
    from flowfill.progress import Progress
    from flowfill.references import ReferenceFrames

    stats = options.pop("stats", None)
    bars = bool(options.pop("progress", False))
    opts = Options.from_kwargs(**options)
    frames = list(frames)
    masks = list(masks)
    if len(frames) != len(masks):
        raise InputError(None, f"{len(frames)} frames but {len(masks)} masks")
    if not frames:
        raise InputError(None, "no frames")
    references = None
    if opts.reference_frames and len(frames) > opts.window:
        references = ReferenceFrames.scan(lambda: (frames, masks), opts)
    with Progress(enabled=bars, total=len(frames)) as progress:
        return np.stack(list(remove_stream(frames, masks, opts, progress=progress, stats=stats,
                                           references=references)))
