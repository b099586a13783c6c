"""Fixtures shared by several test modules."""

from pathlib import Path

import pytest
from helpers import lively_model
from training_helpers import make_photo_folder

from colornet.checkpoint import save_checkpoint
from colornet.model import ColorNet, compact_config

CLASSES = ["beach", "forest", "street"]


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """A tiny class-per-folder photo set (3 classes x 8 photos), made once per test module."""
    return make_photo_folder(tmp_path_factory.mktemp("photos"), per_class=8)


@pytest.fixture(scope="module")
def net() -> ColorNet:
    """A small random network with live batch-norm statistics (3 scene classes), made once per test module; modules
    that need another network define their own ``net``."""
    return lively_model(compact_config(CLASSES))


@pytest.fixture(scope="module")
def weights(net, tmp_path_factory) -> Path:
    """``net`` saved as a checkpoint (model.safetensors + config.json)."""
    return save_checkpoint(net, tmp_path_factory.mktemp("ckpt"))
