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
base = "hues_long.py"  # the long run's recipe (model, data, augmentation, batch), with these changes:
out_dir = "runs/polish"
init_from = ""  # given on the command line: the long-run checkpoint to polish
learning_rate = 1e-4
min_lr = 5e-6
decay_lr = True
warmup_iters = 20
max_iters = 400
eval_interval = 200
eval_at_start = False
ckpt_interval = 100
keep_last = 1
threads = 1
