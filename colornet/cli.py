"""``colornet`` command line: colorize photos, classify scenes, manage weights.

Design rules: inputs are never overwritten, each output is written atomically (temp file + rename), one unreadable
photo is reported and skipped without losing the others, Ctrl-C stops cleanly between photos, and the exit status
tells scripts whether everything worked (0), some inputs failed (1), usage was wrong (2) or the run was interrupted
(130).
"""

from __future__ import annotations

import argparse
import glob
import sys
from collections.abc import Sequence
from pathlib import Path

from .atomic import atomic_write
from .defaults import DEFAULT_STRENGTH, DEFAULT_WORKING_SIZE
from .cli_sequence import add_sequence_options, add_video_parser
from .errors import ColorNetError
from .images import DEFAULT_MAX_MEGAPIXELS, is_image_file
from .model import VividnessError

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def expand_inputs(patterns: Sequence[str]) -> list[tuple[Path, Path]]:
    """Files, folders (recursively) and globs -> sorted (path, output path relative to -o) pairs, no duplicates."""
    found: dict[Path, Path] = {}
    for pattern in patterns:
        matches = [Path(p) for p in sorted(glob.glob(pattern, recursive=True))]
        if not matches and not glob.has_magic(pattern):
            matches = [Path(pattern)]  # a missing file is reported as a failed input; an empty glob is no input
        for match in matches:
            if match.is_dir():
                for path in sorted(match.rglob("*")):
                    if path.is_file() and is_image_file(path):
                        found.setdefault(path.resolve(), path.relative_to(match).with_suffix(""))
            else:
                found.setdefault(match.resolve() if match.exists() else match, Path(match.stem))
    # two loose files with the same stem from different folders must not write to the same output
    taken: set[Path] = set()
    result = []
    for path, rel in found.items():
        candidate, n = rel, 1
        while candidate in taken:
            candidate = rel.with_name(f"{rel.name}_{n}")
            n += 1
        taken.add(candidate)
        result.append((path, candidate))
    return result


