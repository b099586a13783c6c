"""tools/check_host_env.py (run by .ci/run after the suite) names the tests it runs in its venvs and reads the lower
bounds from requirements.txt and pyproject.toml: both are checked here, so a renamed test file or a bound it cannot
parse fails the suite in seconds rather than the host check at the end of CI."""

from pathlib import Path

from helpers import load_module

ROOT = Path(__file__).resolve().parent.parent
CHECK = load_module("colornet_check_host_env", ROOT / "tools" / "check_host_env.py")


def test_every_test_the_host_check_runs_exists():
    for test in CHECK.PACK_TESTS + CHECK.FLOOR_TESTS + ["tests/test_publish.py"]:
        path, _, name = test.partition("::")
        assert (ROOT / path).is_file(), f"tools/check_host_env.py runs {path}, which does not exist"
        if name:
            assert f"def {name}(" in (ROOT / path).read_text(), f"{path} has no test {name}"


def test_lower_bounds_are_read_from_requirements_and_the_video_extra():
    bounds = CHECK.lower_bounds()
    assert set(bounds) == {"numpy", "pillow", "safetensors", "huggingface-hub", "tqdm", "av"}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split(">=")
            assert bounds[CHECK.canonical(name)] == version
    assert CHECK.train_hub_bound() == "0.24"
