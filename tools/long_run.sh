#!/usr/bin/env bash
# Issue 17's long run, spread over sessions and machines (docs/VIVID.md, "The long run").
#
#   tools/long_run.sh start DATA_DIR [OTHER_PHOTOS]   # niced, in the background; continues from training/long_run/
#                                         # OTHER_PHOTOS: a flat folder of photos of other collections, validated too
#   tools/long_run.sh snapshot            # newest weights + log into training/long_run/ (then commit those two files)
#   tools/long_run.sh stop                # ends the run after saving (SIGTERM; waits for it); then snapshot
#
# The run's local state (checkpoints with the optimiser, the decoded-photo cache) lives in runs/long-hues/, which is
# not committed. training/long_run/model.safetensors (weights + training state: step, samples, CPU-hours) and
# training/long_run/log.jsonl are: a fresh clone resumes from them (the optimiser restarts with a short warm-up).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=runs/long-hues
KEEP=training/long_run
PY=${PYTHON:-python}
case "${1:-}" in
  start)
    data=${2:?usage: tools/long_run.sh start DATA_DIR}
    mkdir -p "$OUT"
    # the committed log goes on where it stopped (the local one wins when it is longer: same machine)
    if [ -f "$KEEP/log.jsonl" ] && { [ ! -f "$OUT/log.jsonl" ] || [ "$(wc -l < "$KEEP/log.jsonl")" -gt "$(wc -l < "$OUT/log.jsonl")" ]; }; then
      cp "$KEEP/log.jsonl" "$OUT/log.jsonl"
    fi
    cont=(); [ -f "$KEEP/model.safetensors" ] && cont=(--continue_from="$KEEP/model.safetensors")
    [ -n "${3:-}" ] && cont+=(--extra_val_dir="$3")
    OMP_WAIT_POLICY=PASSIVE nohup nice -n "${NICE:-19}" "$PY" -m training.train training/configs/hues_long.py \
      --data_dir="$data" --out_dir="$OUT" --resume "${cont[@]}" >> "$OUT/train.out" 2>&1 &
    echo "started (pid $!): tail -f $OUT/train.out"
    ;;
  snapshot)
    newest=$(ls -d "$OUT"/ckpt-* 2>/dev/null | sort | tail -1)
    [ -n "$newest" ] || { echo "no checkpoint in $OUT yet" >&2; exit 1; }
    mkdir -p "$KEEP"
    cp "$newest/model.safetensors" "$KEEP/.model.safetensors.part" && mv "$KEEP/.model.safetensors.part" "$KEEP/model.safetensors"
    cp "$OUT/log.jsonl" "$KEEP/.log.jsonl.part" && mv "$KEEP/.log.jsonl.part" "$KEEP/log.jsonl"
    echo "snapshot of $newest in $KEEP"
    ;;
  stop)
    # SIGTERM, not SIGINT: a job started in the background by a script has SIGINT ignored from birth, and training
    # keeps an ignored signal ignored (as with nohup), so Ctrl-C's signal would never reach it. SIGTERM finishes the
    # step in flight, checkpoints it and exits; wait for that, so that a snapshot right after takes the newest.
    pkill -TERM -f "training.train training/configs/hues_long.py" || { echo "not running"; exit 0; }
    echo "asked the run to save and stop; waiting for it to checkpoint"
    for _ in $(seq 600); do pgrep -f "training.train training/configs/hues_long.py" >/dev/null || break; sleep 1; done
    pgrep -f "training.train training/configs/hues_long.py" >/dev/null && { echo "still running after 10 min" >&2; exit 1; }
    tail -n 1 "$OUT/train.out"
    ;;
  *) echo "usage: tools/long_run.sh start DATA_DIR | snapshot | stop" >&2; exit 2 ;;
esac
