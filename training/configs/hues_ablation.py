"""Issue 17's efficiency ablation: each variant trains for the same CPU time (cpu_minutes, one thread) from the bundled
default's weights on the same photos, then validates on the same 400 centre crops (val_crop_size fixed at 112).

    OMP_WAIT_POLICY=PASSIVE nice -n 10 colornet-train training/configs/hues_ablation.py --data_dir=shared/data/train \
        --out_dir=runs/abl-B --learning_rate=2e-3          # one variant; tools/run_hue_ablation.sh runs them all

The base is the shipped recipe as it ended (rebalancing mix 0.8, ageing 0.5, lr 5e-4 with the head at 10x): the long
run's settings (hues_long.py, which grew out of variant G) with the ablation's rate and budget; the variants change
one thing each (see docs/VIVID.md). The learning rate is constant after a 20-step warm-up: a cosine tail would make a
short run's result depend on its length.
"""
base = "hues_long.py"  # the model, data, augmentation and batch of the long run; the ablation's rate and budget:
out_dir = "runs/abl-A"
learning_rate = 5e-4
head_lr_mult = 10.0
warmup_iters = 20
max_iters = 1000000
cpu_minutes = 7.0
eval_interval = 1000000
ckpt_interval = 1000000
keep_last = 3
log_interval = 10
threads = 1
