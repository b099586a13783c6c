"""Shared test helpers."""

import contextlib
import importlib.util
import sys
from pathlib import Path

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


ROOT = Path(__file__).resolve().parent.parent


def load_module(name: str, path: Path, package: bool = False):
    """Import a file under a made-up module name, once (``package``: its folder holds submodules)."""
    if name in sys.modules:
        return sys.modules[name]
    locations = [str(path.parent)] if package else None
    spec = importlib.util.spec_from_file_location(name, path, submodule_search_locations=locations)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_pack(name: str = "colornet_comfy_pack_under_test"):
    """The node pack imported as ComfyUI imports it: its root ``__init__.py`` by file path (relative imports inside)."""
    return load_module(name, ROOT / "__init__.py", package=True)


@contextlib.contextmanager
def torch_threads(n: int):
    """torch's intra-op thread count set to ``n`` for the block, then restored (tests share a small CPU)."""
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)
