"""The RAFT network (Teed & Deng, ECCV 2020), large and small, named like the official checkpoints.

``state_dict()`` keys equal the official ones without ``module.``, so raft-things.pth and its
siblings load unchanged. The forward pass is split so a caller can encode each frame once
(:meth:`RAFTNet.encode`) and refine any pair from the cached encodings (:meth:`RAFTNet.refine`).
Images are RGB in 0..255 with sides that are multiples of 8; correlation always runs in fp32.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn

CORR_LEVELS = 4


def _norm(kind: str, channels: int) -> nn.Module:
    """The normalisation layer of an encoder: instance (no affine), batch, or none."""
    if kind == "instance":
        return nn.InstanceNorm2d(channels)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.Identity()


class ResidualBlock(nn.Module):
    """Two 3x3 conv-norm-ReLU layers plus a (strided 1x1 conv-norm) shortcut, then ReLU."""

    def __init__(self, cin: int, cout: int, norm: str, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, stride=stride)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.norm1, self.norm2 = _norm(norm, cout), _norm(norm, cout)
        self.downsample: nn.Module | None = None
        if stride != 1:  # the shortcut's norm is registered twice, as norm3 and downsample.1
            self.norm3 = _norm(norm, cout)
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride), self.norm3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.norm1(self.conv1(x)))
        y = F.relu(self.norm2(self.conv2(y)))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class BottleneckBlock(nn.Module):
    """1x1 down to a quarter, 3x3 (strided), 1x1 up, each conv-norm-ReLU, plus the shortcut."""

    def __init__(self, cin: int, cout: int, norm: str, stride: int) -> None:
        super().__init__()
        mid = cout // 4
        self.conv1 = nn.Conv2d(cin, mid, 1)
        self.conv2 = nn.Conv2d(mid, mid, 3, padding=1, stride=stride)
        self.conv3 = nn.Conv2d(mid, cout, 1)
        self.norm1, self.norm2, self.norm3 = _norm(norm, mid), _norm(norm, mid), _norm(norm, cout)
        self.downsample: nn.Module | None = None
        if stride != 1:
            self.norm4 = _norm(norm, cout)
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride), self.norm4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.norm1(self.conv1(x)))
        y = F.relu(self.norm2(self.conv2(y)))
        y = F.relu(self.norm3(self.conv3(y)))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class Encoder(nn.Module):
    """A 1/8-resolution encoder: 7x7 stride-2 stem, three stages of two blocks, 1x1 output conv."""

    def __init__(self, small: bool, out_dim: int, norm: str) -> None:
        super().__init__()
        block, widths = (BottleneckBlock, (32, 64, 96)) if small else (ResidualBlock, (64, 96, 128))
        self.norm1 = _norm(norm, widths[0])  # registered first: the official key order
        self.conv1 = nn.Conv2d(3, widths[0], 7, stride=2, padding=3)
        cin = widths[0]
        for i, (width, stride) in enumerate(zip(widths, (1, 2, 2), strict=True), start=1):
            stage = nn.Sequential(block(cin, width, norm, stride), block(width, width, norm, 1))
            self.add_module(f"layer{i}", stage)
            cin = width
        self.conv2 = nn.Conv2d(cin, out_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.norm1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.conv2(x)


class MotionEncoder(nn.Module):
    """Features of the looked-up correlation and the current flow, with the flow appended."""

    def __init__(self, corr_in: int, corr_dims: tuple[int, ...], flow_dims: tuple[int, int],
                 out_dim: int) -> None:
        super().__init__()
        self.convc1 = nn.Conv2d(corr_in, corr_dims[0], 1)
        self.convc2 = None if len(corr_dims) == 1 else nn.Conv2d(*corr_dims, 3, padding=1)
        self.convf1 = nn.Conv2d(2, flow_dims[0], 7, padding=3)
        self.convf2 = nn.Conv2d(flow_dims[0], flow_dims[1], 3, padding=1)
        self.conv = nn.Conv2d(corr_dims[-1] + flow_dims[1], out_dim - 2, 3, padding=1)

    def forward(self, flow: torch.Tensor, corr: torch.Tensor) -> torch.Tensor:
        cor = F.relu(self.convc1(corr))
        if self.convc2 is not None:
            cor = F.relu(self.convc2(cor))
        flo = F.relu(self.convf2(F.relu(self.convf1(flow))))
        out = F.relu(self.conv(torch.cat([cor, flo], dim=1)))
        return torch.cat([out, flow], dim=1)


class ConvGRU(nn.Module):
    """A convolutional GRU applied once per kernel shape: 3x3 (small), or 1x5 then 5x1 (large)."""

    def __init__(self, hidden: int, inp: int, kernels: tuple[tuple[int, int], ...]) -> None:
        super().__init__()
        self.suffixes = [""] if len(kernels) == 1 else [str(i + 1) for i in range(len(kernels))]
        for suffix, (kh, kw) in zip(self.suffixes, kernels, strict=True):
            for gate in "zrq":
                conv = nn.Conv2d(hidden + inp, hidden, (kh, kw), padding=(kh // 2, kw // 2))
                self.add_module(f"conv{gate}{suffix}", conv)

    def forward(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        for s in self.suffixes:
            hx = torch.cat([h, x], dim=1)
            z = torch.sigmoid(getattr(self, f"convz{s}")(hx))
            r = torch.sigmoid(getattr(self, f"convr{s}")(hx))
            q = torch.tanh(getattr(self, f"convq{s}")(torch.cat([r * h, x], dim=1)))
            h = (1 - z) * h + z * q
        return h


class FlowHead(nn.Module):
    """Two 3x3 convs from the hidden state to a flow update."""

    def __init__(self, hidden: int, mid: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(hidden, mid, 3, padding=1)
        self.conv2 = nn.Conv2d(mid, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.relu(self.conv1(x)))


class UpdateBlock(nn.Module):
    """One refinement step: motion features, GRU, flow update (and, large, upsampling logits)."""

    def __init__(self, small: bool, hidden: int, context: int, radius: int) -> None:
        super().__init__()
        corr_in = CORR_LEVELS * (2 * radius + 1) ** 2
        if small:
            self.encoder = MotionEncoder(corr_in, (96,), (64, 32), 82)
            self.gru = ConvGRU(hidden, context + 82, ((3, 3),))
            self.flow_head = FlowHead(hidden, 128)
            self.mask: nn.Module | None = None
        else:
            self.encoder = MotionEncoder(corr_in, (256, 192), (128, 64), 128)
            self.gru = ConvGRU(hidden, context + 128, ((1, 5), (5, 1)))
            self.flow_head = FlowHead(hidden, 256)
            self.mask = nn.Sequential(nn.Conv2d(hidden, 256, 3, padding=1), nn.ReLU(inplace=True),
                                      nn.Conv2d(256, 8 * 8 * 9, 1))

    def forward(self, net: torch.Tensor, inp: torch.Tensor, corr: torch.Tensor,
                flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        net = self.gru(net, torch.cat([inp, self.encoder(flow, corr)], dim=1))
        mask = None if self.mask is None else 0.25 * self.mask(net)  # 0.25: as trained
        return net, mask, self.flow_head(net)


def coords_grid(batch: int, h: int, w: int, device: torch.device) -> torch.Tensor:
    """Pixel coordinates (x, y) as a batch x 2 x h x w float32 tensor."""
    ys, xs = torch.meshgrid(torch.arange(h, device=device, dtype=torch.float32),
                            torch.arange(w, device=device, dtype=torch.float32), indexing="ij")
    return torch.stack([xs, ys])[None].expand(batch, 2, h, w)


def corr_pyramid(fmap1: torch.Tensor, fmap2: torch.Tensor) -> list[torch.Tensor]:
    """All-pairs correlation / sqrt(C), as (B*h*w) x 1 x h x w, and 3 levels avg-pooled by 2."""
    b, c, h, w = fmap1.shape
    corr = torch.bmm(fmap1.float().flatten(2).transpose(1, 2), fmap2.float().flatten(2))
    corr = (corr / c ** 0.5).reshape(b * h * w, 1, h, w)
    pyramid = [corr]
    for _ in range(CORR_LEVELS - 1):
        pyramid.append(F.avg_pool2d(pyramid[-1], 2, stride=2))
    return pyramid


def corr_lookup(pyramid: list[torch.Tensor], coords: torch.Tensor, radius: int) -> torch.Tensor:
    """Bilinear (align_corners) samples of each level in a (2r+1)^2 window around coords / 2^i.

    Channel order follows the official code: the slow window index offsets x, the fast one y.
    """
    b, _, h, w = coords.shape
    d = torch.arange(-radius, radius + 1, device=coords.device, dtype=torch.float32)
    dx, dy = torch.meshgrid(d, d, indexing="ij")
    window = torch.stack([dx, dy], dim=-1)[None]  # 1 x k x k x (dx, dy)
    centre = coords.permute(0, 2, 3, 1).reshape(b * h * w, 1, 1, 2)
    out = []
    for i, corr in enumerate(pyramid):
        hl, wl = corr.shape[-2:]
        pts = centre / 2**i + window
        grid = torch.stack([2 * pts[..., 0] / (wl - 1) - 1, 2 * pts[..., 1] / (hl - 1) - 1], -1)
        out.append(F.grid_sample(corr, grid, align_corners=True).reshape(b, h, w, -1))
    return torch.cat(out, dim=-1).permute(0, 3, 1, 2).contiguous()


def upsample_convex(flow: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """8x upsampling: each fine pixel a softmax-weighted mix of the 3x3 coarse neighbours."""
    b, _, h, w = flow.shape
    weights = torch.softmax(mask.float().view(b, 1, 9, 8, 8, h, w), dim=2)
    patches = F.unfold(8 * flow, (3, 3), padding=1).view(b, 2, 9, 1, 1, h, w)
    up = (weights * patches).sum(dim=2)  # b x 2 x 8 x 8 x h x w
    return up.permute(0, 1, 4, 2, 5, 3).reshape(b, 2, 8 * h, 8 * w)


def upsample_bilinear(flow: torch.Tensor) -> torch.Tensor:
    """8x bilinear upsampling (align_corners) of flow with its vectors scaled by 8 (small RAFT)."""
    h, w = flow.shape[-2:]
    return 8 * F.interpolate(flow, size=(8 * h, 8 * w), mode="bilinear", align_corners=True)


class RAFTNet(nn.Module):
    """RAFT large (5.26 M parameters) or small (0.99 M); autocast dtype for CUDA, or None."""

    def __init__(self, small: bool = False, amp_dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.small = small
        self.hidden, self.context_dim = (96, 64) if small else (128, 128)
        self.radius = 3 if small else 4
        self.amp_dtype = amp_dtype
        self.fnet = Encoder(small, 128 if small else 256, "instance")
        self.cnet = Encoder(small, self.hidden + self.context_dim, "none" if small else "batch")
        self.update_block = UpdateBlock(small, self.hidden, self.context_dim, self.radius)

    def _autocast(self, device: torch.device) -> contextlib.AbstractContextManager:
        """Autocast to ``amp_dtype`` on CUDA; a no-op otherwise."""
        if self.amp_dtype is None or device.type != "cuda":
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=self.amp_dtype)

    @staticmethod
    def normalize(images: torch.Tensor) -> torch.Tensor:
        """0..255 RGB to the network's [-1, 1]."""
        return 2 * (images / 255.0) - 1.0

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Matching features (B x C x H/8 x W/8, float32) of B x 3 x H x W images in 0..255."""
        with self._autocast(images.device):
            return self.fnet(self.normalize(images)).float()

    def context(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(initial hidden state = tanh, context input = relu) from the context encoder."""
        with self._autocast(images.device):
            net, inp = torch.split(self.cnet(self.normalize(images)),
                                   [self.hidden, self.context_dim], dim=1)
            return torch.tanh(net), torch.relu(inp)

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(features, hidden, context) of each image: all the per-frame work of RAFT."""
        return (self.features(images), *self.context(images))

    def refine(self, fmap1: torch.Tensor, fmap2: torch.Tensor, net: torch.Tensor,
               inp: torch.Tensor, iters: int = 12) -> torch.Tensor:
        """Full-resolution flow image1 -> image2 (B x 2 x H x W) after ``iters`` updates."""
        pyramid = corr_pyramid(fmap1, fmap2)
        b, _, h, w = fmap1.shape
        coords0 = coords_grid(b, h, w, fmap1.device)
        coords1, mask = coords0.clone(), None
        for _ in range(iters):
            coords1 = coords1.detach()
            corr = corr_lookup(pyramid, coords1, self.radius)
            with self._autocast(fmap1.device):
                net, mask, delta = self.update_block(net, inp, corr, coords1 - coords0)
            coords1 = coords1 + delta.float()
        flow = coords1 - coords0
        return upsample_bilinear(flow) if mask is None else upsample_convex(flow, mask)

    def forward(self, image1: torch.Tensor, image2: torch.Tensor, iters: int = 12) -> torch.Tensor:
        """Upsampled flow image1 -> image2 (the official test_mode result); sides multiple of 8."""
        fmaps = self.features(torch.cat([image1, image2]))
        fmap1, fmap2 = fmaps.split(image1.shape[0])
        return self.refine(fmap1, fmap2, *self.context(image1), iters=iters)
