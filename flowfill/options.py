"""The knobs of a removal run, shared by the library API, the CLI and the hosts."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from flowfill.errors import InputError

FLOW_METHODS = ("dis",)
FILL_METHODS = ("telea",)


@dataclass(frozen=True)
class Options:
    """Every option of :func:`flowfill.remove`; defaults are the CPU-friendly configuration."""

    dilate: int | None = None
    """Pixels the hole is grown by internally (sources and Poisson boundary avoid the object's
    fringe); the output still changes only inside the mask as given. None: scaled with size."""
    grow: int = 0
    """Pixels the mask itself is grown by before anything else (the replaced region grows)."""
    flow: str = "dis"
    """Optical flow backend."""
    flow_dilate: int | None = None
    """Extra dilation of the hole for flow completion (flow near the object is unreliable).
    None: scaled with size (FGVC's 15 px at 480p)."""
    object_flow: bool = True
    """Also re-estimate flow in a wider ring around the hole where it moves like the removed
    object (flow estimators smear an object's motion beyond its silhouette)."""
    alpha: float = 0.1
    """Temperature, in pixels, of the candidate weight exp(-d / alpha) (FGVC's 0.1)."""
    consistency: bool = True
    """Hard-reject chain hops whose forward-backward round trip is inconsistent."""
    fill: str = "telea"
    """Fill for pixels that no frame saw."""
    max_keyframes: int = 8
    """Bound on hallucinated keyframes per window; what remains after is filled per frame."""
    window: int = 80
    """Frames per processing window (memory is bounded by it)."""
    overlap: int = 10
    """Frames shared by consecutive windows, cross-faded in the output."""
    cut_threshold: float = 0.4
    """Shot-cut sensitivity: the histogram distance (0..1) an isolated jump must exceed to count
    as a hard cut; 1 or more disables cut detection."""
    device: str = "auto"
    """Torch device for torch stages: auto, cpu, cuda or cuda:N."""
    seed: int = 0
    """Seed for anything random, so runs are reproducible."""

    def validated(self) -> Options:
        """Return self after checking every value; raise InputError naming the bad option."""
        if self.flow not in FLOW_METHODS:
            raise InputError("--flow", f"unknown flow method {self.flow!r}; choose {FLOW_METHODS}")
        if self.fill not in FILL_METHODS:
            raise InputError("--fill", f"unknown fill {self.fill!r}; choose {FILL_METHODS}")
        for name in ("grow", "max_keyframes", "overlap"):
            if getattr(self, name) < 0:
                raise InputError(f"--{name.replace('_', '-')}", "must not be negative")
        for name in ("dilate", "flow_dilate"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise InputError(f"--{name.replace('_', '-')}", "must not be negative")
        if self.window < 2:
            raise InputError("--window", "needs at least 2 frames")
        if self.overlap >= self.window:
            raise InputError("--overlap", "must be smaller than --window")
        if self.alpha <= 0:
            raise InputError("--alpha", "must be positive")
        return self

    @classmethod
    def from_kwargs(cls, **kwargs: object) -> Options:
        """Build from keyword arguments, rejecting unknown names with a clear error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise TypeError(f"unknown option(s) {unknown}; known: {sorted(known)}")
        return replace(cls(), **kwargs).validated()
