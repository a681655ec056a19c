"""Coherent patch attention: each hole patch takes the known patch most like it, refined so
that neighbouring hole patches agree (after the coherent semantic attention of Liu et al.,
2019, with no learned weights), coarse to fine on a crop around the hole.

At each pyramid level and iteration, every hole pixel's patch (colour and luminance gradient,
``PATCH`` x ``PATCH``) is compared with every fully known patch of the crop. Its candidates are
the ``TOP_K`` most similar known patches, its current source and the continuations of its
neighbours' sources (the source patch shifted by the same step: the "adjacent" term that keeps
a filled region coherent); they are weighted by their similarity, normalised (a softmax of
-distance / temperature), and the weighted patches vote for the pixels they cover. The coarsest
level is grown ring by ring from the rim inwards, matching partly known patches on their known
pixels; each finer level starts from the coarser correspondence, so texture is copied, not
interpolated. The result's local mean is then taken from Telea's smooth fill (see solve).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from flowfill.complete.laplace import MembraneFill
from flowfill.devices import resolve_device
from flowfill.hallucinate import telea
from flowfill.hallucinate.region import blur, fill_on_crop

PATCH = 5
MAX_SIDE = 384
"""Crops above this are matched at a proxy (the fill is brought back by cubic upsampling)."""
COARSEST = 24
"""Pyramid levels halve the crop until its short side would fall below this."""
ITERATIONS = (3, 2)
"""Refinement iterations at the coarser levels and at the finest."""
TEMPERATURE = 0.5
"""Softmax temperature, as a share of the best candidate's distance (plus a floor)."""
TOP_K = 8
"""The most similar known patches each hole patch attends to (besides the adjacent ones)."""
BASE_SIGMA = 3.0
"""Scale (pixels at 240p, grown with the frame) below which detail comes from the patches and
above which the local mean comes from Telea's smooth fill (see :func:`solve`)."""
KEY_LIMIT = 24000
"""Known patches compared at most per level (subsampled on a grid above this)."""
CHUNK = 1024
SIDE_WEIGHT = 2.0
"""Weight of the side-of-edge embedding in a patch's features: two patches on different sides
differ by about this much per pixel, more than any two colours (0..1) do."""
SIDES = 3
"""Random values per region that embed which side of the completed edges a pixel lies on."""


def _features(img: torch.Tensor, side: torch.Tensor | None = None) -> torch.Tensor:
    """C+2 x H x W: colour and the luminance gradient (both matter for 'similar'); with
    ``side`` (S x H x W, the embedding of the region between completed edges each pixel lies
    in) also that, weighed ``SIDE_WEIGHT``, so patches are drawn from the same side of an edge."""
    lum = img.mean(0, keepdim=True)[None]
    gx = F.pad(lum[..., :, 1:] - lum[..., :, :-1], (0, 1, 0, 0))
    gy = F.pad(lum[..., 1:, :] - lum[..., :-1, :], (0, 0, 0, 1))
    parts = [img, gx[0], gy[0]] + ([] if side is None else [SIDE_WEIGHT * side])
    return torch.cat(parts, dim=0)


def _patches(feat: torch.Tensor) -> torch.Tensor:
    """(H*W) x (D*PATCH^2) patch vectors centred on every pixel (edge-replicated)."""
    r = PATCH // 2
    padded = F.pad(feat[None], (r, r, r, r), mode="replicate")
    return F.unfold(padded, PATCH)[0].T


def _key_centres(hole: torch.Tensor) -> torch.Tensor:
    """Flat indices of pixels whose whole patch is known (a grid subsample above KEY_LIMIT)."""
    r = PATCH // 2
    near = F.max_pool2d(hole[None, None].float(), PATCH, stride=1, padding=r)[0, 0] > 0
    h, w = hole.shape
    inside = torch.zeros_like(near)
    inside[r:h - r, r:w - r] = True
    ok = ~near & inside
    if int(ok.sum()) < 16:  # tiny crop: accept any known centre
        ok = ~hole
    idx = torch.nonzero(ok.flatten()).flatten()
    step = int(np.ceil(np.sqrt(idx.numel() / KEY_LIMIT)))
    if step > 1:
        ys, xs = idx // w, idx % w
        idx = idx[(ys % step == 0) & (xs % step == 0)]
    return idx


