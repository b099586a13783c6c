"""One GPU, the paper's full network (42 M parameters) with the colour-distribution head, on shared/data/train.

    colornet-train training/configs/gpu_paper.py --data_dir=shared/data/train

bf16 autocast and channels-last switch on by themselves on CUDA (dtype=auto); photos are decoded once into RAM and
augmented by 8 loader workers. The paper trains on 2.4 M Places photos; on 22 k photos the full network overfits
sooner, so this stops after ~60 epochs (10,000 steps of 128) and validates every 500 steps: keep the checkpoint whose
validation (green recall, hue JS, PSNR) is best, not simply the last. For Places365 use paper_places365.py.
"""
out_dir = "runs/gpu-paper"
model = "paper"
head = "distribution"
vividness = 0.75
rebalance = 0.8
alpha = 0.3
degrade = 0.5
preload = True
cache_data = True
num_workers = 8
store_side = 256
crop_size = 224
val_crop_size = 112
crop_min_scale = 0.6
batch_size = 128
optimizer = "adam"
learning_rate = 1e-3
min_lr = 5e-5
decay_lr = True
warmup_iters = 500
max_iters = 10000
eval_interval = 500
ckpt_interval = 500
keep_last = 5
dtype = "auto"
device = "auto"
