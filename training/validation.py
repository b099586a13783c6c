"""Validation: the split's centre crops stacked once, the two floors, and the model's loss and metrics on them.

Metrics (``training.metrics``): PSNR on RGB, ab MSE, colourfulness, top-1/top-5 scene accuracy, and the pooled hue
metrics (green recall, hue JS, warm share) at 128 px wide; the floors are the
greyscale input itself and the per-luminance mean-colour table (``training.floors``). A network that does not beat
the table has learned nothing spatial.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from colornet.colorbins import decode_annealed_mean
from colornet.lab import lab_from_l_ab, lab_to_rgb, unnormalize_ab
from colornet.model import ColorNet

from .data import ColorizationDataset, Sample
from .floors import MeanColourTable
from .metrics import HueStats, ab_mse, colorfulness, psnr, to_metric_width, topk_correct
from .objective import Objective


@dataclass
class ValidationSet:
    """The validation crops, stacked: L ``[N,1,c,c]``, ab ``[N,2,c,c]``, global-path L ``[N,1,g,g]``, labels ``[N]``."""

    lightness: torch.Tensor
    ab: torch.Tensor
    global_l: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return self.lightness.shape[0]

    def batches(self, batch_size: int):
        for i in range(0, len(self), batch_size):
            part = slice(i, i + batch_size)
            yield self.lightness[part], self.ab[part], self.global_l[part], self.labels[part]

    @classmethod
    def from_dataset(cls, dataset: ColorizationDataset, limit: int = 0) -> "ValidationSet":
        """Every usable item of ``dataset`` (the first ``limit``, if set); photos skipped when streamed are left out."""
        n = len(dataset) if not limit else min(limit, len(dataset))
        items = [it for it in (dataset[i] for i in range(n)) if isinstance(it, Sample)]
        if not items:
            return cls(torch.zeros(0, 1, 1, 1), torch.zeros(0, 2, 1, 1), torch.zeros(0, 1, 1, 1),
                       torch.zeros(0, dtype=torch.long))
        return cls(torch.stack([it.lightness for it in items]), torch.stack([it.ab for it in items]),
                   torch.stack([it.global_l for it in items]), torch.tensor([it.label for it in items], dtype=torch.long))


def _summarise(lightness, ab_pred, ab_true) -> dict[str, torch.Tensor]:
    rgb_pred = lab_to_rgb(lab_from_l_ab(lightness, ab_pred))
    rgb_true = lab_to_rgb(lab_from_l_ab(lightness, ab_true))
    return {"psnr": psnr(rgb_pred, rgb_true), "ab_mse": ab_mse(ab_pred, ab_true), "colorfulness": colorfulness(rgb_pred)}


def _accumulate(totals: dict[str, float], metrics: dict[str, torch.Tensor]) -> None:
    for key, value in metrics.items():
        totals[key] = totals.get(key, 0.0) + float(value.float().sum())


@torch.no_grad()
def compute_floors(val: ValidationSet, table: MeanColourTable, batch_size: int = 64) -> dict[str, dict]:
    """Greyscale and mean-colour-table metrics on the validation crops (plus the ground truth's colorfulness)."""
    sums: dict[str, dict[str, float]] = {"greyscale": {}, "mean_colour_table": {}, "ground_truth": {}}
    table_hues = HueStats()
    for lightness, ab, _, _ in val.batches(batch_size):
        predicted = table.predict(lightness)
        _accumulate(sums["greyscale"], _summarise(lightness, torch.zeros_like(ab), ab))
        _accumulate(sums["mean_colour_table"], _summarise(lightness, predicted, ab))
        _accumulate(sums["ground_truth"], {"colorfulness": colorfulness(lab_to_rgb(lab_from_l_ab(lightness, ab)))})
        table_hues.update(to_metric_width(predicted), to_metric_width(ab.float()))
    result = {name: {k: v / max(len(val), 1) for k, v in m.items()} for name, m in sums.items()}
    hues = table_hues.result()
    result["mean_colour_table"].update(hues)
    result["ground_truth"].update(warm_share=hues["warm_share_true"], green_share=hues["green_share_true"])
    return result


@torch.no_grad()
def evaluate(model: ColorNet, val: ValidationSet, device: torch.device, ctx, objective: Objective,
             batch_size: int = 64) -> dict[str, float]:
    """Average the loss and the metrics over the whole validation split (estimate_loss in nanoGPT's terms)."""
    was_training = model.training
    model.eval()
    totals: dict[str, float] = {}
    hues = HueStats()
    for batch in val.batches(batch_size):
        lightness, ab, global_l, labels = (t.to(device) for t in batch)
        with ctx:
            prior = model.encode_global(global_l)
            out = model.predict_head_half(lightness, prior)
        labelled = bool((labels >= 0).all())  # photos of other collections have no scene label: colour term only
        loss = objective(out, prior.logits if labelled else None, ab, labels)
        if model.has_distribution_head:
            ab_half = decode_annealed_mean(out, model.colorization.ab_centres, model.decode_temperature)
        else:
            ab_half = unnormalize_ab(out.float())
        ab_full = F.interpolate(ab_half.float(), size=lightness.shape[-2:], mode="bilinear", align_corners=False)
        metrics = _summarise(lightness.float(), ab_full, ab.float())
        hues.update(to_metric_width(ab_full), to_metric_width(ab.float()))
        if prior.logits is not None and (labels >= 0).all():
            metrics["top1"] = topk_correct(prior.logits.float(), labels, 1).float()
            metrics["top5"] = topk_correct(prior.logits.float(), labels, 5).float()
        metrics["loss"] = loss.total.detach().expand(lightness.shape[0])
        metrics["mse"] = loss.colour.detach().expand(lightness.shape[0])
        _accumulate(totals, metrics)
    model.train(was_training)
    result = {k: v / max(len(val), 1) for k, v in totals.items()}
    result.update({k: v for k, v in hues.result().items() if not k.endswith("_true")})
    return result


def format_table(metrics: dict[str, float], floors: dict[str, dict], n_classes: int) -> str:
    rows = [("model", metrics), ("greyscale floor", floors["greyscale"]), ("mean-colour table", floors["mean_colour_table"])]
    lines = [f"{'':18s} {'PSNR dB':>8s} {'ab MSE':>8s} {'colorful':>8s} {'green':>6s} {'hue JS':>6s} {'warm':>5s} "
             f"{'top-1':>6s} {'top-5':>6s}"]

    def number(m: dict, key: str, fmt: str, width: int) -> str:
        return format(m[key], fmt) if key in m else "-".center(width)

    for name, m in rows:
        t1 = f"{100 * m['top1']:5.1f}%" if "top1" in m else "   -  "
        t5 = f"{100 * m['top5']:5.1f}%" if "top5" in m else "   -  "
        lines.append(f"{name:18s} {m['psnr']:8.2f} {m['ab_mse']:8.1f} {m['colorfulness']:8.2f} "
                     f"{number(m, 'green_recall', '6.3f', 6)} {number(m, 'hue_js', '6.3f', 6)} "
                     f"{number(m, 'warm_share', '5.2f', 5)} {t1:>6s} {t5:>6s}")
    chance = f"chance top-1 {100 / n_classes:.1f}%, " if n_classes else ""
    truth = floors["ground_truth"]
    warm = f", warm share {truth['warm_share']:.2f}" if "warm_share" in truth else ""
    lines.append(f"{'':18s} ({chance}ground-truth colorfulness {truth['colorfulness']:.2f}{warm})")
    return "\n".join(lines)