def _vote(img: torch.Tensor, hole: torch.Tensor, q_at: torch.Tensor, cand: torch.Tensor,
          weight: torch.Tensor) -> torch.Tensor:
    """Every hole pixel becomes the weighted average of what the candidate source patches of
    the hole patches covering it put there (patch voting)."""
    c, h, w = img.shape
    r = PATCH // 2
    colour = _patches(img)
    votes = (colour[cand] * weight[..., None]).sum(1)  # Q x C*P*P
    dense = torch.zeros((h * w, c * PATCH * PATCH), device=img.device)
    dense[q_at] = votes
    count = torch.zeros((h * w, PATCH * PATCH), device=img.device)
    count[q_at] = weight.sum(1, keepdim=True)
    acc = F.fold(dense.T[None], (h + 2 * r, w + 2 * r), PATCH)[0, :, r:h + r, r:w + r]
    num = F.fold(count.T[None], (h + 2 * r, w + 2 * r), PATCH)[0, :, r:h + r, r:w + r]
    return torch.where(hole[None] & (num > 1e-6), acc / num.clamp_min(1e-6), img)


def _continuation(field: torch.Tensor, q_at: torch.Tensor, step: tuple[int, int],
                  shape: tuple[int, int], key_pos: torch.Tensor, fallback: torch.Tensor
                  ) -> torch.Tensor:
    """The adjacent term: for each pixel ``q_at``, the source of its neighbour at ``step``
    (``field``: flat source per pixel, -1 where none) shifted back by that step, when it is a
    known patch centre; else ``fallback``."""
    h, w = shape
    dy, dx = step
    qy, qx = q_at // w, q_at % w
    ny, nx = (qy + dy).clamp(0, h - 1), (qx + dx).clamp(0, w - 1)
    from_n = field[ny * w + nx]
    sy, sx = from_n // w - dy, from_n % w - dx
    fine = (from_n >= 0) & (sy >= 0) & (sy < h) & (sx >= 0) & (sx < w)
    cand = torch.where(fine, sy.clamp(0, h - 1) * w + sx.clamp(0, w - 1), fallback)
    return torch.where(key_pos[cand] >= 0, cand, fallback)


def _most_similar(query: torch.Tensor, keys: torch.Tensor, key_sq: torch.Tensor,
                  mask: torch.Tensor | None = None) -> torch.Tensor:
    """Indices (Q x TOP_K) of the keys nearest each query by squared distance; with ``mask``
    (Q x D, 1 = known) only the query's known entries count (queries pre-multiplied by it)."""
    k = min(TOP_K, keys.shape[0])
    out = torch.empty((query.shape[0], k), dtype=torch.long, device=query.device)
    for s in range(0, query.shape[0], CHUNK):
        q = query[s:s + CHUNK]
        if mask is None:
            d = key_sq[None] - 2.0 * q @ keys.T
        else:
            d = mask[s:s + CHUNK] @ key_sq.T - 2.0 * q @ keys.T
        out[s:s + CHUNK] = d.topk(k, dim=1, largest=False).indices
    return out


