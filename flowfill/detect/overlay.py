"""What white or black laid over a picture does to its colour: the test that film dust, dirt and
scratches pass and coloured scenery (a red wheel rim, a trunk, a limb) does not.

Dust and base scratches lay white over the picture, dirt and print scratches black; a share a of
such an overlay leaves (1 - a) of the picture's chroma (max minus min of RGB), with a read off the
luma. Scenery the flow lost brings a colour of its own.
"""

from __future__ import annotations

import numpy as np

CHROMA_SLACK = 0.3
"""Of the chroma under a candidate, the share its own may differ by beyond the tolerance (the
picture under it is only estimated: beside it, or the neighbours carried onto it)."""


def overlay_misfit(lum: np.ndarray, chroma: np.ndarray, under_lum: np.ndarray,
                   under_chroma: np.ndarray, bright: bool) -> np.ndarray:
    """Per pixel, how far a candidate's chroma is from what white (``bright``) or black laid
    over the picture under it would leave, less ``CHROMA_SLACK`` of that picture's chroma: at
    most 0 for a neutral overlay, where the estimate of the picture is right. All arrays alike,
    in [0, 1]."""
    if bright:  # 1 - L = (1 - a)(1 - U)
        share = (lum - under_lum) / np.maximum(1.0 - under_lum, 1e-3)
    else:  # L = (1 - a) U
        share = (under_lum - lum) / np.maximum(under_lum, 1e-3)
    share = np.clip(share, 0.0, 1.0)
    return np.abs(chroma - (1.0 - share) * under_chroma) - CHROMA_SLACK * under_chroma
