"""Logit adjustment of a colour-distribution checkpoint: divide out part of the training photos' colour prior.

    python -m training.prior_adjust WEIGHTS --counts RUN/ab_bin_counts.json --strength 0.3 --out FOLDER

A network trained with a cross-entropy predicts p(colour | photo), which carries the training photos' colour
frequencies p(colour): where a pixel is ambiguous, the common colours (desaturated browns and ochres) win over the rare
ones (saturated greens and blues). Subtracting ``strength * log p(colour)`` from every pixel's logits (Menon et al.,
"Long-tail learning via logit adjustment", ICLR 2021) removes that share of the prior at decode time. The logits are
``W h + b`` per bin, so the adjustment is a change of the head's bias alone: the result is an ordinary checkpoint that
every host (CPU decode, ONNX, the browser page) runs unchanged. The prior is the bin counts of the training split
(``ab_bin_counts.json`` of a training run), smoothed over ab like the rebalancing weights, with add-one counts.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from colornet.checkpoint import load_checkpoint, read_document, save_checkpoint
from colornet.colorbins import SOFT_SIGMA, smooth_over_ab
from colornet.model import ColorNet


CHROMA_BAND = 10.0  # width of the chroma rings within which hue_only compares bins (the lattice spacing)


def colour_log_prior(counts: torch.Tensor, centres: torch.Tensor, sigma: float = SOFT_SIGMA,
                     hue_only: bool = False) -> torch.Tensor:
    """log p(bin) of the training photos, ``[Q]``: add-one counts smoothed with a Gaussian over ab, normalised.

    ``hue_only``: log p(bin | its chroma ring) instead, i.e. the prior of the hue at that chroma. Removing the whole
    prior also removes its preference for grey (every pixel gets bolder); removing only this part rebalances hues
    within each ring and leaves how much chroma the network predicts alone."""
    smooth = smooth_over_ab((counts.double() + 1.0) / (counts.sum() + counts.numel()), centres, sigma)
    if hue_only:
        ring = torch.floor(centres.double().norm(dim=1) / CHROMA_BAND).long()
        ring_mass = torch.zeros(int(ring.max()) + 1, dtype=smooth.dtype).index_add_(0, ring, smooth)
        smooth = smooth / ring_mass[ring]
    return smooth.log().float()


def adjust_prior(model: ColorNet, counts: torch.Tensor, strength: float, hue_only: bool = False) -> ColorNet:
    """``model`` with ``strength * log p(bin)`` subtracted from its distribution head's bias (in place)."""
    if not model.has_distribution_head:
        raise ValueError("logit adjustment needs a colour-distribution head; this checkpoint regresses a*b*")
    centres = model.colorization.ab_centres
    if counts.numel() != centres.shape[0]:
        raise ValueError(f"the counts have {counts.numel()} bins, the checkpoint {centres.shape[0]}: take the "
                         "ab_bin_counts.json of a run with the same ab grid")
    head = model.colorization.distribution
    with torch.no_grad():
        head.bias.sub_(strength * colour_log_prior(counts, centres, hue_only=hue_only).to(head.bias))
    return model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", type=Path)
    parser.add_argument("--counts", type=Path, required=True, help="a training run's ab_bin_counts.json")
    parser.add_argument("--strength", type=float, required=True, help="share of log p(colour) removed (0..1)")
    parser.add_argument("--out", type=Path, required=True, help="folder for model.safetensors + config.json")
    parser.add_argument("--hue_only", action="store_true",
                        help="remove only the prior of the hue within each chroma ring (not the preference for grey)")
    args = parser.parse_args(argv)
    if not 0.0 <= args.strength <= 1.0:
        print(f"--strength must be in [0, 1], got {args.strength}", file=sys.stderr)
        return 2
    model, _ = load_checkpoint(args.weights)
    counts = torch.tensor(json.loads(args.counts.read_text())["counts"])
    try:
        adjust_prior(model, counts, args.strength, hue_only=args.hue_only)
    except ValueError as err:
        print(err, file=sys.stderr)
        return 2
    training = dict(read_document(args.weights).get("training", {}))
    training["prior_adjustment"] = {"strength": args.strength, "hue_only": args.hue_only, "counts": str(args.counts)}
    out = save_checkpoint(model, args.out, training=training)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
