"""Shared test helpers."""

import torch

from colornet.model import ColorNet, ColorNetConfig


def lively_model(config: ColorNetConfig, seed: int = 0) -> ColorNet:
    """A random-init network whose batch-norm statistics come from real forward passes.

    A freshly initialised network in eval mode has BN running stats (0, 1) that match nothing, so its output is
    nearly constant; a few training-mode passes over varied inputs make every path (and so every prior) matter.
    """
    torch.manual_seed(seed)
    net = ColorNet(config)
    for m in net.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.momentum = None  # cumulative average over the calibration passes
    net.train()
    with torch.no_grad():
        for i in range(4):
            ramp = torch.linspace(0, 100, 48).view(1, 1, 1, 48).expand(2, 1, 48, 48)
            net(torch.rand(2, 1, 48, 48) * 100 * (i % 2) + ramp * (1 - i % 2))
    return net.eval()
