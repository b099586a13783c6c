"""ColorNet Scene Classify: the checkpoint's scene classes for an IMAGE or a GLOBAL_PRIOR, as text."""

from __future__ import annotations

from typing import Any

from ._common import (CATEGORY, MODEL_TYPE, PRIOR_TYPE, ColorNetInputError, encode_priors, expect_model,
                      expect_prior, image_to_rgb)


class ColorNetSceneClassify:
    DESCRIPTION = (
        "Scene classification from ColorNet's global features (the paper trains them jointly with colorization). "
        "Gives the top-k classes of the checkpoint's class list with their probabilities, for an image (batch) or "
        "for a global prior (e.g. a ColorNet Prior Mix result, whose class scores are mixed in the same proportions)."
    )
    CATEGORY = f"{CATEGORY}/analysis"
    FUNCTION = "classify"
    RETURN_TYPES = ("STRING", "STRING")
    RETURN_NAMES = ("classes", "top_label")
    OUTPUT_TOOLTIPS = (
        "Top-k lines 'class: probability' (probabilities 0..1); for a batch, one block per image headed '# image i'.",
        "The most probable class (one line per image for a batch).",
    )

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {
            "required": {
                "colornet_model": (MODEL_TYPE, {"tooltip": "Model from a ColorNet Loader (its checkpoint must "
                                                           "have scene classes)."}),
                "top_k": ("INT", {"default": 5, "min": 1, "max": 100, "step": 1,
                                  "tooltip": "How many classes to list, most probable first."}),
            },
            "optional": {
                "image": ("IMAGE", {"tooltip": "Image(s) to classify. Connect this or global_prior."}),
                "global_prior": (PRIOR_TYPE, {"tooltip": "A global prior to classify instead of an image; used "
                                                         "when both are connected."}),
            },
        }

    def classify(self, colornet_model: Any, top_k: int = 5, image: Any = None,
                 global_prior: Any = None) -> tuple[str, str]:
        from colornet.prior import top_classes

        model = expect_model(colornet_model)
        if global_prior is not None:
            prior = expect_prior(global_prior, "global_prior")
        elif image is not None:
            prior = encode_priors(model, image_to_rgb(image)[0])
        else:
            raise ColorNetInputError("ColorNet Scene Classify needs an input: connect an 'image' or a 'global_prior'.")
        if prior.logits is None or not prior.class_names:
            raise ColorNetInputError(
                f"The checkpoint '{model.name}' has no scene classes (trained without the classification head), so "
                f"it cannot classify. Load a checkpoint whose config lists class names."
            )
        ranked = top_classes(prior, int(top_k))
        blocks = []
        for i, row in enumerate(ranked, 1):
            lines = [f"{name}: {prob:.3f}" for name, prob in row]
            blocks.append(("" if len(ranked) == 1 else f"# image {i}\n") + "\n".join(lines))
        return "\n\n".join(blocks), "\n".join(row[0][0] for row in ranked)
