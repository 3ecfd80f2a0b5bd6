"""MIMO-UNet and MIMO-UNet+ (Cho et al., ICCV 2021), with parameter names that match the official checkpoints.

Only `nn.Module`s live here. Module names and their order reproduce the official `state_dict` tensor for tensor
(tests/data/official_keys_*.txt); the forward pass reproduces the official outputs: nearest-neighbour resizing,
transposed-convolution upsampling, ReLU after every convolution except the ones listed in `BasicConv`'s callers.
Height and width must be multiples of 4; the engine pads and crops.

SEE: https://openaccess.thecvf.com/content/ICCV2021/papers/Cho_Rethinking_Coarse-To-Fine_Approach_in_Single_Image_Deblurring_ICCV_2021_paper.pdf
SEE: https://github.com/chosj95/MIMO-UNet
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

MULTIPLE = 4  # two stride-2 stages: H and W must divide by 4


class BasicConv(nn.Module):
    """Conv2d (or ConvTranspose2d k4 s2 p1) with optional ReLU, wrapped in `main` as in the official layout."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, stride: int = 1, relu: bool = True,
                 transpose: bool = False) -> None:
        super().__init__()
        if transpose:
            conv = nn.ConvTranspose2d(in_ch, out_ch, kernel_size, stride=stride, padding=kernel_size // 2 - 1)
        else:
            conv = nn.Conv2d(in_ch, out_ch, kernel_size, stride=stride, padding=kernel_size // 2)
        layers: list[nn.Module] = [conv]
        if relu:
            layers.append(nn.ReLU(inplace=True))
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)

    def on_parts(self, parts: list[tuple[torch.Tensor, int]]) -> torch.Tensor:
        """This 1x1 conv (+ ReLU) on cat(parts), each part enlarged by its factor (nearest), without building the
        concatenation: each part is convolved at its own scale with its slice of the weight, then enlarged."""
        conv = self.main[0]
        widths = [part.shape[1] for part, _ in parts]
        total = None
        for (part, factor), weight in zip(parts, torch.split(conv.weight, widths, dim=1)):
            y = F.conv2d(part, weight, conv.bias if total is None else None)
            if factor > 1:
                y = F.interpolate(y, scale_factor=factor)
            total = y if total is None else total.add_(y)
        return torch.relu_(total) if len(self.main) > 1 else total


class ResBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.main = nn.Sequential(BasicConv(channels, channels, 3), BasicConv(channels, channels, 3, relu=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x) + x


class ResStage(nn.Module):
    """A chain of residual blocks: the official EBlock and DBlock (identical apart from their names)."""

    def __init__(self, channels: int, num_res: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(*[ResBlock(channels) for _ in range(num_res)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)

    def forward_in_place(self, x: torch.Tensor) -> torch.Tensor:
        """`forward` with the residual adds done in place (inference only: nothing is kept for a backward pass)."""
        for block in self.layers:
            y = block.main(x)
            x = y.add_(x)
        return x


class AFF(nn.Module):
    """Asymmetric feature fusion: concatenate encoder features of every scale, fuse with a 1x1 then a 3x3 conv."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(BasicConv(in_ch, out_ch, 1), BasicConv(out_ch, out_ch, 3, relu=False))

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, x4: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([x1, x2, x4], dim=1))

    def on_parts(self, parts: list[tuple[torch.Tensor, int]]) -> torch.Tensor:
        """`forward` on (features, enlargement factor) parts given at their own scales (see BasicConv.on_parts)."""
        return self.conv[1](self.conv[0].on_parts(parts))


class SCM(nn.Module):
    """Shallow convolutional module: features of a downscaled input, the input itself kept as 3 channels."""

    def __init__(self, out_ch: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            BasicConv(3, out_ch // 4, 3),
            BasicConv(out_ch // 4, out_ch // 2, 1),
            BasicConv(out_ch // 2, out_ch // 2, 3),
            BasicConv(out_ch // 2, out_ch - 3, 1),
        )
        self.conv = BasicConv(out_ch, out_ch, 1, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([x, self.main(x)], dim=1))


class FAM(nn.Module):
    """Feature attention module: x1 + conv(x1 * x2)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.merge = BasicConv(channels, channels, 3, relu=False)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return x1 + self.merge(x1 * x2)


class MIMOUNet(nn.Module):
    """Multi-input multi-output U-Net. `forward` returns the restored image at 1/4, 1/2 and full scale.

    MIMO-UNet: num_res=8. MIMO-UNet+: num_res=20, dropout=0.1 on the fused skips while training.
    """

    def __init__(self, num_res: int = 8, base_channels: int = 32, dropout: float = 0.0) -> None:
        super().__init__()
        c = base_channels
        # Attribute order matters: it is the official state_dict order.
        self.Encoder = nn.ModuleList([ResStage(c, num_res), ResStage(c * 2, num_res), ResStage(c * 4, num_res)])
        self.feat_extract = nn.ModuleList([
            BasicConv(3, c, 3),
            BasicConv(c, c * 2, 3, stride=2),
            BasicConv(c * 2, c * 4, 3, stride=2),
            BasicConv(c * 4, c * 2, 4, stride=2, transpose=True),
            BasicConv(c * 2, c, 4, stride=2, transpose=True),
            BasicConv(c, 3, 3, relu=False),
        ])
        self.Decoder = nn.ModuleList([ResStage(c * 4, num_res), ResStage(c * 2, num_res), ResStage(c, num_res)])
        self.Convs = nn.ModuleList([BasicConv(c * 4, c * 2, 1), BasicConv(c * 2, c, 1)])
        self.ConvsOut = nn.ModuleList([BasicConv(c * 4, 3, 3, relu=False), BasicConv(c * 2, 3, 3, relu=False)])
        self.AFFs = nn.ModuleList([AFF(c * 7, c), AFF(c * 7, c * 2)])
        self.FAM1 = FAM(c * 4)
        self.SCM1 = SCM(c * 4)
        self.FAM2 = FAM(c * 2)
        self.SCM2 = SCM(c * 2)
        # MIMO-UNet+ drops channels of the fused skips while training; no parameters, identity in eval mode.
        self.drop1 = nn.Dropout2d(dropout) if dropout else nn.Identity()
        self.drop2 = nn.Dropout2d(dropout) if dropout else nn.Identity()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        # x: (B, 3, H, W), H and W multiples of 4
        x_2 = F.interpolate(x, scale_factor=0.5)  # (B, 3, H/2, W/2), nearest
        x_4 = F.interpolate(x_2, scale_factor=0.5)  # (B, 3, H/4, W/4)
        z2 = self.SCM2(x_2)
        z4 = self.SCM1(x_4)

        res1 = self.Encoder[0](self.feat_extract[0](x))  # (B, c, H, W)
        z = self.FAM2(self.feat_extract[1](res1), z2)
        res2 = self.Encoder[1](z)  # (B, 2c, H/2, W/2)
        z = self.FAM1(self.feat_extract[2](res2), z4)
        z = self.Encoder[2](z)  # (B, 4c, H/4, W/4)

        z12 = F.interpolate(res1, scale_factor=0.5)
        z21 = F.interpolate(res2, scale_factor=2)
        z42 = F.interpolate(z, scale_factor=2)
        z41 = F.interpolate(z42, scale_factor=2)
        res2 = self.drop2(self.AFFs[1](z12, res2, z42))
        res1 = self.drop1(self.AFFs[0](res1, z21, z41))

        z = self.Decoder[0](z)
        out_4 = self.ConvsOut[0](z) + x_4
        z = self.feat_extract[3](z)  # (B, 2c, H/2, W/2)

        z = self.Convs[0](torch.cat([z, res2], dim=1))
        z = self.Decoder[1](z)
        out_2 = self.ConvsOut[1](z) + x_2
        z = self.feat_extract[4](z)  # (B, c, H, W)

        z = self.Convs[1](torch.cat([z, res1], dim=1))
        z = self.Decoder[2](z)
        out_1 = self.feat_extract[5](z) + x
        return [out_4, out_2, out_1]

    @torch.inference_mode()
    def restore(self, x: torch.Tensor) -> torch.Tensor:
        """The full-scale output of `forward` in eval mode, computed with a third of its peak memory.

        Nearest-neighbour resizing commutes with 1x1 convolutions, so each 1x1 fusion over a concatenation is
        split into one 1x1 per part, applied at that part's own scale and then resized: the 224-channel
        full-resolution concatenations (and the enlarged copies feeding them) are never built. Residual adds are
        done in place and the 1/4- and 1/2-scale outputs are skipped. Equal to `forward(x)[-1]` up to float
        rounding (tests/tools/test_network.py).
        """
        x_2 = F.interpolate(x, scale_factor=0.5)
        x_4 = F.interpolate(x_2, scale_factor=0.5)
        z2 = self.SCM2(x_2)
        z4 = self.SCM1(x_4)
        res1 = self.Encoder[0].forward_in_place(self.feat_extract[0](x))  # (B, c, H, W)
        z = self.FAM2(self.feat_extract[1](res1), z2)
        del z2
        res2 = self.Encoder[1].forward_in_place(z)  # (B, 2c, H/2, W/2)
        z = self.FAM1(self.feat_extract[2](res2), z4)
        z = self.Encoder[2].forward_in_place(z)  # (B, 4c, H/4, W/4)

        # The two AFFs, each part at its own scale: at 1/2, res1 (taken at 1/2), res2, z (x2); at full, res1, res2
        # (x2), z (x4).
        fused2 = self.AFFs[1].on_parts([(F.interpolate(res1, scale_factor=0.5), 1), (res2, 1), (z, 2)])
        res1 = self.AFFs[0].on_parts([(res1, 1), (res2, 2), (z, 4)])  # (B, c, H, W)
        del res2

        z = self.Decoder[0].forward_in_place(z)
        z = self.feat_extract[3](z)  # (B, 2c, H/2, W/2)
        z = self.Convs[0].on_parts([(z, 1), (fused2, 1)])
        del fused2
        z = self.Decoder[1].forward_in_place(z)
        z = self.feat_extract[4](z)  # (B, c, H, W)
        z = self.Convs[1].on_parts([(z, 1), (res1, 1)])
        del res1
        z = self.Decoder[2].forward_in_place(z)
        return self.feat_extract[5](z) + x  # out of place: under fp16 autocast the sum is fp32, as in forward

