"""Fixtures shared by several test modules."""

import pytest
from training_helpers import make_photo_folder


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """A tiny class-per-folder photo set (3 classes x 8 photos), made once per test module."""
    return make_photo_folder(tmp_path_factory.mktemp("photos"), per_class=8)
