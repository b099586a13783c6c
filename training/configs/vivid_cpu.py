"""The bundled default since issue 9: compact ColorNet with the colour-distribution head and the ageing augmentation,
fine-tuned on all of shared/data/train (104 classes) from the previous default's trunk, on a shared 2-core CPU.

    OMP_WAIT_POLICY=PASSIVE nice -n 5 colornet-train training/configs/vivid_cpu.py --data_dir=shared/data/train   # --resume to continue

The previous default (colornet-compact-places39, regression head) gives the low- and mid-level, global and colorization
trunk; the 104-class scene head and the 1x1 distribution head start fresh (see init_from's log line). alpha is larger
than the paper's 1/300 because the colour term is now a cross-entropy (~3) rather than an MSE on [0, 1] ab (~0.01):
0.3 keeps the scene term's share of the loss about where the paper had it. The output layers learn at 10x the rate
(head_lr_mult): at the trunk's rate Adam would need thousands of steps to grow a fresh head's weights.

The photos are named on the command line (--data_dir): a config holds no path of a particular machine.
"""
out_dir = "runs/vivid"
init_from = "colornet/weights/colornet-compact-places39/model.safetensors"
model = "compact"
head = "distribution"
vividness = 0.62
rebalance = 0.5
alpha = 0.3
degrade = 0.5
store_side = 144
crop_size = 112
crop_min_scale = 0.6
batch_size = 32
optimizer = "adam"
learning_rate = 5e-4
head_lr_mult = 10.0
min_lr = 3e-5
decay_lr = True
warmup_iters = 100
max_iters = 4500
eval_interval = 500
eval_max_photos = 600
ckpt_interval = 100
keep_last = 3
threads = 2
val_fraction = 0.05
