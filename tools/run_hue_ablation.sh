#!/usr/bin/env bash
# Issue 17's efficiency ablation: every variant trains for the same CPU minutes (see training/configs/hues_ablation.py).
#   tools/run_hue_ablation.sh DATA_DIR [VARIANT ...]     (two variants at a time, one thread each, niced)
#   OTHER=photos/of/other/collections tools/run_hue_ablation.sh ...   also validates on that folder
#   SUFFIX=-28 EXTRA="--cpu_minutes=28 --eval_interval=216" ...       longer runs into runs/abl-<V>-28
# Each run's table is at the end of runs/abl-<V>/train.out; training/compare.py compares their exports.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:?usage: tools/run_hue_ablation.sh DATA_DIR [VARIANT ...]}; shift
declare -A ARGS=(
  [A]=""                                                        # the shipped recipe: lr 5e-4, head 10x
  [B]="--learning_rate=2e-3 --head_lr_mult=1.0"                 # 4x the learning rate
  [C]="--learning_rate=2e-3 --head_lr_mult=1.0 --crop_size=64"  # B on 64 px crops (a low-resolution stage)
  [D]="--learning_rate=2e-3 --head_lr_mult=1.0 --rebalance=0.5" # B with stronger colour rebalancing
  [E]="--learning_rate=2e-3 --head_lr_mult=1.0 --degrade=0.0"   # B without the ageing augmentation
  [F]="--learning_rate=2e-3 --head_lr_mult=1.0 --batch_size=16" # B with half the batch: twice the updates
  [G]="--learning_rate=1e-4 --head_lr_mult=1.0"                 # the long run's recipe (lr 1e-4)
  [H]="--learning_rate=1e-4 --head_lr_mult=1.0 --width=0.5"     # capacity: G at half width, widened from the default
  [I]="--learning_rate=1e-4 --head_lr_mult=1.0 --crop_size=64"  # the long run's lr on 64 px crops
)
variants=("$@"); [ ${#variants[@]} -gt 0 ] || variants=(A B C D E F)
PY=${PYTHON:-python}
run() {
  local v=$1 out=runs/abl-$1${SUFFIX:-}
  mkdir -p "$out"
  # the decoded photos, bin counts and mean-colour table are the same for every variant: share the first run's
  for f in data_cache.npz ab_bin_counts.json mean_colour_table.json; do
    [ -e "$out/$f" ] || [ ! -e runs/abl-shared/$f ] || ln "runs/abl-shared/$f" "$out/$f"
  done
  OMP_WAIT_POLICY=PASSIVE nice -n "${NICE:-10}" "$PY" -m training.train training/configs/hues_ablation.py \
    --data_dir="$data" --out_dir="$out" ${OTHER:+--extra_val_dir="$OTHER"} ${ARGS[$v]} ${EXTRA:-} > "$out/train.out" 2>&1
}
mkdir -p runs/abl-shared
pids=()
for v in "${variants[@]}"; do
  run "$v" & pids+=($!)
  if [ ${#pids[@]} -ge "${PARALLEL:-2}" ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
wait
