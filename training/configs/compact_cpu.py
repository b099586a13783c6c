"""The bundled default: compact ColorNet trained on shared/data/train (39 classes) on a 2-core CPU in ~80 minutes.

    OMP_WAIT_POLICY=PASSIVE colornet-train training/configs/compact_cpu.py --data_dir=shared/data/train --resume   # until ckpt-00002500
    OMP_WAIT_POLICY=PASSIVE colornet-train training/configs/compact_cpu.py --data_dir=shared/data/train --resume --chroma_weight=1.0  # to 5500

(the bundled checkpoint was trained like this: chroma_weight from step 2500 on, against greyish output).

Adam instead of the paper's AdaDelta: in a few thousand CPU steps AdaDelta (lr 1.0) learns colour far more slowly.
OMP_WAIT_POLICY=PASSIVE: on a CPU shared with other jobs, OpenMP's spinning threads made 2-thread training ~4x slower
than 1 thread (12 vs 47 images/s measured); passive waiting keeps 2 threads useful.

The photos are named on the command line (--data_dir): a config holds no path of a particular machine.
"""
out_dir = "runs/default"
model = "compact"
store_side = 144
crop_size = 112
crop_min_scale = 0.6
batch_size = 32
optimizer = "adam"
learning_rate = 2e-3
min_lr = 1e-4
decay_lr = True
warmup_iters = 200
max_iters = 5500
ckpt_interval = 250
keep_last = 3
threads = 2
val_fraction = 0.05
