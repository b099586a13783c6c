"""Issue 17's long run: the next default, trained niced in the background over several sessions and machines.

    tools/long_run.sh start shared/data/train [OTHER_PHOTOS]   # then `tools/long_run.sh snapshot` before stopping

It starts from the bundled default (init_from) and afterwards always goes on from training/long_run/model.safetensors
(continue_from, committed with its log at the end of each session) or, on the same machine, from runs/long-hues/.
The learning rate is constant (the run has no planned end; decay it when a candidate is to be shipped).

Why 1e-4: in the equal-CPU ablation (docs/VIVID.md) a fresh Adam at 5e-4 (the shipped recipe) and at 2e-3 both made
the bundled default worse on every metric within 7 CPU-minutes (2e-3 the most): the trained weights sit where large
steps only add noise. The first validation lands at 216 steps, the ablation's budget, so this run is its variant G.
Why quarter width: widened to half width (variant H, ``training/widen.py``) it was level with G after 28 CPU-minutes
each, at twice the cost per step and twice the inference time. Why 112 px crops: 64 px crops at this rate (variant I)
saw 2.2x the samples and ended worse on hue.

hues_polish.py and hues_ablation.py start from this file (``base``): a change here changes them too.
"""
out_dir = "runs/long-hues"
init_from = "colornet/weights/colornet-compact-vivid104/model.safetensors"
model = "compact"
head = "distribution"
vividness = 0.75
rebalance = 0.8
alpha = 0.3
degrade = 0.5
store_side = 144
crop_size = 112
val_crop_size = 112
crop_min_scale = 0.6
batch_size = 32
optimizer = "adam"
learning_rate = 1e-4
head_lr_mult = 1.0
decay_lr = False
warmup_iters = 50
max_iters = 100000000
eval_interval = 216
eval_max_photos = 400
eval_at_start = True
ckpt_interval = 108
keep_last = 2
log_interval = 20
threads = 2
progress = False
val_fraction = 0.05
