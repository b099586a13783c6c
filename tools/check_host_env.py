#!/usr/bin/env python3
"""Check that installing ColorNet never breaks the environment it goes into (issue 24), with real pip and real venvs.

    python3 tools/check_host_env.py                      # every scenario
    python3 tools/check_host_env.py --scenario comfyui-old --scenario resolver --workdir /tmp/hostcheck

Scenarios (each in its own venv under --workdir; torch is installed first from ``$COLORNET_TORCH_PIN``, default
``torch==2.13.0``, and pinned in every pip call, so nothing pulls a CUDA build):

* ``comfyui-old`` -- an existing ComfyUI install: ComfyUI's own requirements.txt (tools/host_env/) with
  ``transformers<5`` and ``huggingface-hub<1``. Then the pack's requirements.txt is installed as ComfyUI-Manager
  does. Asserted: pip's dry-run report (``--dry-run --report``) changes no package already there, neither for
  requirements.txt nor for ``pip install .``; after the real install every package has its old version;
  ``import transformers`` (and a tokenizer class ComfyUI's text encoders use) still works; and the pack's own tests
  for the Hub download (against the local Hub server of tests/hub_server.py), the Loader node (with a real download)
  and the example workflows (the in-test graph runner) pass with that older huggingface-hub.
* ``comfyui-new`` -- the same with the newest versions of everything (transformers 5, huggingface-hub 1.x or later).
* ``floor`` -- every dependency at the lower bound requirements.txt / pyproject.toml state (``>=X`` installed as
  ``==X``, the video extra's PyAV too), then the tests of what those packages serve (weights and Hub, nodes, example
  workflows, images, PNG writer, CLI, video, pipeline); then the ``train`` extra's huggingface-hub bound with the
  publishing tests. Needs Python 3.11 (the oldest bounds have no wheels for newer Pythons).
* ``resolver`` -- pip's resolver (``--dry-run``) installs ``colornet[video]`` beside transformers 4.37.2 (the oldest
  ComfyUI accepts), beside transformers 4.x with diffusers, accelerate and peft, and beside transformers 5.x with
  the same.

Prints a table (scenario, result, seconds) and exits non-zero if a scenario failed. Downloads from PyPI: the first
run takes several minutes; pip's cache (~/.cache/pip) makes later ones much faster. pip's logs are kept in --workdir.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: only the floor scenario reads pyproject.toml, and it needs 3.11 anyway
    tomllib = None

ROOT = Path(__file__).resolve().parent.parent
COMFYUI_REQUIREMENTS = ROOT / "tools" / "host_env" / "comfyui_requirements.txt"
TORCH_PIN = os.environ.get("COLORNET_TORCH_PIN", "torch==2.13.0")
SCENARIOS = ("comfyui-old", "comfyui-new", "floor", "resolver")

# The pack's tests that exercise what a host's versions can change: Hub download and cache (weights), the nodes with
# the Loader (a real Hub download among them), every API-format example workflow.
PACK_TESTS = ["tests/test_weights.py", "tests/test_nodes.py", "tests/test_nodes_workflows.py::test_api_workflow_runs"]
# At the lower bounds: everything numpy, Pillow (images, PNG/TIFF writers, metadata), safetensors, tqdm,
# huggingface-hub and PyAV are used for.
FLOOR_TESTS = PACK_TESTS[:2] + ["tests/test_nodes_workflows.py", "tests/test_images.py", "tests/test_pngwrite.py",
                                "tests/test_checkpoint_safety.py", "tests/test_input_limits.py",
                                "tests/test_library_api.py", "tests/test_cli.py", "tests/test_cli_sequence.py",
                                "tests/test_pipeline.py", "tests/test_archive_cli.py", "tests/test_archive_tiff.py",
                                "tests/test_archive_icc.py", "tests/test_archive_xmp.py"]
# Packages an image-generation environment holds beside transformers (item 3 of issue 24).
IMAGE_GEN_STACK = ["diffusers", "accelerate", "peft", "sentencepiece", "opencv-python-headless"]


class CheckFailed(Exception):
    pass


def log(message: str) -> None:
    print(f"[check_host_env {time.strftime('%H:%M:%S')}] {message}", flush=True)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class Venv:
    """A venv with torch installed first; every pip call is pinned to that torch (and logged under the workdir)."""

    def __init__(self, path: Path):
        self.path = path
        self.python = path / "bin" / "python"
        self.logs = path / "logs"
        self.constraints = path / "constraints.txt"
        self._calls = 0

    def create(self, base: "Venv | None" = None) -> "Venv":
        """A new venv with torch: a copy of ``base`` if given (every scenario starts from the same torch install,
        copied in seconds rather than installed again; only ``python -m`` is used, so the copy's absolute script
        shebangs do not matter), else made and torch installed."""
        if self.path.exists():
            shutil.rmtree(self.path)
        if base is not None:
            log(f"{self.path.name}: copy of {base.path.name}")
            shutil.copytree(base.path, self.path, symlinks=True)
            shutil.rmtree(self.logs)
        else:
            subprocess.run([sys.executable, "-m", "venv", str(self.path)], check=True)
        self.logs.mkdir()
        self.constraints.write_text(TORCH_PIN + "\n")
        if base is None:
            self.pip("install", TORCH_PIN, what=f"install {TORCH_PIN}")
        return self

    def pip(self, *args: str, what: str, check: bool = True) -> subprocess.CompletedProcess:
        """``python -m pip <args> -c constraints``; on failure the log's tail is printed and CheckFailed raised."""
        self._calls += 1
        log_file = self.logs / f"{self._calls:02d}-{re.sub(r'[^a-z0-9]+', '-', what.lower())[:60]}.log"
        cmd = [str(self.python), "-m", "pip", *args, "--disable-pip-version-check", "-c", str(self.constraints)]
        log(f"{self.path.name}: pip {what}")
        result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        log_file.write_text(f"$ {' '.join(cmd)}\n\n{result.stdout}\n{result.stderr}")
        if check and result.returncode != 0:
            noise = "WARNING: Location 'file://"  # this machine's pip config names local index folders
            tail = [ln for ln in (result.stdout + result.stderr).splitlines() if noise not in ln][-25:]
            raise CheckFailed(f"pip {what} failed (exit {result.returncode}; log {log_file}):\n" + "\n".join(tail))
        return result

    def installed(self) -> dict[str, str]:
        out = subprocess.run([str(self.python), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
                             capture_output=True, text=True, check=True).stdout
        return {canonical(p["name"]): p["version"] for p in json.loads(out)}

    def dry_run(self, *requirements: str, what: str) -> list[tuple[str, str]]:
        """What ``pip install`` would install, from pip's own report: [(name, version)]."""
        report = self.logs / f"report-{self._calls + 1:02d}.json"
        self.pip("install", "--dry-run", "--quiet", "--report", str(report), *requirements, what=f"dry run: {what}")
        return [(canonical(item["metadata"]["name"]), item["metadata"]["version"])
                for item in json.loads(report.read_text())["install"]]

    def run(self, *args: str, what: str) -> str:
        log(f"{self.path.name}: {what}")
        result = subprocess.run([str(self.python), *args], cwd=ROOT, capture_output=True, text=True)
        if result.returncode != 0:
            raise CheckFailed(f"{what} failed (exit {result.returncode}):\n{(result.stdout + result.stderr)[-4000:]}")
        return result.stdout

    def pytest(self, *tests: str, what: str) -> str:
        """Run the pack's tests from the checkout with this venv's packages, the way ComfyUI imports the pack: from
        its folder (``colornet`` is not pip-installed here). pytest itself comes in without moving a package."""
        if "pytest" not in self.installed():
            frozen = self.path / "frozen.txt"
            frozen.write_text("".join(f"{n}=={v}\n" for n, v in self.installed().items()))
            self.pip("install", "pytest", "-c", str(frozen), what="install pytest (nothing else may move)")
        out = self.run("-m", "pytest", "-q", "-p", "no:cacheprovider", *tests, what=what)
        return out.strip().splitlines()[-1]


def changed(before: dict[str, str], installs: list[tuple[str, str]]) -> list[str]:
    return [f"{name} {before[name]} -> {version}" for name, version in installs if name in before and before[name] != version]


def requirement_lines(path: Path) -> list[str]:
    lines = (ln.split("#", 1)[0].strip() for ln in path.read_text().splitlines())
    return [ln for ln in lines if ln]


def pyproject() -> dict:
    if tomllib is None:
        raise CheckFailed("reading pyproject.toml needs Python 3.11 (tomllib)")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def lower_bounds() -> dict[str, str]:
    """requirements.txt's and the video extra's ``name>=X`` as {name: X}."""
    project = pyproject()
    bounds = {}
    for requirement in requirement_lines(ROOT / "requirements.txt") + project["optional-dependencies"]["video"]:
        name, version = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)", requirement).groups()
        bounds[canonical(name)] = version
    return bounds


