"""The MIMO-UNet restoration tool: networks, checkpoints, tiled inference.

Importing this package does not import torch: `record` and `zoo` are read by the answer engine, which must start
without it. `build_model` and `Restorer` import torch when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

    from tools.restoration.engine import Restorer

__all__ = ["NETWORKS", "build_model", "Restorer"]

# network name -> (residual blocks per stage, base channels, skip dropout while training)
NETWORKS: dict[str, tuple[int, int, float]] = {
    "MIMO-UNet": (8, 32, 0.0),
    "MIMO-UNet+": (20, 32, 0.1),
    "test-mimo-unet": (1, 8, 0.0),  # tiny, for fast CPU tests; never trained
}


def build_model(name: str) -> "nn.Module":
    """A freshly initialised network ('MIMO-UNet', 'MIMO-UNet+' or 'test-mimo-unet'), or any zoo id's network."""
    from tools.restoration import zoo
    from tools.restoration.network import MIMOUNet

    network = name if name in NETWORKS else zoo.lookup(name).network
    num_res, channels, dropout = NETWORKS[network]
    return MIMOUNet(num_res=num_res, base_channels=channels, dropout=dropout)


def __getattr__(name: str) -> Any:
    if name == "Restorer":
        from tools.restoration.engine import Restorer

        return Restorer
    raise AttributeError(f"module 'tools.restoration' has no attribute {name!r}")
