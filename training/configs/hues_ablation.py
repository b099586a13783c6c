"""Issue 17's efficiency ablation: each variant trains for the same CPU time (cpu_minutes, one thread) from the bundled
default's weights on the same photos, then validates on the same 400 centre crops (val_crop_size fixed at 112).

    OMP_WAIT_POLICY=PASSIVE nice -n 10 colornet-train training/configs/hues_ablation.py --data_dir=shared/data/train \
        --out_dir=runs/abl-B --learning_rate=2e-3          # one variant; tools/run_hue_ablation.sh runs them all

The base is the shipped recipe as it ended (rebalancing mix 0.8, ageing 0.5, lr 5e-4 with the head at 10x); the
variants change one thing each (see docs/VIVID.md). The learning rate is constant after a 20-step warm-up: a cosine
tail would make a short run's result depend on its length.
"""
out_dir = "runs/abl-A"
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
learning_rate = 5e-4
head_lr_mult = 10.0
decay_lr = False
warmup_iters = 20
max_iters = 1000000
cpu_minutes = 7.0
eval_interval = 1000000
eval_max_photos = 400
ckpt_interval = 1000000
log_interval = 10
threads = 1
progress = False
val_fraction = 0.05
eval_at_start = True