def train_hub_bound() -> str:
    project = pyproject()
    (bound,) = [r.split(">=")[1] for r in project["optional-dependencies"]["train"] if r.startswith("huggingface-hub")]
    return bound


# ------------------------------------------------------------------------------------------------------ scenarios


def check_comfyui(workdir: Path, base: Venv, newest: bool) -> str:
    venv = Venv(workdir / ("comfyui-new" if newest else "comfyui-old")).create(base)
    host = ["transformers>=5"] if newest else ["transformers<5", "huggingface-hub<1"]
    venv.pip("install", "-r", str(COMFYUI_REQUIREMENTS), *host, what="install ComfyUI's requirements " + " ".join(host))
    before = venv.installed()
    transformers, hub = before["transformers"], before["huggingface-hub"]
    if newest != transformers.startswith("5") or newest != (not hub.startswith("0.")):
        raise CheckFailed(f"the host was meant to have {' '.join(host)}, it has transformers {transformers}, hub {hub}")

    would = venv.dry_run("-r", "requirements.txt", what="the pack's requirements.txt")
    if moved := changed(before, would):
        raise CheckFailed("installing requirements.txt would change the host's packages: " + ", ".join(moved))
    would_package = venv.dry_run(".", what="pip install . (the library)")
    if moved := changed(before, would_package):
        raise CheckFailed("pip install . would change the host's packages: " + ", ".join(moved))

    venv.pip("install", "-r", "requirements.txt", what="install the pack's requirements.txt")
    after = venv.installed()
    if moved := [f"{n} {v} -> {after.get(n, 'removed')}" for n, v in before.items() if after.get(n) != v]:
        raise CheckFailed("installing requirements.txt changed the host's packages: " + ", ".join(moved))

    venv.run("-c", "import transformers; from transformers import CLIPTokenizer, T5TokenizerFast; "
                   "print(transformers.__version__)", what="import transformers")
    tests = venv.pytest(*PACK_TESTS, what="the pack's Hub, Loader and workflow tests")
    return f"transformers {transformers}, huggingface-hub {hub}, nothing moved ({len(before)} packages); {tests}"


