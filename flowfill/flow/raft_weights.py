"""Finding and strictly loading RAFT checkpoints: the official files, or torchvision's.

Official files (raft-things.pth, ..., raft-small.pth) are state dicts saved from DataParallel,
every key prefixed ``module.``; torchvision's raft_large/raft_small use other module names and are
renamed here. Anything that does not match the network key for key and shape for shape is an
InputError naming the file and the first bad key: nothing is loaded half-way, nothing downloaded.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import torch

from flowfill.errors import InputError

ENV_VAR = "FLOWFILL_RAFT_WEIGHTS"

# torchvision name fragment -> official name fragment, applied in order (regex, replacement)
_TORCHVISION_RENAMES = [
    (r"^feature_encoder\.", "fnet."),
    (r"^context_encoder\.", "cnet."),
    (r"^(fnet|cnet)\.convnormrelu\.0\.", r"\1.conv1."),
    (r"^(fnet|cnet)\.convnormrelu\.1\.", r"\1.norm1."),
    (r"^(fnet|cnet)\.conv\.", r"\1.conv2."),
    (r"\.convnormrelu(\d)\.0\.", r".conv\1."),
    (r"\.convnormrelu(\d)\.1\.", r".norm\1."),
    (r"^update_block\.motion_encoder\.convcorr(\d)\.0\.", r"update_block.encoder.convc\1."),
    (r"^update_block\.motion_encoder\.convflow(\d)\.0\.", r"update_block.encoder.convf\1."),
    (r"^update_block\.motion_encoder\.conv\.0\.", "update_block.encoder.conv."),
    (r"^update_block\.recurrent_block\.convgru(\d)\.conv([zrq])\.", r"update_block.gru.conv\2\1."),
    (r"^mask_predictor\.convrelu\.0\.", "update_block.mask.0."),
    (r"^mask_predictor\.conv\.", "update_block.mask.2."),
]
_TORCHVISION_PREFIXES = ("feature_encoder.", "context_encoder.", "mask_predictor.",
                         "update_block.motion_encoder.", "update_block.recurrent_block.")


def resolve_weights(weights: str | os.PathLike | None) -> Path:
    """The checkpoint: ``weights``, else $FLOWFILL_RAFT_WEIGHTS; InputError if none or missing."""
    if weights is None or not os.fspath(weights):
        weights = os.environ.get(ENV_VAR) or None
    if weights is None:
        raise InputError("--raft-weights", "RAFT needs a weights file such as raft-things.pth: "
                         f"pass --raft-weights PATH or set {ENV_VAR} (nothing is downloaded)")
    path = Path(weights).expanduser()
    if not path.exists():
        raise InputError(path, "no such file")
    if not path.is_file():
        raise InputError(path, "not a file (expected a RAFT checkpoint such as raft-things.pth)")
    return path


def expected_shapes(small: bool) -> dict[str, tuple[int, ...]]:
    """Official key -> shape of the large or small network, in the official order."""
    from flowfill.flow.raft_net import RAFTNet

    with torch.device("meta"):
        net = RAFTNet(small)
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def _torchvision_name(key: str, small: bool) -> str:
    """The official name of a torchvision raft_large/raft_small key."""
    for pattern, repl in _TORCHVISION_RENAMES:
        key = re.sub(pattern, repl, key)
    if small:  # torchvision's single GRU is convgru1; the official small one has no suffix
        key = re.sub(r"^update_block\.gru\.conv([zrq])1\.", r"update_block.gru.conv\1.", key)
    return key


def _read(path: Path) -> Mapping:
    """The state-dict mapping in ``path`` (unwrapping {"state_dict": ...} / {"model": ...})."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, not a torch file, pickled code, ...
        detail = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise InputError(path, f"cannot read this as a RAFT checkpoint ({detail})") from None
    for wrapper in ("state_dict", "model"):
        if isinstance(obj, Mapping) and isinstance(obj.get(wrapper), Mapping):
            obj = obj[wrapper]
    if (not isinstance(obj, Mapping) or not obj
            or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in obj.items())):
        raise InputError(path, "not a RAFT state dict (expected parameter names -> tensors)")
    return obj


def load_state(path: str | os.PathLike, small: bool) -> dict[str, torch.Tensor]:
    """The checkpoint at ``path`` as an official-named state dict, checked key by key and shape."""
    path = Path(path)
    raw = _read(path)
    entries = {}  # official name -> (name in the file, for messages; tensor)
    for key, value in raw.items():
        entries[key[len("module."):] if key.startswith("module.") else key] = (key, value)
    if any(name.startswith(_TORCHVISION_PREFIXES) for name in entries):
        entries = {_torchvision_name(name, small): item for name, item in entries.items()}
        if not small:  # the official large cnet stores each shortcut BN twice: norm3 too
            for name, item in list(entries.items()):
                m = re.match(r"^cnet\.(layer\d\.\d)\.downsample\.1\.(.*)$", name)
                if m:
                    entries.setdefault(f"cnet.{m[1]}.norm3.{m[2]}", item)
    stem = entries.get("fnet.conv1.weight", ("", torch.empty(0)))[1]
    file_small = {32: True, 64: False}.get(stem.shape[0] if stem.ndim else 0)
    if small and file_small is False:
        raise InputError(path, "this is a full-size RAFT checkpoint (raft-things and siblings); "
                         "use --flow raft")
    if not small and file_small:
        raise InputError(path, "this is a raft-small checkpoint; use --flow raft-small")
    expected = expected_shapes(small)
    for name, shape in expected.items():
        if name not in entries:
            raise InputError(path, f"missing key {name!r} (expected shape {shape})")
        key, value = entries[name]
        if tuple(value.shape) != shape:
            raise InputError(path, f"key {key!r} has shape {tuple(value.shape)}, "
                             f"expected {shape}")
    for name, (key, _) in entries.items():
        if name not in expected:
            raise InputError(path, f"unexpected key {key!r}")
    return {name: entries[name][1] for name in expected}
