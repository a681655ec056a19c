"""Movie encoder settings: the codec and quality a user names (or the container's default) as
an FFmpeg encoder, pixel format and options.

Mastering codecs (ProRes 422 HQ / 4444 / 4444 XQ, DNxHR, FFV1) for editors and compositors;
H.264/H.265/VP9 for review copies. Where the input is a movie and the codec can store its pixel
format, that format is kept, so the picture outside the hole can be re-encoded from the
decoded planes themselves (see ``MovieSink``) rather than through RGB.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flowfill.errors import InputError

QUALITIES = ("review", "high", "master", "lossless")
"""``--quality``: review (small files), high (the default: visually lossless), master
(4:4:4 10-bit or the codec's top profile), lossless (bit-exact RGB, where the codec can)."""


@dataclass(frozen=True)
class Codec:
    """One ``--codec`` choice: the FFmpeg encoder and the containers that hold it."""

    encoder: str
    containers: frozenset[str]
    alpha: bool = False
    """Stores an alpha channel (ProRes 4444, FFV1): an RGBA input keeps it."""


CODECS: dict[str, Codec] = {
    "h264": Codec("libx264", frozenset({".mp4", ".m4v", ".mov", ".mkv"})),
    "h265": Codec("libx265", frozenset({".mp4", ".m4v", ".mov", ".mkv"})),
    "prores": Codec("prores_ks", frozenset({".mov", ".mkv"}), alpha=True),  # 4444 for RGBA
    "prores4444": Codec("prores_ks", frozenset({".mov", ".mkv"}), alpha=True),
    "dnxhr": Codec("dnxhd", frozenset({".mov"})),
    "ffv1": Codec("ffv1", frozenset({".avi", ".mkv"}), alpha=True),
    "vp9": Codec("libvpx-vp9", frozenset({".webm", ".mkv"})),
}

DEFAULT_CODEC = {".mp4": "h264", ".m4v": "h264", ".mkv": "h264", ".mov": "prores",
                 ".avi": "ffv1", ".webm": "vp9"}
"""The codec of each movie extension when ``--codec`` is not given."""

_CRF = {  # per quality: (x264, x265, vp9) constant-quality values
    "review": ("20", "22", "32"), "high": ("12", "14", "15"), "master": ("6", "8", "8"),
}
_PRORES_PROFILE = {"review": "2", "high": "3", "master": "3"}  # standard, HQ, HQ
_PRORES4444_PROFILE = {"review": "4", "high": "4", "master": "5"}  # 4444, 4444, 4444 XQ
_DNXHR = {"review": ("dnxhr_sq", "yuv422p"), "high": ("dnxhr_hqx", "yuv422p10le"),
          "master": ("dnxhr_444", "yuv444p10le")}
_KEEPABLE = {  # pixel formats of a movie input each encoder can store as they are
    "libx264": {"yuv420p", "yuv422p", "yuv444p", "yuv420p10le", "yuv422p10le", "yuv444p10le"},
    "libx265": {"yuv420p", "yuv422p", "yuv444p", "yuv420p10le", "yuv422p10le", "yuv444p10le",
                "yuv420p12le", "yuv422p12le", "yuv444p12le"},
    "libvpx-vp9": {"yuv420p", "yuv422p", "yuv444p"},
    "prores_ks": {"yuv422p10le", "yuv444p10le"},
    "dnxhd": set(),  # DNxHR's bit depth follows its profile
    "ffv1": set(),  # stored as RGB: exact whatever the input was
}


@dataclass(frozen=True)
class Encoder:
    """What ``MovieSink`` opens: the codec's name, FFmpeg encoder, pixel format, options."""

    name: str
    encoder: str
    pix_fmt: str
    options: dict[str, str] = field(default_factory=dict)
    rgb: bool = False
    """Stores RGB (no colour matrix, no YUV tags)."""

    @property
    def alpha(self) -> bool:
        return self.pix_fmt in ("yuva444p10le", "bgra", "rgba64le")


def check_codec(path: str, ext: str, codec: str | None, quality: str) -> str:
    """The codec for output ``path`` (``codec`` or the extension's default); InputError for an
    unknown name, a container that cannot hold it, or a quality it cannot give."""
    if quality not in QUALITIES:
        raise InputError("--quality", f"unknown quality {quality!r}; choose "
                         + ", ".join(QUALITIES))
    name = DEFAULT_CODEC.get(ext) if codec is None else codec
    if name not in CODECS:
        raise InputError("--codec", f"unknown codec {codec!r}; choose " + ", ".join(CODECS))
    spec = CODECS[name]
    if ext not in spec.containers:
        raise InputError(path, f"a {ext} file cannot hold {name}; use "
                         + " or ".join(sorted(spec.containers)))
    if quality == "lossless" and name in ("prores", "prores4444", "dnxhr"):
        raise InputError("--quality", f"{name} is never lossless; use --codec ffv1 (.mkv, "
                         ".mov or .avi), or h264/h265/vp9 with --quality lossless")
    return name


def encoder_for(name: str, quality: str, width: int, height: int, deep: bool, alpha: bool,
                input_pix_fmt: str | None = None) -> Encoder:
    """Encoder settings for codec ``name`` at ``quality``; ``alpha``: keep the input's alpha
    where the codec can; ``input_pix_fmt``: a movie input's pixel format, kept where possible.
    ``deep``: the input has more than 8 bits."""
    spec = CODECS[name]
    odd = width % 2 or height % 2
    keep = input_pix_fmt if input_pix_fmt in _KEEPABLE[spec.encoder] else None
    if keep and odd and not keep.startswith("yuv444"):
        keep = None
    if name == "ffv1":
        if alpha:
            return Encoder(name, "ffv1", "rgba64le" if deep else "bgra",
                           {"level": "3", "slicecrc": "1"}, rgb=True)
        return Encoder(name, "ffv1", "rgb48le" if deep else "bgr0",
                       {"level": "3", "slicecrc": "1"}, rgb=True)
    if name in ("prores", "prores4444"):
        if alpha and spec.alpha:
            return Encoder(name, "prores_ks", "yuva444p10le",
                           {"profile": _PRORES4444_PROFILE[quality]})
        if name == "prores4444" or width % 2:
            return Encoder(name, "prores_ks", "yuv444p10le",
                           {"profile": _PRORES4444_PROFILE[quality]})
        return Encoder(name, "prores_ks", keep or "yuv422p10le",
                       {"profile": _PRORES_PROFILE[quality]})
    if name == "dnxhr":
        profile, pix = _DNXHR[quality]
        if odd:
            raise InputError("--codec", f"DNxHR needs an even frame size, not {width}x{height}; "
                             "use prores or ffv1")
        return Encoder(name, "dnxhd", pix, {"profile": profile})
    x264, x265, vp9 = _CRF.get(quality, ("0", "0", "0"))
    if quality == "lossless":
        if name == "h264":
            return Encoder(name, "libx264rgb", "rgb24", {"qp": "0", "preset": "medium"}, rgb=True)
        if name == "h265":
            return Encoder(name, "libx265", "gbrp10le" if deep else "gbrp",
                           {"x265-params": "lossless=1:log-level=error"}, rgb=True)
        return Encoder(name, "libvpx-vp9", "gbrp", {"lossless": "1", "row-mt": "1",
                                                     "deadline": "good"}, rgb=True)
    if keep:
        pix = keep
    elif quality == "master":
        pix = "yuv444p10le" if name != "vp9" else "yuv444p"
    elif odd:
        pix = "yuv444p"
    else:
        pix = "yuv420p"
    if name == "h264":
        return Encoder(name, "libx264", pix, {"crf": x264, "preset": "medium"})
    if name == "h265":
        return Encoder(name, "libx265", pix, {"crf": x265, "preset": "medium",
                                               "x265-params": "log-level=error"})
    return Encoder(name, "libvpx-vp9", pix, {"crf": vp9, "b": "0", "row-mt": "1",
                                              "deadline": "good"})
