"""Make tests/data/raft_reference.npz: flows computed by the OFFICIAL RAFT code (test_raft.py).

Usage: ``python benchmarks/make_raft_reference.py OFFICIAL_CORE_DIR [--out PATH] [--iters N]``

OFFICIAL_CORE_DIR holds the official files of princeton-vl/RAFT's ``core/`` (raft.py, corr.py,
update.py, extractor.py, utils/utils.py with InputPadder); they are not part of this project and
scipy must be importable for utils.py. The script builds the official ``RAFT`` (large, then
``--small``; mixed_precision and alternate_corr off), loads the deterministic synthetic weights of
``tests/test_raft.py::make_weights`` (keyed in the official model's own order), puts it in eval,
pads the deterministic pair ``reference_frames()`` (130 x 141 uint8) with the official
``InputPadder`` (sintel mode), runs ``model(image1, image2, iters, test_mode=True)`` on the CPU in
fp32, unpads the upsampled flow and stores it (H x W x 2 float32) with the frames, the iteration
count and the sum of |weights| (so the test notices a different weight generator).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def _test_module():
    """tests/test_raft.py, for its weight generator and frames (one source of truth)."""
    spec = importlib.util.spec_from_file_location("test_raft", ROOT / "tests" / "test_raft.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("core", type=Path, help="directory with the official RAFT core/ files")
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "raft_reference.npz")
    parser.add_argument("--iters", type=int, default=6)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(args.core.resolve()))
    from raft import RAFT  # noqa: PLC0415 - the official code
    from utils.utils import InputPadder  # noqa: PLC0415

    tests = _test_module()
    frame_a, frame_b = tests.reference_frames()
    out = {"frame_a": frame_a, "frame_b": frame_b, "iters": np.int64(args.iters)}
    sums = []
    torch.set_grad_enabled(False)
    for small in (False, True):
        model = RAFT(argparse.Namespace(small=small, mixed_precision=False, alternate_corr=False))
        shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        weights = tests.make_weights(shapes)
        model.load_state_dict(weights)
        model.eval()
        sums.append(sum(float(v.double().abs().sum()) for v in weights.values()))
        images = [torch.from_numpy(f).permute(2, 0, 1).float()[None] for f in (frame_a, frame_b)]
        padder = InputPadder(images[0].shape)
        _, flow_up = model(*padder.pad(*images), iters=args.iters, test_mode=True)
        flow = padder.unpad(flow_up)[0].permute(1, 2, 0).numpy().astype(np.float32)
        out["flow_small" if small else "flow_large"] = flow
        print(f"{'small' if small else 'large'}: |flow| max {np.abs(flow).max():.3f}, "
              f"mean {np.abs(flow).mean():.3f}")
    out["weights_sum"] = np.array(sums)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