def cmd_colorize(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .pipeline import Colorizer, to_output_image

    inputs = expand_inputs(args.inputs)
    if not inputs:
        print("error: no input images found", file=sys.stderr)
        return EXIT_USAGE
    out_dir = Path(args.output)
    input_paths = {p for p, _ in inputs}
    if args.reference_weight and len(args.reference_weight) != len(args.reference or []):
        print(
            f"error: {len(args.reference_weight)} --reference-weight for {len(args.reference or [])} --reference: "
            "give one weight per reference (or none for equal weights)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.sequence:
        if args.hints or args.mask:
            print("error: --hints/--mask work photo by photo; leave them out with --sequence", file=sys.stderr)
            return EXIT_USAGE
        from .cli_sequence import cmd_colorize_sequence

        return cmd_colorize_sequence(args, inputs)
    try:  # loaded once, before any work: a bad hints/mask file is a usage error, not one failure per photo
        hints, mask = _load_controls(args)
    except ColorNetError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    colorizer = Colorizer.from_pretrained(
        args.weights, device=args.device, working_size=args.working_size, max_megapixels=args.max_megapixels or None
    )
    try:
        colorizer.model.temperature(args.vividness)  # a usage error (wrong head, out of range) before any work
    except VividnessError as err:
        print(f"error: --vividness: {err}", file=sys.stderr)
        return EXIT_USAGE
    prior = None
    if args.reference:
        prior = colorizer.prior_from_references(args.reference, args.reference_weight or None)
    failures: list[tuple[Path, str]] = []
    written = 0
    bar = tqdm(inputs, desc="colorizing", unit="img", disable=args.quiet)
    try:
        for path, rel in bar:
            target = (out_dir / rel).with_suffix("." + args.format)
            if target.resolve() in input_paths:
                failures.append((path, f"output {target} would overwrite an input; choose another -o folder"))
                continue
            try:
                result = colorizer.colorize_image(path, prior, strength=args.strength, vividness=args.vividness,
                                                  hints=hints, mask=mask)
                image = to_output_image(result)
                if args.format == "jpg":
                    image = image.convert("RGB")  # JPEG has no alpha
                atomic_write(target, image.save, fsync=False)
                written += 1
            except ColorNetError as err:
                failures.append((path, str(err)))
                bar.write(f"skipped {path}: {err}", file=sys.stderr)
    except KeyboardInterrupt:
        bar.close()
        print(f"\ninterrupted: {written} image(s) written to {out_dir}", file=sys.stderr)
        return EXIT_INTERRUPTED
    bar.close()
    print(f"{written} image(s) written to {out_dir}")
    if failures:
        print(f"{len(failures)} input(s) failed:", file=sys.stderr)
        for path, why in failures:
            print(f"  {path}: {why}", file=sys.stderr)
        return EXIT_SOME_FAILED
    return EXIT_OK


def _load_controls(args: argparse.Namespace) -> tuple[object | None, object | None]:
    """``--hints`` (RGBA picture) and ``--mask`` (white = colorize) loaded through the library, or None."""
    from .hints import hint_layer_from_image
    from .masking import mask_from_image

    hints = hint_layer_from_image(args.hints) if args.hints else None
    mask = mask_from_image(args.mask) if args.mask else None
    return hints, mask


def cmd_classify(args: argparse.Namespace) -> int:
    import torch

    from .images import to_rgb_image
    from .pipeline import Colorizer
    from .prior import top_classes

    colorizer = Colorizer.from_pretrained(args.weights, device=args.device)
    if not colorizer.class_names:
        print("error: this checkpoint has no scene classifier (trained without class labels)", file=sys.stderr)
        return EXIT_USAGE
    status = EXIT_OK
    for path, _ in expand_inputs(args.inputs):
        try:
            rgb = torch.from_numpy(to_rgb_image(path).rgb).permute(2, 0, 1)[None]
            ranking = top_classes(colorizer.prior_from_rgb(rgb), args.top)[0]
        except ColorNetError as err:
            print(f"skipped {path}: {err}", file=sys.stderr)
            status = EXIT_SOME_FAILED
            continue
        print(path)
        for name, prob in ranking:
            print(f"  {name:<28} {prob:6.1%}")
    return status


def cmd_weights(args: argparse.Namespace) -> int:
    from . import weights

    if args.action == "list":
        for entry in weights.list_weights():
            print(entry)
        return EXIT_OK
    if args.action == "download":
        path = weights.download_weights(args.name)
        print(path)
        return EXIT_OK
    report = weights.verify_weights(args.name)
    print(report)
    return EXIT_OK if report else EXIT_SOME_FAILED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="colornet", description="Automatic photo colorization (Iizuka et al. 2016).")
    sub = parser.add_subparsers(dest="command", required=True)

    def model_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--weights", default=None, help="manifest name or path to a .safetensors file (default: bundled)")
        p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:1, ...")

    col = sub.add_parser("colorize", help="colorize images, folders or globs")
    col.add_argument("inputs", nargs="+", help="image files, folders (searched recursively) or glob patterns")
    col.add_argument("-o", "--output", required=True, help="output folder (created; inputs are never overwritten)")
    col.add_argument("--reference", action="append", help="use this photo's global prior (repeat to mix several)")
    col.add_argument("--reference-weight", action="append", type=float, help="weight of each --reference, in order")
    col.add_argument("--working-size", type=int, default=DEFAULT_WORKING_SIZE,
                     help="longer side the network sees; 0 = full size")
    col.add_argument("--strength", type=float, default=DEFAULT_STRENGTH,
                     help="chroma scale: 0 grey, 1 as predicted, >1 stronger")
    col.add_argument("--hints", default=None, metavar="H.png",
                     help="RGBA picture of colour hints (any size, same aspect): opaque pixels ask for their colour")
    col.add_argument("--mask", default=None, metavar="M.png",
                     help="black-and-white picture: white = colorize, black = keep the input pixel unchanged")
    col.add_argument("--vividness", type=float, default=None,
                     help="colour-distribution checkpoints (the default): 0 = the safest, muted colours, 1 = the "
                          "boldest; default: the checkpoint's own (0.62)")
    col.add_argument("--format", choices=("png", "jpg"), default="png", help="output format (png keeps alpha)")
    col.add_argument("--max-megapixels", type=float, default=DEFAULT_MAX_MEGAPIXELS,
                     help="skip (as a failed input) files larger than this, judged from their header before decoding, "
                          "so memory stays bounded; 0 = no limit (default: %(default)g)")
    col.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    col.add_argument("--sequence", action="store_true",
                     help="the inputs, in name order, are the frames of one clip: one look per shot, no flicker")
    add_sequence_options(col, default_mode="per_shot")
    model_options(col)
    col.set_defaults(func=cmd_colorize)
    add_video_parser(sub, model_options)

    cls = sub.add_parser("classify", help="print the top scene classes of images")
    cls.add_argument("inputs", nargs="+")
    cls.add_argument("--top", type=int, default=5)
    model_options(cls)
    cls.set_defaults(func=cmd_classify)

    wts = sub.add_parser("weights", help="list, download or verify named checkpoints")
    wts.add_argument("action", choices=("list", "download", "verify"))
    wts.add_argument("name", nargs="?", default=None, help="manifest name (default: the default checkpoint)")
    wts.set_defaults(func=cmd_weights)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ColorNetError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_SOME_FAILED
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
