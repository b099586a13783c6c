"""The paper's full network and schedule on Places365-Standard (365 classes, ~1.8 M photos), on N GPUs with torchrun.

    torchrun --standalone --nproc_per_node=8 -m training.train training/configs/paper_places365.py \
        --data_dir=/data/places365_standard/train --batch_size=16

batch_size is per GPU: keep batch_size x N = 128, the paper's batch. Photos are streamed from disk by DataLoader
workers (the dataset does not fit in RAM); bf16 autocast and channels_last are switched on automatically on CUDA.

The photos are named on the command line (--data_dir): a config holds no path of a particular machine.
"""
out_dir = "runs/paper-places365"
model = "paper"
preload = False  # stream: 1.8 M photos do not fit in RAM
cache_data = False
num_workers = 8  # per GPU process
store_side = 256  # the paper rescales to 256 ...
crop_size = 224  # ... and trains on 224 x 224 crops
crop_min_scale = 0.875  # 224 / 256
val_fraction = 0.01  # ~18 k photos held out by path hash
eval_max_photos = 5000
eval_interval = 5000
table_max_photos = 5000
optimizer = "adadelta"  # as in the paper
learning_rate = 1.0
rho = 0.95
alpha = 0.0033333333333333335  # 1/300
batch_size = 16  # per GPU; 16 x 8 GPUs = 128 (paper)
max_iters = 200000
ckpt_interval = 2000
keep_last = 3
log_interval = 50
