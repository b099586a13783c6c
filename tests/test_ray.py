"""The Ray Data path on a local Ray with 2 CPUs: the CLI's outputs, every input exactly once, and a worker killed
mid-run retried without losing or duplicating anything. Skipped where Ray is not installed (it is the optional
``[ray]`` extra; CI installs ``[test]`` only, and Ray's start-up costs ~30 s on two shared cores)."""

import json
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ray = pytest.importorskip("ray", reason='Ray is the optional extra: pip install -e ".[ray]"')
pytest.importorskip("ray.data", reason="Ray Data is part of the [ray] extra")

from colornet.checkpoint import save_checkpoint  # noqa: E402
from colornet.cli import main  # noqa: E402
from colornet.model import compact_config  # noqa: E402
from colornet.ray import ColorizeBatch, colorize_with_ray  # noqa: E402
from helpers import lively_model  # noqa: E402


class KillOnce(ColorizeBatch):
    """Writes the first output of the first batch it gets, then dies by SIGKILL (once per run: a marker file)."""

    def __init__(self, *, kill_marker: str, **kwargs):
        super().__init__(**kwargs)
        self.kill_marker = Path(kill_marker)

    def __call__(self, batch):
        if not self.kill_marker.exists():
            self.kill_marker.write_text(str(os.getpid()))
            super().__call__({"input": batch["input"][:1], "output": batch["output"][:1]})
            os.kill(os.getpid(), signal.SIGKILL)
        return super().__call__(batch)


@pytest.fixture(scope="module")
def local_ray():
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # actors unpickle KillOnce without this file
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    config = compact_config(["beach", "forest", "street"])
    config.head = "distribution"
    return save_checkpoint(lively_model(config), tmp_path_factory.mktemp("w"))


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("in")
    rng = np.random.default_rng(0)
    for i in range(8):
        size = (96, 64) if i % 2 else (80, 72)
        Image.fromarray(rng.integers(0, 256, (size[1], size[0]), dtype=np.uint8), "L").save(folder / f"p{i}.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\ntruncated")
    return folder


def _xmp_field(path: Path, name: str) -> str:
    xmp = Image.open(path).info["XML:com.adobe.xmp"]
    return xmp.split(f"<colornet:{name}>", 1)[1].split("<", 1)[0]


def test_outputs_equal_the_cli_and_every_input_once(tmp_path, local_ray, weights, photos):
    main(["colorize", str(photos), "-o", str(tmp_path / "cli"), "--weights", str(weights), "-q"])  # 1: broken.png
    records = colorize_with_ray([str(photos)], tmp_path / "ray", worker_kwargs={"weights": str(weights)},
                                batch_size=3, workers=2, report=tmp_path / "run.jsonl")
    inputs = sorted(str(p) for p in photos.iterdir())
    assert sorted(r.input for r in records) == inputs  # each once
    status = {Path(r.input).name: r.status for r in records}
    assert status.pop("broken.png") == "failed" and set(status.values()) == {"written"}
    lines = [json.loads(line) for line in (tmp_path / "run.jsonl").read_text().splitlines()]
    assert sorted(line["input"] for line in lines) == inputs
    for name in status:
        ours, cli = tmp_path / "ray" / name, tmp_path / "cli" / name
        assert np.array_equal(np.asarray(Image.open(ours)), np.asarray(Image.open(cli)))
        assert _xmp_field(ours, "CheckpointSHA256") == _xmp_field(cli, "CheckpointSHA256")
        assert _xmp_field(ours, "SourceSHA256") == _xmp_field(cli, "SourceSHA256")


def test_killed_worker_is_retried_without_loss_or_duplicates(tmp_path, local_ray, weights, photos):
    marker = tmp_path / "killed"
    records = colorize_with_ray(
        [str(photos)], tmp_path / "out", worker=KillOnce,
        worker_kwargs={"weights": str(weights), "kill_marker": str(marker)}, batch_size=3, workers=2)
    assert marker.exists()  # a worker really died
    inputs = sorted(str(p) for p in photos.iterdir())
    assert sorted(r.input for r in records) == inputs  # nothing lost, nothing twice
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == sorted(Path(r.output).name for r in records if r.status == "written")  # no temp files left
    for name in written:
        Image.open(tmp_path / "out" / name).load()
