"""Train the edge net: ``flowfill train-edges`` runs this end to end, reproducibly from a seed.

``kind="flow"`` (the default) trains the motion-edge net the flow fill uses; ``kind="image"``
the same net on pictures' luminance (``flowfill.edges.image``): real crops are then the clips'
frames themselves, synthetic ones ``layered_image``, and Canny's thresholds are the image ones;
only the threshold is calibrated (softness is the flow fill's).

Samples are crops of layered synthetic motion (unlimited) and, when the shared clips are at
hand, of DIS flows of their first 60% of frames (the rest is held apart for the benchmark),
with holes of object, blob and scratch shapes, half of them moved onto a motion boundary. The
target is Canny of the whole (unmasked) flow magnitude, grown to three pixels across; the loss,
inside the region the net decides, is binary cross-entropy with edge pixels up-weighted plus a
soft Dice term (edges are a few percent of it). The decision threshold and the softness with
which probabilities cut the flow fill are then calibrated on held-apart data (``calibrate.py``).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from flowfill.edges.canny import HIGH, LOW, canny, canny_sigma
from flowfill.edges.complete import batch_magnitude, net_inputs, predict_region
from flowfill.edges.image import HIGH as IMAGE_HIGH
from flowfill.edges.image import LOW as IMAGE_LOW
from flowfill.edges.image import layered_image, luminance
from flowfill.edges.net import EdgeNet
from flowfill.edges.synthetic import REFERENCE, layered_flow, random_hole

TRAIN_CLIPS = ("tennis", "bmx-trees", "running_car")
TRAIN_SHARE = 0.6
"""Shared-clip frames before this fraction of each clip are for training; the rest are held."""


@dataclass
class TrainConfig:
    """Everything a training run depends on (written into the checkpoint and the log)."""

    steps: int = 4000
    batch: int = 8
    crop: int = 160
    lr: float = 1e-3
    real_share: float = 0.6
    """Share of samples cut from real DIS flows when the shared clips are present (0.3 gained
    less on real flows, see MODEL_CARD.md)."""
    seed: int = 0
    widths: tuple[int, int, int] = (8, 24, 48)
    blocks: int = 4
    dilations: tuple[int, ...] = (2, 4, 8, 4)
    val_samples: int = 64
    log_every: int = 100
    edge_focus: float = 0.5
    """Share of samples whose hole is moved onto a motion boundary (most random holes miss
    every boundary, and a hole with none teaches only that nothing is there)."""
    pos_weight: float = 3.0
    """Weight of edge pixels in the cross-entropy (a threshold is calibrated afterwards)."""
    calibration_samples: int = 40
    """Synthetic flows the softness is calibrated on when the shared clips are absent."""
    kind: str = "flow"
    """What the net completes: flow (motion edges of flow magnitude) or image (luminance)."""


@dataclass
class Sample:
    """A training or test sample: flow (2 x H x W) or, for the image net, luminance
    (1 x H x W); hole (1 x H x W bool)."""

    flow: np.ndarray
    hole: np.ndarray


def clip_flows(frames: np.ndarray, first: int, last: int) -> list[np.ndarray]:
    """DIS forward and backward flows (H x W x 2) of frames ``first``..``last`` (exclusive)."""
    from flowfill.flow import DISEstimator

    est = DISEstimator(max_side=None)
    out = []
    for t in range(first, last - 1):
        fwd, bwd = est.pair(frames[t], frames[t + 1], t, t + 1)
        out += [fwd, bwd]
    return out


def shared_training_data(quiet: bool = True, kind: str = "flow"
                         ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """DIS flows (``kind`` flow) or every other frame's luminance (image), and object
    silhouettes, from the training part of each shared clip present."""
    from flowfill.evaluate import clips as clipmod

    flows: list[np.ndarray] = []
    silhouettes: list[np.ndarray] = []
    for name in TRAIN_CLIPS:
        clip = clipmod.load_clip(name)
        if clip is None:
            continue
        n = int(len(clip.frames) * TRAIN_SHARE)
        if kind == "image":
            flows += [luminance(f)[..., None] for f in clip.frames[:n:2]]
        else:
            if not quiet:
                print(f"train-edges: DIS flows of {name} frames 0..{n - 1}", file=sys.stderr)
            flows += clip_flows(clip.frames, 0, n)
        mask_dir = clipmod.shared_clips_dir() / f"{name}_mask"
        if mask_dir.is_dir():
            masks = clipmod.load_mask_folder(mask_dir, n)
            silhouettes += [m for m in masks[::4] if m.any()]
    return flows, silhouettes


def _onto_boundary(rng: np.random.Generator, flow: np.ndarray, hole: np.ndarray,
                   floor: float = 0.25) -> np.ndarray:
    """``hole`` shifted so its centre lies on a random motion boundary of ``flow`` (H x W x C:
    a flow, or a luminance with C = 1 and a lower ``floor`` on the gradient), if any."""
    mag = np.linalg.norm(flow, axis=-1)
    gy, gx = np.gradient(mag)
    strong = np.hypot(gx, gy) > max(floor, 0.05 * float(mag.max()))
    ys, xs = np.nonzero(strong)
    if ys.size == 0:
        return hole
    k = int(rng.integers(ys.size))
    hy, hx = (a.mean() for a in np.nonzero(hole))
    return np.roll(hole, (int(ys[k] - hy), int(xs[k] - hx)), axis=(0, 1))


def draw_sample(rng: np.random.Generator, crop: int, real: list[np.ndarray],
                silhouettes: list[np.ndarray], real_share: float,
                edge_focus: float = 0.0, kind: str = "flow") -> Sample:
    """One crop: real DIS flow or frame luminance (``kind``; randomly flipped) with chance
    ``real_share``, else synthetic."""
    image = kind == "image"
    if real and rng.random() < real_share:
        f = real[int(rng.integers(len(real)))]
        h, w = f.shape[:2]
        y, x = int(rng.integers(0, h - crop + 1)), int(rng.integers(0, w - crop + 1))
        f = f[y: y + crop, x: x + crop].copy()
        flip_x, flip_y = ((1, 1) if image else (np.array([-1, 1], np.float32),
                                                np.array([1, -1], np.float32)))
        if rng.random() < 0.5:
            f = f[:, ::-1] * flip_x
        if rng.random() < 0.5:
            f = f[::-1] * flip_y
    elif image:
        f = layered_image(rng, crop, crop, size=REFERENCE)[..., None]
    else:
        f = layered_flow(rng, crop, crop, size=REFERENCE)
    hole = random_hole(rng, crop, crop, size=REFERENCE, silhouettes=silhouettes)
    if edge_focus and rng.random() < edge_focus:
        hole = _onto_boundary(rng, f, hole, 0.04 if image else 0.25)
    return Sample(np.ascontiguousarray(f.transpose(2, 0, 1)), hole[None])


def prepare(samples: list[Sample], device: torch.device) -> tuple[torch.Tensor, ...]:
    """Batch tensors: net inputs, target (3-px edges of the unmasked flow or luminance),
    region, exact edges."""
    flow = torch.as_tensor(np.stack([s.flow for s in samples]), device=device)
    hole = torch.as_tensor(np.stack([s.hole for s in samples]), device=device)
    known = ~hole
    lum = flow.shape[1] == 1
    mag = flow if lum else batch_magnitude(flow, known)
    low, high = (IMAGE_LOW, IMAGE_HIGH) if lum else (LOW, HIGH)
    sigma = canny_sigma((int(REFERENCE), int(REFERENCE)))
    known_edges = canny(mag, known, sigma, low, high)
    truth = canny(mag, torch.ones_like(known), sigma, low, high)
    region = predict_region(hole)
    target = F.max_pool2d(truth.float(), 3, stride=1, padding=1)
    return net_inputs(mag, known_edges, hole), target, region, truth


def edge_loss(logits: torch.Tensor, target: torch.Tensor, region: torch.Tensor,
              pos_weight: float = 3.0) -> torch.Tensor:
    """BCE with edge pixels weighted ``pos_weight``, plus soft Dice, both over ``region`` only."""
    weight = region * torch.where(target > 0.5, pos_weight, 1.0)
    bce = F.binary_cross_entropy_with_logits(logits, target, weight=weight, reduction="sum")
    bce = bce / weight.sum().clamp_min(1)
    p = torch.sigmoid(logits) * region
    dice = 1 - (2 * (p * target).sum() + 1) / (p.sum() + (target * region).sum() + 1)
    return bce + dice


def precision_recall(pred: np.ndarray, truth: np.ndarray, region: np.ndarray, tol: int = 1
                     ) -> tuple[int, int, int, int]:
    """Counts for edge precision and recall inside ``region`` with a match tolerance in pixels:
    (predicted matched, predicted, truth matched, truth)."""
    import cv2

    k = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * tol + 1, 2 * tol + 1))
    near_truth = cv2.dilate(truth.astype(np.uint8), k).astype(bool)
    near_pred = cv2.dilate((pred & region).astype(np.uint8), k).astype(bool)
    p, t = pred & region, truth & region
    return int((p & near_truth).sum()), int(p.sum()), int((t & near_pred).sum()), int(t.sum())


def evaluate_net(net: EdgeNet, batches: list[tuple[torch.Tensor, ...]]) -> dict[str, float]:
    """Precision, recall and F1 (1-px tolerance, threshold 0.5) and loss on fixed batches."""
    net.eval()
    counts = np.zeros(4)
    loss = 0.0
    with torch.inference_mode():
        for x, target, region, truth in batches:
            logits = net(x)
            loss += float(edge_loss(logits, target, region))
            pred = (torch.sigmoid(logits) >= 0.5).cpu().numpy()
            for b in range(len(pred)):
                counts += precision_recall(pred[b, 0], truth[b, 0].cpu().numpy(),
                                           region[b, 0].cpu().numpy() > 0)
    net.train()
    prec = counts[0] / max(counts[1], 1)
    rec = counts[2] / max(counts[3], 1)
    return {"loss": loss / max(len(batches), 1), "precision": prec, "recall": rec,
            "f1": 2 * prec * rec / max(prec + rec, 1e-9)}


def train(config: TrainConfig, out: Path, device: str | torch.device = "cpu",
          use_clips: bool = True, quiet: bool = True) -> dict[str, float]:
    """Train from scratch and write the checkpoint to ``out`` and a JSON-lines log beside it."""
    from tqdm import tqdm

    dev = torch.device(device)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    real, silhouettes = shared_training_data(quiet, config.kind) if use_clips else ([], [])
    val = validation_batches(config, dev)  # held-apart synthetic samples
    net = EdgeNet(config.widths, config.blocks, config.dilations).to(dev).train()
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=1e-4)
    warm = max(1, config.steps // 20)

    def rate(step: int) -> float:  # linear warm-up, then cosine decay to 2%
        if step < warm:
            return (step + 1) / warm
        return 0.02 + 0.49 * (1 + np.cos(np.pi * (step - warm) / max(config.steps - warm, 1)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, rate)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    log_path = out.with_suffix(".log.jsonl")
    tmp_log = log_path.with_name(log_path.name + ".tmp")
    start = time.time()
    running, logged = 0.0, 0
    bar = tqdm(total=config.steps, desc="train-edges", disable=quiet, file=sys.stderr)
    with tmp_log.open("w") as log:
        log.write(json.dumps({"config": asdict(config), "real_flows": len(real),
                              "silhouettes": len(silhouettes)}) + "\n")
        for step in range(1, config.steps + 1):
            batch = [draw_sample(rng, config.crop, real, silhouettes, config.real_share,
                                 config.edge_focus, config.kind) for _ in range(config.batch)]
            x, target, region, _ = prepare(batch, dev)
            loss = edge_loss(net(x), target, region, config.pos_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            running += float(loss.detach())
            bar.update(1)
            if step % config.log_every == 0 or step == config.steps:
                record = {"step": step, "train_loss": running / (step - logged),
                          "seconds": round(time.time() - start, 1),
                          **{f"val_{k}": round(v, 4) for k, v in evaluate_net(net, val).items()}}
                running, logged = 0.0, step
                log.write(json.dumps(record) + "\n")
                log.flush()
        bar.close()
        net.eval()
        calibrated = calibrate(net, val, config, use_clips, quiet)
        record.update(calibrated)
        log.write(json.dumps(calibrated) + "\n")
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    tmp = out.with_name(out.name + ".tmp")
    blob = {"config": net.config, "state": state, "train": asdict(config), "kind": config.kind,
            "threshold": calibrated["threshold"]}
    if "softness" in calibrated:
        blob["softness"] = calibrated["softness"]
    torch.save(blob, tmp)
    tmp.replace(out)
    tmp_log.replace(log_path)
    return record


def validation_batches(config: TrainConfig, device: torch.device) -> list[tuple[torch.Tensor, ...]]:
    """The held-apart synthetic batches of a run: validation during training, threshold after."""
    val_rng = np.random.default_rng(10_000 + config.seed)
    return [prepare([draw_sample(val_rng, config.crop, [], [], 0.0, 0.5, config.kind)
                     for _ in range(8)], device) for _ in range(config.val_samples // 8)]


def calibrate(net: EdgeNet, val: list[tuple[torch.Tensor, ...]], config: TrainConfig,
              use_clips: bool = True, quiet: bool = True) -> dict:
    """Threshold (best F1 on ``val``) and softness (lowest hole end-point error of the fill on
    held-apart flows) of a trained net, as the record the log and checkpoint keep."""
    from flowfill.edges.calibrate import choose_softness, choose_threshold, softness_samples
    from flowfill.edges.complete import EdgeCompleter

    threshold, f1 = choose_threshold(net, val)
    if config.kind == "image":  # softness is the flow fill's; the image net is thresholded
        return {"threshold": threshold, "val_f1_at_threshold": round(f1, 4)}
    source, samples = softness_samples(use_clips, config.calibration_samples, quiet)
    completer = EdgeCompleter(next(net.parameters()).device, net=net, threshold=threshold)
    softness, errors = choose_softness(completer, samples)
    return {"threshold": threshold, "val_f1_at_threshold": round(f1, 4), "softness": softness,
            "softness_source": source, "softness_samples": len(samples),
            "hole_epe_by_softness": {f"{k:g}": round(v, 4) for k, v in errors.items()}}


def recalibrate(path: Path, device: str | torch.device = "cpu", use_clips: bool = True,
                quiet: bool = True) -> dict:
    """Calibrate an existing checkpoint again (threshold and softness) without training: the
    checkpoint is rewritten with them and the record appended to its log, both atomically."""
    from flowfill.edges.complete import read_checkpoint
    from flowfill.errors import InputError

    path = Path(path)
    dev = torch.device(device)
    blob, net = read_checkpoint(path)
    fields = TrainConfig.__dataclass_fields__
    try:
        config = TrainConfig(**{k: (tuple(v) if isinstance(v, list) else v)
                                for k, v in blob.get("train", {}).items() if k in fields})
    except (AttributeError, TypeError) as exc:  # a "train" record that is not a mapping
        raise InputError(str(path), f"not a flowfill edge-net checkpoint ({exc})") from exc
    net = net.to(dev).eval()
    torch.manual_seed(config.seed)
    calibrated = {"recalibrated": True,
                  **calibrate(net, validation_batches(config, dev), config, use_clips, quiet)}
    blob.update({k: calibrated[k] for k in ("threshold", "softness") if k in calibrated})
    tmp = path.with_name(path.name + ".tmp")
    torch.save(blob, tmp)
    log_path = path.with_suffix(".log.jsonl")
    tmp_log = log_path.with_name(log_path.name + ".tmp")
    old = log_path.read_text() if log_path.is_file() else ""
    tmp_log.write_text(old + json.dumps(calibrated) + "\n")
    tmp.replace(path)
    tmp_log.replace(log_path)
    return calibrated