def check_floor(workdir: Path, base: Venv) -> str:
    if sys.version_info[:2] != (3, 11):
        raise CheckFailed(f"the oldest bounds have wheels for Python 3.11 only; this is {sys.version.split()[0]}")
    venv = Venv(workdir / "floor").create(base)
    bounds = lower_bounds()
    pins = [f"{name}=={version}" for name, version in bounds.items()]
    with venv.constraints.open("a") as constraints:
        constraints.writelines(pin + "\n" for pin in pins)
    # the test tools come in beside the pins (pip picks releases that accept them)
    venv.pip("install", "--only-binary=:all:", *pins, "pytest", "scikit-image", "matplotlib",
             what="install every dependency at its lower bound")
    installed = venv.installed()
    if off := [f"{n} {installed.get(n)} (wanted {v})" for n, v in bounds.items()
               if installed.get(n, "").split("+")[0] not in (v, v + ".0", v + ".0.0")]:
        raise CheckFailed("not at the lower bound: " + ", ".join(off))
    core = venv.pytest(*FLOOR_TESTS, what="tests at the lower bounds")

    hub = train_hub_bound()
    venv.constraints.write_text("".join(ln + "\n" for ln in [TORCH_PIN, *pins] if not ln.startswith("huggingface-hub")))
    venv.pip("install", f"huggingface-hub=={hub}", what=f"huggingface-hub=={hub} (train extra)")
    publish = venv.pytest("tests/test_publish.py", what=f"publishing tests with huggingface-hub {hub}")
    return f"{', '.join(pins)}: {core}; train extra's huggingface-hub {hub}: {publish}"


