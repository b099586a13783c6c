"""A smoke-test config: any small folder of photos to an exported checkpoint in about a minute on a CPU.

    colornet-train training/configs/tiny_example.py --data_dir=path/to/photos --out_dir=runs/tiny
"""
model = "compact"
width = 0.125
global_size = 64
store_side = 96
crop_size = 64
batch_size = 8
optimizer = "adam"
learning_rate = 2e-3
max_iters = 200
ckpt_interval = 100
val_fraction = 0.1
