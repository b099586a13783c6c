"""Peak memory of colorizing one large photo file end to end (decode, colorize, encode), per kind of file.

    python benchmarks/bench_memory.py                      # 16 and 64 MP, 8-bit RGB and 16-bit grey PNGs
    python benchmarks/bench_memory.py --megapixels 100 --kinds rgb8
    python benchmarks/bench_memory.py --megapixels 12 --kinds rgb16,grey16   # a 48-bit scan (needs PyAV)

Each row runs in a fresh child process: peak RSS (``ru_maxrss``) after the whole photo, minus the RSS with the
model loaded, divided by the pixel count, is the bytes per pixel that the memory budget
(``colornet.images.BYTES_PER_PIXEL_LEAN`` / ``BYTES_PER_PIXEL_FLOAT``) is decided from. The photos are flat colour (they compress to a few hundred KB, as in the issue that asked for this).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from colornet.pipeline import Colorizer
path, out = sys.argv[1], sys.argv[2]
c = Colorizer.from_pretrained(None, device="cpu", max_megapixels=None)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
result = c.colorize_image(path)
result.to_pil().save(out)
print(json.dumps({"base_kb": base, "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "seconds": time.perf_counter() - t}))
"""


MAKER = r"""
import json, sys
sys.path.insert(0, "benchmarks")
from pathlib import Path
from bench_memory import make_photo
print(json.dumps(make_photo(Path(sys.argv[1]), sys.argv[2], float(sys.argv[3]))))
"""


def make_photo(path: Path, kind: str, megapixels: float) -> tuple[int, int]:
    import numpy as np
    from PIL import Image

    side = int(round((megapixels * 1e6) ** 0.5))
    if kind == "rgb8":
        Image.new("RGB", (side, side), (90, 140, 200)).save(path)
    elif kind == "rgb16":  # 48-bit RGB, read at 16 bits through PyAV (colornet.archive.deep)
        from colornet.pngwrite import write_png

        with open(path, "wb") as fh:
            write_png(fh, np.broadcast_to(np.array([23000, 36000, 51000], np.uint16), (side, side, 3)))
    else:  # 16-bit greyscale
        Image.fromarray(np.full((side, side), 30000, np.uint16)).save(path)
    return side, side


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", default="16,64", help="comma-separated sizes")
    parser.add_argument("--kinds", default="rgb8,grey16",
                        help="rgb8 (8-bit RGB PNG), grey16 (16-bit grey PNG), rgb16 (48-bit RGB PNG, needs PyAV)")
    args = parser.parse_args()
    lines = ["| file | size | peak RSS (GB) | above the loaded model (GB) | bytes / pixel | time (s) |",
             "|---|---|---:|---:|---:|---:|"]
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.kinds.split(","):
            for mp in (float(x) for x in args.megapixels.split(",")):
                path = Path(tmp) / f"{kind}_{mp:g}.png"
                # made in a child of its own: Linux carries a process's peak RSS across fork and exec, so a
                # parent that had held the photo's pixels would lend its peak to the measuring child
                made = subprocess.run([sys.executable, "-c", MAKER, str(path), kind, str(mp)], capture_output=True,
                                      text=True, cwd=Path(__file__).resolve().parents[1])
                if made.returncode:
                    sys.exit(f"could not make the {kind} test photo of {mp:g} MP:\n{made.stderr.strip()}")
                w, h = json.loads(made.stdout)
                run = subprocess.run([sys.executable, "-c", CHILD, str(path), str(Path(tmp) / "out.png")],
                                     capture_output=True, text=True)
                if run.returncode:
                    lines.append(f"| {kind} | {w}x{h} | failed: {run.stderr.strip().splitlines()[-1]} | | | |")
                    continue
                r = json.loads(run.stdout.strip().splitlines()[-1])
                extra = (r["peak_kb"] - r["base_kb"]) * 1024
                lines.append(f"| {kind} | {w}x{h} | {r['peak_kb'] / 2**20:.2f} | {extra / 2**30:.2f} | "
                             f"{extra / (w * h):.1f} | {r['seconds']:.1f} |")
                path.unlink()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