def _refine(img: torch.Tensor, hole: torch.Tensor, iterations: int,
            src: torch.Tensor | None, side: torch.Tensor | None = None
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Iterated attention and voting at one level. ``img`` (C x H x W) holds an estimate in
    the hole, which is replaced; ``src`` (flat source centre per hole pixel, row-major order,
    or None) is the correspondence carried from the coarser level; ``side``: see _features.
    Returns both, updated."""
    c, h, w = img.shape
    keys_at = _key_centres(hole)
    q_at = torch.nonzero(hole.flatten()).flatten()
    if keys_at.numel() == 0 or q_at.numel() == 0:
        return img, torch.zeros_like(q_at)
    dev = img.device
    key_pos = torch.full((h * w,), -1, dtype=torch.long, device=dev)
    key_pos[keys_at] = torch.arange(keys_at.numel(), device=dev)
    valid = None
    if src is not None:  # the carried correspondence paints a first, textured estimate
        valid = (src >= 0) & (key_pos[src.clamp_min(0)] >= 0)
        src = torch.where(valid, src, keys_at[0])
        img = _vote(img, hole, q_at, src[:, None], valid[:, None].to(img.dtype))
    for _ in range(iterations):
        pats = _patches(_features(img, side))
        keys = pats[keys_at]
        key_sq = (keys * keys).sum(1)
        query = pats[q_at]
        top = _most_similar(query, keys, key_sq)
        most_similar = keys_at[top[:, 0]]
        current = most_similar if src is None else torch.where(valid, src, most_similar)
        valid = torch.ones_like(current, dtype=torch.bool)
        # the adjacent term: each neighbour's source shifted back by the step to this pixel
        choice = torch.full((h * w,), -1, dtype=torch.long, device=dev)
        choice[q_at] = current
        cands = [keys_at[top[:, i]] for i in range(top.shape[1])] + [current]
        cands += [_continuation(choice, q_at, step, (h, w), key_pos, current)
                  for step in ((0, 1), (0, -1), (1, 0), (-1, 0))]
        cand = torch.stack(cands, 1)  # Q x (TOP_K + 5) source centres (flat indices)
        dist = ((pats[cand] - query[:, None]) ** 2).sum(-1)
        dmin = dist.min(1, keepdim=True).values
        weight = torch.softmax(-dist / (TEMPERATURE * dmin + 1e-4), dim=1)
        src = cand.gather(1, dist.argmin(1, keepdim=True))[:, 0]
        img = _vote(img, hole, q_at, cand, weight)
    return img, src


def _grow(img: torch.Tensor, hole: torch.Tensor, side: torch.Tensor | None = None
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """Fill the hole ring by ring from its rim inwards (the coarsest level's start): each rim
    pixel's partly known patch is compared, over its known pixels, with every known patch,
    and takes the centre colour of the most similar one blended with the continuations of
    its filled neighbours' sources, each weighted by its normalised similarity (``side``: the
    side-of-edge embedding, compared everywhere, hole pixels included). Returns the filled
    image and each hole pixel's source (flat index, row-major hole order)."""
    c, h, w = img.shape
    dev = img.device
    keys_at = _key_centres(hole)
    q_all = torch.nonzero(hole.flatten()).flatten()
    field = torch.full((h * w,), -1, dtype=torch.long, device=dev)
    if keys_at.numel() == 0:
        return img, torch.zeros_like(q_all)
    key_pos = torch.full((h * w,), -1, dtype=torch.long, device=dev)
    key_pos[keys_at] = torch.arange(keys_at.numel(), device=dev)
    def stacked(image: torch.Tensor) -> torch.Tensor:
        return image if side is None else torch.cat([image, SIDE_WEIGHT * side], 0)

    keys = _patches(stacked(img))[keys_at]  # K x (C + S)*P*P
    keys_sq = keys * keys
    flat = img.reshape(c, -1)
    todo = hole.clone()
    extra = 0 if side is None else side.shape[0]
    while bool(todo.any()):
        known = ~todo
        rim = todo & (F.max_pool2d(known[None, None].float(), 3, 1, 1)[0, 0] > 0)
        q_at = torch.nonzero(rim.flatten()).flatten()
        seen = torch.cat([known[None].float().expand(c, h, w),
                          torch.ones((extra, h, w), device=dev)], 0)  # the side is known
        m = _patches(seen.contiguous())[q_at]
        q = _patches(stacked(img))[q_at] * m
        top = _most_similar(q, keys, keys_sq, m)
        cands = [keys_at[top[:, i]] for i in range(top.shape[1])]
        cands += [_continuation(field, q_at, (dy, dx), (h, w), key_pos, cands[0])
                  for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]
        cand = torch.stack(cands, 1)  # Q x (TOP_K + 8)
        kp = keys[key_pos[cand]]  # Q x (TOP_K + 8) x C*P*P
        dist = (m[:, None] * (kp - q[:, None]) ** 2).sum(-1) / m.sum(1, keepdim=True).clamp_min(1)
        dmin = dist.min(1, keepdim=True).values
        weight = torch.softmax(-dist / (TEMPERATURE * dmin + 1e-4), dim=1)
        flat[:, q_at] = (flat[:, cand] * weight[None]).sum(-1)
        field[q_at] = cand.gather(1, dist.argmin(1, keepdim=True))[:, 0]
        todo = todo & ~rim
    return img, field[q_all]


def _upsample_field(field: torch.Tensor, coarse: tuple[int, int], fine: tuple[int, int]
                    ) -> torch.Tensor:
    """The correspondence (flat source index per pixel, -1 where none) at the finer level: each
    pixel takes its parent's source, scaled, plus its own offset within the parent."""
    ch, cw = coarse
    h, w = fine
    dev = field.device
    ys = torch.arange(h, device=dev)[:, None].expand(h, w)
    xs = torch.arange(w, device=dev)[None, :].expand(h, w)
    py, px = (ys * ch) // h, (xs * cw) // w
    parent = field[(py * cw + px).flatten()].view(h, w)
    sy = ((parent // cw) * h) // ch + ys - (py * h) // ch
    sx = ((parent % cw) * w) // cw + xs - (px * w) // cw
    ok = (parent >= 0) & (sy >= 0) & (sy < h) & (sx >= 0) & (sx < w)
    return torch.where(ok, sy * w + sx, torch.full_like(parent, -1)).flatten()


def attend(crop: np.ndarray, hole: np.ndarray, device: str | torch.device = "cpu",
           side: np.ndarray | None = None) -> np.ndarray:
    """Coarse-to-fine coherent patch attention on a normalised crop (H x W x C, 0..1);
    ``side`` (H x W x S): which region between completed edges each pixel lies in, embedded
    (see :func:`side_embedding`), or None."""
    dev = resolve_device(str(device)) if not isinstance(device, torch.device) else device
    c = crop.shape[2]
    both = crop if side is None else np.concatenate([crop, side.astype(crop.dtype)], axis=2)
    levels = [(both, hole)]
    while min(levels[-1][1].shape) // 2 >= COARSEST:
        img, m = levels[-1]
        h, w = m.shape
        half = torch.as_tensor(img).permute(2, 0, 1)[None]
        half = F.interpolate(half, (h // 2, w // 2), mode="area")[0].permute(1, 2, 0).numpy()
        mh = F.interpolate(torch.as_tensor(m, dtype=torch.float32)[None, None], (h // 2, w // 2),
                           mode="area")[0, 0].numpy() > 0
        levels.append((half, mh))

    def split(level: np.ndarray) -> tuple[torch.Tensor, torch.Tensor | None]:
        t = torch.as_tensor(level, dtype=torch.float32, device=dev).permute(2, 0, 1)
        return t[:c].contiguous(), (None if side is None else t[c:].contiguous())

    img0, m0 = levels[-1]
    est, side0 = split(img0)
    est = est.clone()
    hole0 = torch.as_tensor(m0, device=dev)
    est, src0 = _grow(est, hole0, side0)
    field = torch.full((m0.size,), -1, dtype=torch.long, device=dev)
    field[torch.nonzero(hole0.flatten()).flatten()] = src0
    for i in range(len(levels) - 1, -1, -1):
        img, m = levels[i]
        h, w = m.shape
        if est.shape[1:] != (h, w):
            field = _upsample_field(field, tuple(est.shape[1:]), (h, w))
            est = F.interpolate(est[None], (h, w), mode="bilinear", align_corners=False)[0]
        known, side_i = split(img)
        hole_t = torch.as_tensor(m, device=dev)
        est = torch.where(hole_t[None], est, known)
        q_at = torch.nonzero(hole_t.flatten()).flatten()
        src = field[q_at]
        est, src = _refine(est, hole_t, ITERATIONS[1] if i == 0 else ITERATIONS[0], src,
                           side_i)
        field = torch.full((h * w,), -1, dtype=torch.long, device=dev)
        field[q_at] = src
    return est.permute(1, 2, 0).cpu().numpy()


def solve(crop: np.ndarray, hole: np.ndarray, device: str | torch.device = "cpu",
          sigma: float = BASE_SIGMA, side: np.ndarray | None = None) -> np.ndarray:
    """The patches' detail on Telea's local mean: ``lowpass(telea) + attend - lowpass(attend)``.

    Copied patches carry the right kind of texture but often a slightly wrong mean (the most
    similar patch is not the one that belongs there), which costs far more PSNR than the
    texture gains; a smooth fill gets the mean right and the texture wrong. The sum keeps what
    each gets right (measured in benchmarks/fills.py: better hole-PSNR, -SSIM and detail than
    either alone).
    """
    patches = attend(crop, hole, device, side)
    if side is None:
        smooth = telea.fill(crop, hole)
    else:  # the membrane cut where the side changes: each region takes its own rim's mean
        cut = np.zeros(hole.shape, bool)
        step_x = np.abs(np.diff(side, axis=1)).max(-1) > 1e-3
        step_y = np.abs(np.diff(side, axis=0)).max(-1) > 1e-3
        cut[:, 1:] |= step_x
        cut[1:] |= step_y
        smooth = MembraneFill(hole, cut & hole)(crop)[0]
    return blur(smooth, sigma) + patches - blur(patches, sigma)


def side_embedding(edges: np.ndarray, seed: int = 0) -> np.ndarray:
    """H x W x SIDES float32: for each pixel, the random values of the region of ``~edges``
    (bool H x W, 4-connected) it lies in; an edge pixel takes its nearest region's. Two regions
    get different values almost surely, so patches compare as far apart across an edge."""
    regions = (~edges).astype(np.uint8)
    count, labels = cv2.connectedComponents(regions, connectivity=4)
    if edges.any() and count > 1:  # edge pixels: the label of the nearest non-edge pixel
        _, nearest = cv2.distanceTransformWithLabels(regions, cv2.DIST_L2, 3,
                                                     labelType=cv2.DIST_LABEL_PIXEL)
        ys, xs = np.nonzero(regions)
        lookup = np.zeros(int(nearest.max()) + 1, np.int32)
        lookup[nearest[ys, xs]] = labels[ys, xs]
        labels = np.where(edges, lookup[nearest], labels)
    values = np.random.default_rng(seed).random((max(count, 1), SIDES)).astype(np.float32)
    return values[labels]


def fill(image: np.ndarray, mask: np.ndarray, device: str = "cpu", seed: int = 0,
         budget: float | None = None, progress: object = None,
         edges: np.ndarray | None = None) -> np.ndarray:
    """Fill ``mask`` (bool H x W) of ``image`` (float H x W x C) by coherent patch attention.

    ``edges`` (bool H x W): the picture's edges with those completed into the hole
    (:class:`flowfill.edges.image.ImageEdgeCompleter`); patches are then drawn from the same
    side of them, so a region fenced off by edges is filled from the matching region outside.
    Deterministic (no randomness; ``seed`` is accepted for the common interface), and fast
    enough that ``budget`` (seconds) and ``progress`` are not needed.
    """
    sigma = BASE_SIGMA * max(1.0, min(mask.shape) / 240.0)
    if edges is None or not edges.any():
        return fill_on_crop(image, mask, lambda c, h: solve(c, h, device, sigma), MAX_SIDE)
    return fill_on_crop(image, mask, lambda c, h, side: solve(c, h, device, sigma, side),
                        MAX_SIDE, extra=side_embedding(edges))
