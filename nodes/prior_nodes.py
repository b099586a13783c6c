"""ColorNet Global Prior (reference photo -> GLOBAL_PRIOR) and ColorNet Prior Mix (weighted mix of priors)."""

from __future__ import annotations

from typing import Any

import torch

from ._common import (CATEGORY, MODEL_TYPE, PRIOR_TYPE, ColorNetInputError, encode_priors, expect_model,
                      expect_prior, image_to_rgb)

BATCH_MODES = ["mix into one prior", "one prior per image"]
MAX_MIX_INPUTS = 4


class ColorNetGlobalPrior:
    DESCRIPTION = (
        "Computes the global prior of a reference photo: the scene-level features the network fuses into every "
        "pixel. Wire a DIFFERENT photo here and feed the prior to ColorNet Colorize to colorize an image in the "
        "reference's style (the paper's style transfer). Any image, any size; the reference's own colours are "
        "ignored (the network only sees lightness)."
    )
    CATEGORY = f"{CATEGORY}/prior"
    FUNCTION = "encode"
    RETURN_TYPES = (PRIOR_TYPE,)
    RETURN_NAMES = ("global_prior",)
    OUTPUT_TOOLTIPS = ("The reference's global prior: connect to ColorNet Colorize, ColorNet Prior Mix or ColorNet Scene Classify.",)

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {
            "required": {
                "colornet_model": (MODEL_TYPE, {"tooltip": "Model from a ColorNet Loader."}),
                "reference": ("IMAGE", {"tooltip": "Reference photo(s) whose scene sets the colours; any size. A "
                                                   "batch means several references."}),
                "batch": (BATCH_MODES, {
                    "default": BATCH_MODES[0],
                    "tooltip": "For a batch of references: 'mix into one prior' averages them with equal weights "
                               "(one style for every image); 'one prior per image' keeps one row per reference, to "
                               "pair frame i of a batch with reference i in ColorNet Colorize.",
                }),
            }
        }

    def encode(self, colornet_model: Any, reference: torch.Tensor, batch: str = BATCH_MODES[0]) -> tuple[Any]:
        model = expect_model(colornet_model)
        if batch not in BATCH_MODES:
            raise ColorNetInputError(f"Unknown batch mode '{batch}': choose one of {BATCH_MODES}.")
        prior = encode_priors(model, image_to_rgb(reference, "reference")[0])  # float32 on the CPU
        if batch == BATCH_MODES[0] and len(prior) > 1:
            prior = prior.mean()
        return (prior,)


class ColorNetPriorMix:
    DESCRIPTION = (
        "Mixes two to four global priors into one: a weighted average of their fusion vectors (weights are "
        "normalised to sum to 1). E.g. 0.7 of a sunset and 0.3 of a forest. A weight of 1 with the others at 0 "
        "returns that prior unchanged. Chain ColorNet Prior Mix nodes to mix more. Priors holding one row per frame are "
        "mixed frame by frame."
    )
    CATEGORY = f"{CATEGORY}/prior"
    FUNCTION = "mix"
    RETURN_TYPES = (PRIOR_TYPE,)
    RETURN_NAMES = ("global_prior",)
    OUTPUT_TOOLTIPS = ("The mixed prior: connect to ColorNet Colorize or ColorNet Scene Classify.",)

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        def weight(i: int) -> tuple[str, dict[str, Any]]:
            used = "" if i <= 2 else f" Used only when prior_{i} is connected (ignored otherwise)."
            return ("FLOAT", {"default": 1.0, "min": 0.0, "max": 100.0, "step": 0.05,
                              "tooltip": f"Relative weight of prior_{i} (>= 0; the weights are normalised).{used}"})

        required: dict[str, Any] = {}
        optional: dict[str, Any] = {}
        for i in range(1, MAX_MIX_INPUTS + 1):
            target = required if i <= 2 else optional
            target[f"prior_{i}"] = (PRIOR_TYPE, {"tooltip": f"Global prior #{i} (from ColorNet Global Prior or ColorNet Prior Mix)."
                                                 + ("" if i <= 2 else " Optional.")})
            target[f"weight_{i}"] = weight(i)
        return {"required": required, "optional": optional}

    def mix(self, prior_1: Any, weight_1: float, prior_2: Any, weight_2: float, prior_3: Any = None,
            weight_3: float = 1.0, prior_4: Any = None, weight_4: float = 1.0) -> tuple[Any]:
        from colornet.prior import mix_priors_per_row

        given = [(prior_1, weight_1), (prior_2, weight_2), (prior_3, weight_3), (prior_4, weight_4)]
        connected = [(expect_prior(p, f"prior_{i}").to("cpu"), float(w)) for i, (p, w) in enumerate(given, 1) if p is not None]
        return (mix_priors_per_row([p for p, _ in connected], [w for _, w in connected]),)
