#!/bin/bash
# The training runs of the fine-tuned leave-one-out table (docs/face-science.md, session 17), one after another.
#
#   benchmarks/leave_one_out_runs.sh OUT INIT [ROW ...]     # rows: all GAN openforensics sbi xray region diffusion blends
#   DRY_RUN=1 benchmarks/leave_one_out_runs.sh OUT INIT      # print the commands only
#   CONFIG=configs/capacity/efficientnet_lite2_224.yaml benchmarks/leave_one_out_runs.sh OUT imagenet blends
#   EPOCHS=18 SAMPLES=6400 CONFIG=... benchmarks/leave_one_out_runs.sh OUT imagenet all    # a long run (session 19)
#   DFDC_WEIGHT=10 EPOCHS=10 ... benchmarks/leave_one_out_runs.sh OUT RUN all               # a warm restart (session 20)
#   ROLL=0.3 DFDC_WEIGHT=15 ... benchmarks/leave_one_out_runs.sh OUT RUN all                # with turned faces (session 21)
#   OF_WEIGHT=2.5 OF_REAL_SHARE=0.7 ... benchmarks/leave_one_out_runs.sh OUT RUN all          # more OpenForensics reals (session 25)
#   OF_SET="hard=$PWD/configs/data/hard/openforensics_reals.txt hard_share=0.3" ...              # its hard reals (session 28)
#
# INIT `imagenet` starts from the model's ImageNet weights at the config's learning rate (the capacity comparison,
# session 18); CONFIG picks the model and input size (default: configs/efficientnet_lite0.yaml); EPOCHS and SAMPLES
# the budget (default 4 x 4,800 draws, the table's); DFDC_WEIGHT replaces dfdc.yaml's sampling weight in every row;
# OF_WEIGHT and OF_REAL_SHARE replace openforensics.yaml's weight and set its `real_share` (the share of its draws that
# are reals; default 0.5); DFDC_SET and OF_SET set any other keys of those two YAMLs (KEY=VALUE ..., a file path
# absolute: the copy lives in OUT/cfg);
# ROLL is the share of faces turned by up to 30 degrees (`--roll`; unset: none); SMOOTH the share of faces of either
# class put through skin smoothing (`--skin-smoothing`; unset: none); LEVEL_NOISE the share of faces given faint noise
# at the model's input size (`--level-noise`; unset: none).
# SEED seeds the draws and augmentations (`--seed`; unset: 0). A restart from a run made with the same seed, sources
# and weights replays that run's draws exactly (session 22), so give each continuation a new one. The sides come from
# INIT's split (the bundled detector's when INIT is imagenet; SPLIT_FROM adds another run folder or split.csv, e.g.
# the other member's line, so that two members of a fusion share sides); images it does not hold are hashed with --split-seed 0,
# whatever SEED is (until session 31 they followed SEED, and a continuation on a grown source split them anew).
#
# OUT gets cfg/ (the source YAMLs each row trains on) and a run folder per row; INIT is the detector every run starts
# from (the table used the DFDC-only default, commit 89030b0, so the dfdc row cannot be run from it). Each row trains
# the shipped recipe's data minus one kind of fake: a fake source's YAML gets `train_fakes: false` (its reals stay,
# paired with self-blends of them), `sbi` zeroes the self-blend share and drops the pseudo_sbi sources, a family row
# drops its two pseudo-fake sources, `diffusion` drops SDFD, `blends` keeps only reals and pseudo-fakes. A folder
# with checkpoints is resumed. The table reads every run at its last epoch: where the trainer kept an earlier one
# (detector.json's info.best_epoch), copy checkpoints/epoch-004/model.safetensors with detector.json, config.json and
# split.csv into a new folder and run `fakelens calibrate` on it. Then score them with
# benchmarks/leave_one_out_finetuned.py.
set -euo pipefail
OUT=${1:?OUT folder}; INIT=${2:?INIT detector folder}; shift 2
ROWS=${*:-all GAN openforensics sbi xray region diffusion blends}
D=configs/data; C=$OUT/cfg
mkdir -p "$C"
strip() { grep -v '^#' "$1"; }
# source_yaml NAME KEY=VALUE ...: configs/data/NAME.yaml, or with any KEY=VALUE given, its copy in $C with those keys set
source_yaml() {
  local name=$1 key line; shift
  if [ $# -eq 0 ]; then echo "$D/$name.yaml"; return; fi
  line=$(strip "$D/$name.yaml")
  for kv in "$@"; do key=${kv%%=*}; line=$(grep -v "^$key:" <<<"$line"; echo "$key: ${kv#*=}"); done
  echo "$line" > "$C/$name.yaml"; echo "$C/$name.yaml"
}
DFDC=$(source_yaml dfdc ${DFDC_WEIGHT:+weight=$DFDC_WEIGHT} ${DFDC_SET:-})
OF=$(source_yaml openforensics ${OF_WEIGHT:+weight=$OF_WEIGHT} ${OF_REAL_SHARE:+real_share=$OF_REAL_SHARE} ${OF_SET:-})
for f in $DFDC $OF $D/rvf10k.yaml $D/headshots.yaml; do
  { strip "$f"; echo "train_fakes: false"; } > "$C/$(basename "$f" .yaml)_nofakes.yaml"
done
strip $DFDC | sed 's/^sbi: .*/sbi: 0.0/' > "$C/dfdc_nosbi.yaml"
strip $D/lfw.yaml | sed 's/^sbi: .*/sbi: 0.0/; s/^weight: .*/weight: 0.5/' > "$C/lfw_nosbi.yaml"
for f in sbi xray region; do for suffix in "" _ffhq; do
  strip $D/pseudo_$f$suffix.yaml | sed 's/^weight: .*/weight: 0.2/' > "$C/pseudo_$f$suffix.yaml"
done; done
PSEUDO="$C/pseudo_sbi.yaml $C/pseudo_sbi_ffhq.yaml $C/pseudo_xray.yaml $C/pseudo_xray_ffhq.yaml $C/pseudo_region.yaml $C/pseudo_region_ffhq.yaml"
ALL="$DFDC $OF $D/rvf10k.yaml $D/headshots.yaml $D/sdfd.yaml $D/lfw.yaml $PSEUDO"
row_sources() {
  case $1 in
    all) echo "$ALL" ;;
    GAN) echo "$ALL" | sed "s#$D/rvf10k.yaml#$C/rvf10k_nofakes.yaml#; s#$D/headshots.yaml#$C/headshots_nofakes.yaml#" ;;
    dfdc) echo "$ALL" | sed "s#$DFDC#$C/dfdc_nofakes.yaml#" ;;
    openforensics) echo "$ALL" | sed "s#$OF#$C/openforensics_nofakes.yaml#" ;;
    sbi) echo "$ALL" | sed "s#$DFDC#$C/dfdc_nosbi.yaml#; s#$D/lfw.yaml#$C/lfw_nosbi.yaml#; s#$C/pseudo_sbi.yaml##; s#$C/pseudo_sbi_ffhq.yaml##" ;;
    xray | region) echo "$ALL" | sed "s#$C/pseudo_$1.yaml##; s#$C/pseudo_$1_ffhq.yaml##" ;;
    diffusion) echo "$ALL" | sed "s#$D/sdfd.yaml##" ;;
    blends) echo "$C/dfdc_nofakes.yaml $C/openforensics_nofakes.yaml $C/rvf10k_nofakes.yaml $C/headshots_nofakes.yaml $D/lfw.yaml $PSEUDO" ;;
    *) echo "unknown row: $1" >&2; exit 2 ;;
  esac
}
# From an earlier detector the runs fine-tune at half the config's peak rate; from ImageNet, at the config's own.
# The trainer keeps INIT's sides by itself (--init-weights); --split-from adds SPLIT_FROM's, or the bundled detector's
# for a run from ImageNet, which has no sides of its own.
init=(--init-weights "$INIT" --lr 2e-4); if [ "$INIT" = imagenet ]; then init=(); fi
split_from=${SPLIT_FROM:-}; if [ -z "$split_from" ] && [ "$INIT" = imagenet ]; then split_from=src/fakelens/weights; fi
split=(); if [ -n "$split_from" ]; then split=(--split-from "$split_from"); fi
roll=(); if [ -n "${ROLL:-}" ]; then roll=(--roll "$ROLL"); fi
smooth=(); if [ -n "${SMOOTH:-}" ]; then smooth=(--skin-smoothing "$SMOOTH"); fi
if [ -n "${LEVEL_NOISE:-}" ]; then smooth+=(--level-noise "$LEVEL_NOISE"); fi
seed=(); if [ -n "${SEED:-}" ]; then seed=(--seed "$SEED"); fi
for row in $ROWS; do
  out=$OUT/$row
  if [ -f "$out/detector.json" ]; then echo "$row: done already"; continue; fi
  args=(); for f in $(row_sources "$row"); do args+=(--data "$f"); done
  resume=(); if ls "$out"/checkpoints/epoch-* >/dev/null 2>&1; then resume=(--resume); fi
  cmd=(fakelens train --config "${CONFIG:-configs/efficientnet_lite0.yaml}" "${args[@]}" --cue-chain 0.25 "${roll[@]}" "${smooth[@]}" "${seed[@]}" "${init[@]}" "${split[@]}"
       --epochs "${EPOCHS:-4}" --samples-per-epoch "${SAMPLES:-4800}" --max-val-batches 40 --patience 0
       --out "$out" "${resume[@]}")
  if [ -n "${DRY_RUN:-}" ]; then echo "${cmd[*]}"; continue; fi
  echo "$(date +%T) start $row"
  start=$(date +%s)
  OMP_WAIT_POLICY=PASSIVE "${cmd[@]}"
  echo "$(date +%T) end $row: $(( $(date +%s) - start )) s"
done
