"""The edge-completion generator: EdgeConnect's encoder / dilated residual blocks / decoder,
built from gated convolutions and shrunk to run at 432x240 in a few tens of milliseconds.

Gated convolution (Yu et al., DeepFill v2): every layer computes features and a gate from the
same input, and passes ``act(features) * sigmoid(gate)``, a learned soft mask per position and
channel, so the net learns where the hole's (meaningless) values must not leak, instead of
treating every input pixel alike as plain convolution does.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

IN_CHANNELS = 3  # masked normalised magnitude (hole = 1), masked edges, mask
MULTIPLE = 4  # input height and width are padded to a multiple of this (two stride-2 stages)


class GatedConv2d(nn.Module):
    """Conv producing features and gates together; output ``act(f) * sigmoid(g)``."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, dilation: int = 1,
                 act: bool = True) -> None:
        super().__init__()
        self.pad = dilation * (kernel - 1) // 2
        self.conv = nn.Conv2d(cin, 2 * cout, kernel, stride=stride, dilation=dilation)
        self.act = act
        # He initialisation: without normalisation layers, torch's default init and the gates'
        # factor of about 1/2 per layer would shrink the signal to nothing through the stack
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_in", nonlinearity="relu")
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (self.pad,) * 4, mode="reflect" if self.pad < min(x.shape[-2:]) else
                  "replicate")
        f, g = self.conv(x).chunk(2, dim=1)
        if self.act:
            f = F.elu(f)
        return f * torch.sigmoid(g)


class GatedResBlock(nn.Module):
    """EdgeConnect's residual block (dilated 3x3, then 3x3) with gated convolutions."""

    def __init__(self, ch: int, dilation: int) -> None:
        super().__init__()
        self.a = GatedConv2d(ch, ch, 3, dilation=dilation)
        self.b = GatedConv2d(ch, ch, 3, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.b(self.a(x))


class EdgeNet(nn.Module):
    """Gated edge generator: inputs 3 x H x W (H, W multiples of 4), output edge logits 1 x H x W.

    ``widths``: channels at full, 1/2 and 1/4 resolution (narrow at full size, where each
    channel costs most); ``blocks``:
    dilated residual blocks at 1/4 resolution. Skip connections carry the input's fine position
    to the decoder, so a completed edge meets the known edge where it leaves off.
    """

    def __init__(self, widths: tuple[int, int, int] = (8, 24, 48), blocks: int = 4,
                 dilations: tuple[int, ...] = (2, 4, 8, 4)) -> None:
        super().__init__()
        c1, c2, c3 = widths
        self.config = {"widths": list(widths), "blocks": blocks, "dilations": list(dilations)}
        self.enc1 = GatedConv2d(IN_CHANNELS, c1, 3)
        self.enc2 = GatedConv2d(c1, c2, 4, stride=2)
        self.enc3 = GatedConv2d(c2, c3, 4, stride=2)
        self.middle = nn.Sequential(*[GatedResBlock(c3, dilations[i % len(dilations)])
                                      for i in range(blocks)])
        self.dec2 = GatedConv2d(c3 + c2, c2, 3)
        self.squeeze = nn.Conv2d(c2, c1, 1)  # narrow before going up to full resolution
        self.dec1 = GatedConv2d(2 * c1, c1, 3)
        self.out = nn.Conv2d(c1, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        m = self.middle(e3)
        d2 = self.dec2(torch.cat([F.interpolate(m, scale_factor=2.0, mode="nearest"), e2], 1))
        up = F.interpolate(self.squeeze(d2), scale_factor=2.0, mode="nearest")
        d1 = self.dec1(torch.cat([up, e1], 1))
        return self.out(d1)