def check_resolver(workdir: Path, base: Venv) -> str:
    venv = Venv(workdir / "resolver").create(base)
    cases = {
        "transformers 4.37.2 (ComfyUI's oldest)": ["transformers==4.37.2"],
        "transformers 4.x + image-generation stack": ["transformers<5", *IMAGE_GEN_STACK],
        "transformers 5.x + image-generation stack": ["transformers>=5", *IMAGE_GEN_STACK],
    }
    found = []
    for label, others in cases.items():
        installs = dict(venv.dry_run(".[video]", *others, what=f"colornet[video] beside {label}"))
        if "torch" in installs:
            raise CheckFailed(f"{label}: the resolver wants to replace torch ({installs['torch']})")
        major = "5" if ">=5" in others[0] else "4"
        if not installs.get("colornet") or not installs.get("transformers", "").startswith(major):
            raise CheckFailed(f"{label}: unexpected resolution {installs}")
        found.append(f"{label}: transformers {installs['transformers']}, huggingface-hub "
                     f"{installs.get('huggingface-hub')}" + (f", diffusers {installs['diffusers']}"
                                                            if "diffusers" in installs else ""))
    return "; ".join(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", action="append", choices=SCENARIOS, help="run only these (repeatable)")
    parser.add_argument("--workdir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "colornet-hostcheck")
    parser.add_argument("--keep", action="store_true", help="keep the venvs afterwards (default: removed if passed)")
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    base = Venv(args.workdir / "torch-base")
    runners = {"comfyui-old": lambda: check_comfyui(args.workdir, base, newest=False),
               "comfyui-new": lambda: check_comfyui(args.workdir, base, newest=True),
               "floor": lambda: check_floor(args.workdir, base),
               "resolver": lambda: check_resolver(args.workdir, base)}
    results = []
    start = time.monotonic()
    try:
        base.create()
    except CheckFailed as err:
        print(f"cannot make the torch venv the scenarios start from: {err}")
        return 1
    log(f"torch-base: ready in {time.monotonic() - start:.0f} s")
    for name in args.scenario or SCENARIOS:
        start = time.monotonic()
        try:
            detail, ok = runners[name](), True
        except CheckFailed as err:
            detail, ok = str(err), False
        results.append((name, ok, time.monotonic() - start, detail))
        log(f"{name}: {'PASS' if ok else 'FAIL'} in {results[-1][2]:.0f} s -- {detail}")
        if ok and not args.keep:
            shutil.rmtree(args.workdir / name, ignore_errors=True)
    if not args.keep:
        shutil.rmtree(base.path, ignore_errors=True)
    print("\nscenario      result  seconds  detail")
    for name, ok, seconds, detail in results:
        print(f"{name:<13} {'PASS' if ok else 'FAIL':<7} {seconds:>7.0f}  {detail.splitlines()[0][:300]}")
    failed = sum(not ok for _, ok, _, _ in results)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
