"""One GPU, compact network: the CPU default's architecture trained from scratch in hours instead of weeks.

    colornet-train training/configs/gpu_compact.py --data_dir=shared/data/train
    colornet-train training/configs/gpu_compact.py --data_dir=shared/data/train \
        --continue_from=training/long_run/model.safetensors       # or go on from the CPU long run's weights

On CUDA the loop switches on bf16 autocast and channels-last by itself (dtype=auto); the photos are decoded once
into RAM (preload, cached in out_dir/data_cache.npz for the next start) and cropped by 8 loader workers, which keep
a GPU fed at batch 128. The learning rate and rebalancing follow issue 17's CPU ablation (docs/VIVID.md); the crops
are larger than on the CPU (176 px from photos stored at 256 px) because a GPU can afford them.
"""
out_dir = "runs/gpu-compact"
model = "compact"
head = "distribution"
vividness = 0.75
rebalance = 0.8
alpha = 0.3
degrade = 0.5
preload = True
cache_data = True
num_workers = 8
store_side = 256
crop_size = 176
val_crop_size = 112
crop_min_scale = 0.6
batch_size = 128
optimizer = "adam"
learning_rate = 2e-3
min_lr = 1e-4
decay_lr = True
warmup_iters = 500
max_iters = 20000
eval_interval = 1000
ckpt_interval = 1000
keep_last = 3
dtype = "auto"
device = "auto"
