"""Issue 17: turn the long run's newest weights into a candidate default by a short cosine decay.

    CK=$(ls -d runs/long-hues/ckpt-* | sort | tail -1)
    OMP_WAIT_POLICY=PASSIVE nice -n 10 colornet-train training/configs/hues_polish.py --data_dir=shared/data/train \
        --init_from=$CK/model.safetensors --out_dir=runs/polish [--extra_val_dir=photos/of/other/collections]

The long run keeps a constant learning rate (it has no planned end), so its weights wander around a minimum: its
evaluations move by a few hundredths of green recall from one to the next. The bundled default was taken at the end
of a cosine decay; a candidate is compared with it on the same footing: 400 steps from 1e-4 down to 5e-6 (about
0.2 CPU-hours), the long run's recipe otherwise. The result is judged by the rule of docs/VIVID.md
(``training/compare.py``); the long run itself goes on from its own checkpoint.
"""
out_dir = "runs/polish"
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
min_lr = 5e-6
head_lr_mult = 1.0
decay_lr = True
warmup_iters = 20
max_iters = 400
eval_interval = 200
eval_max_photos = 400
eval_at_start = False
ckpt_interval = 100
keep_last = 1
log_interval = 20
threads = 1
progress = False
val_fraction = 0.05
