"""flowfill: remove objects, logos, scratches and borders from video by flow-guided completion."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from flowfill.errors import Cancelled, InputError
from flowfill.options import Options
from flowfill.pipeline import Stats, remove_stream
from flowfill.references import ReferenceFrames
from flowfill.shot import NeedFrames, Shot

__all__ = ["Cancelled", "InputError", "NeedFrames", "Options", "ReferenceFrames", "Shot",
           "Stats", "remove", "remove_stream"]
__version__ = "0.1.0"


def remove(
    frames: Iterable[np.ndarray] | np.ndarray,
    masks: Iterable[np.ndarray] | np.ndarray,
    **options: object,
) -> np.ndarray:
    """Fill ``masks`` (bool H x W, True = remove) in ``frames`` (float32 H x W x 3, or
    H x W x 4 whose alpha comes back unchanged).

    Returns the completed clip as float32 N x H x W x C; outside the masks it equals the input.
    Keyword options are the fields of :class:`flowfill.Options` (plus ``stats=Stats()``).
    A clip longer than a window also gets reference frames picked across it (see Options).
    """
    stats = options.pop("stats", None)
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
    return np.stack(list(remove_stream(frames, masks, opts, stats=stats, references=references)))
