#!/usr/bin/env bash
# Train the shipped denoiser's architecture on one CUDA GPU within a time budget, then measure mmse
# inference throughput; everything lands in one folder.
#
#   bash benchmarks/gpu_train.sh OUT [options] [-- extra trainer options]
#
# Writes OUT/model.pt (the EMA model, loadable by restoration.diffusion.model.load_model),
# OUT/model.pt.log.csv (step, loss, lr, seconds every 50 steps), OUT/train.log (the trainer's
# output), OUT/throughput.json and OUT/throughput.md (benchmarks/gpu_throughput.py), and
# OUT/model.pt.state (~60 MB resume state: rerun with `-- --resume` and the same OUT to continue;
# on the lent machine it stays there, and a fresh machine starts bare).
#
# Recipe (defaults): fine-tune from restoration/models/default.pt (widths 32,64,128,256, blocks
# 1,1,1,2, taken from the file) on scikit-image's training images + the Debian photographs in
# train/photos/train + 64 dead-leaves images; 128 x 128x128 patches per step, peak lr 3e-4, seed 3,
# 500 warm-up steps; bf16 autocast and channels-last on CUDA (the trainer's own); --max-seconds 390
# for the whole training call (data loading included) with --fit-steps, which sets the cosine
# schedule's length at the warm-up's end so that it ends inside the budget. Then throughput: a
# seeded 4096x4096 plane, tiles 4096, 2048 and 1024, 5 timed runs each, the best again with the
# plane in host memory and (on CUDA, unless --no-compile) with torch.compile, within 120 s.
# Budget in all: about 390 + 120 + start-up < 9 minutes, inside a 10-minute command.
#
# Needs (no network, no pip): bash, a python3 (or $PYTHON) with torch (a CUDA build for the GPU),
# numpy, scikit-image, pillow and pluggy; this working tree (run from anywhere: paths resolve from
# the caller's folder). The photographs are not in git: make them where there is network with
# `python data/debian_photos.py -o train/photos` and carry train/photos/train (17 MB). Without them
# it says so and trains on scikit-image + dead leaves only.
#
# On the lent GPU machine (the device tool), from the repository root:
#   run(command='bash benchmarks/gpu_train.sh "$OUT"', carry=["train/photos/train"], timeout_s=600)
# Back here model.pt (14.7 MB), the logs and the throughput files lie read-only under the reply's
# files_at folder (the .state is over the 16 MiB a returned file may have). Copy them to the
# git-ignored runs/ and evaluate the model on the CPU:
#   mkdir -p runs/gpu && cp FILES_AT/* runs/gpu/
#   python benchmarks/denoise_quality.py --model runs/gpu/model.pt --out runs/gpu/denoise_quality.md
#
# Options:
#   --photos DIR        photographs to train on (default train/photos/train; absent: skimage only)
#   --data SRC          the other training source, in the trainer's syntax (default skimage;
#                       e.g. skimage:brick,moon or a folder)
#   --init MODEL        starting weights (default restoration/models/default.pt; "none": from scratch
#                       with widths 32,64,128,256 and blocks 1,1,1,2)
#   --max-seconds S     wall-clock budget of the training call (default 390)
#   --steps N           schedule length (default 20000; replaced by the fitted one unless --no-fit)
#   --no-fit            keep --steps instead of fitting the schedule to the budget
#   --batch B --patch P --lr LR --seed S   (defaults 128, 128, 3e-4, 3)
#   --compile           torch.compile the network for training too (off by default: not measured on a
#                       GPU yet, and a step likely waits on the CPU's patch sampling more than on it)
#   --no-compile        do not time a torch.compile'd network in the throughput step
#   --size N --tiles T1,T2 --runs R        throughput plane side, tile sizes, runs (4096, default, 5)
#   --device D --threads N                 torch device (auto) and CPU threads for both steps
#   -- ...              everything after is passed to python -m restoration.diffusion.train_cli
set -euo pipefail

die() { echo "gpu_train.sh: $*" >&2; exit 2; }
abspath() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
[ $# -ge 1 ] && [ "${1#-}" = "$1" ] || die "usage: bash benchmarks/gpu_train.sh OUT [options] [-- trainer options]"
OUT="$(abspath "$1")"; shift
PHOTOS="$ROOT/train/photos/train"; DATA="skimage"; INIT="$ROOT/restoration/models/default.pt"
MAX_SECONDS=390; STEPS=20000; FIT=1; BATCH=128; PATCH=128; LR=3e-4; SEED=3; TRAIN_COMPILE=0
TP_COMPILE=1; SIZE=4096; TILES=""; RUNS=5; DEVICE=auto; THREADS=""; EXTRA=()
while [ $# -gt 0 ]; do
    case "$1" in
        --photos) PHOTOS="$(abspath "$2")"; shift ;;
        --data) DATA="$2"; shift ;;
        --init) if [ "$2" = none ]; then INIT=""; else INIT="$(abspath "$2")"; fi; shift ;;
        --max-seconds) MAX_SECONDS="$2"; shift ;;
        --steps) STEPS="$2"; shift ;;
        --no-fit) FIT=0 ;;
        --batch) BATCH="$2"; shift ;;
        --patch) PATCH="$2"; shift ;;
        --lr) LR="$2"; shift ;;
        --seed) SEED="$2"; shift ;;
        --compile) TRAIN_COMPILE=1 ;;
        --no-compile) TP_COMPILE=0 ;;
        --size) SIZE="$2"; shift ;;
        --tiles) TILES="$2"; shift ;;
        --runs) RUNS="$2"; shift ;;
        --device) DEVICE="$2"; shift ;;
        --threads) THREADS="$2"; shift ;;
        --) shift; EXTRA=("$@"); break ;;
        *) die "unknown option $1 (see the header of this script)" ;;
    esac
    shift
done

cd "$ROOT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
# One start-up for the check: prints the machine to stderr, 1 (CUDA) or 0 to stdout.
CUDA="$("$PY" -c "
import sys, torch, numpy, skimage, PIL, pluggy
cuda = torch.cuda.is_available()
print('torch', torch.__version__, '|', torch.cuda.get_device_name() if cuda else 'no CUDA: CPU', file=sys.stderr)
print(int(cuda))")" || die "$PY lacks one of torch, numpy, scikit-image, pillow, pluggy (set PYTHON)"
mkdir -p "$OUT"

SOURCES=("$DATA")
FIRST_PHOTO=""
[ -d "$PHOTOS" ] && FIRST_PHOTO="$(find "$PHOTOS" -maxdepth 1 -type f \( -iname '*.png' -o -iname '*.jpg' \
    -o -iname '*.jpeg' -o -iname '*.tif' -o -iname '*.tiff' \) -print -quit)"
if [ -n "$FIRST_PHOTO" ]; then
    SOURCES+=("$PHOTOS")
    echo "photographs: $PHOTOS"
else
    echo "NOTE: no photographs at $PHOTOS: training without them (make them where there is network with" \
         "'python data/debian_photos.py -o train/photos', then carry train/photos/train)"
fi

TRAIN=("$PY" -m restoration.diffusion.train_cli "${SOURCES[@]}" -o "$OUT/model.pt"
       --widths 32,64,128,256 --blocks 1,1,1,2 --steps "$STEPS" --batch "$BATCH" --patch "$PATCH" --lr "$LR" --seed "$SEED" --checkpoint-every 1000
       --max-seconds "$MAX_SECONDS" --device "$DEVICE")
[ -n "$INIT" ] && TRAIN+=(--init "$INIT")
[ "$FIT" = 1 ] && TRAIN+=(--fit-steps)
[ "$TRAIN_COMPILE" = 1 ] && TRAIN+=(--compile)
[ -n "$THREADS" ] && TRAIN+=(--threads "$THREADS")
TRAIN+=("${EXTRA[@]}")
echo "+ ${TRAIN[*]}"
"${TRAIN[@]}" 2>&1 | tee "$OUT/train.log"

THROUGHPUT=("$PY" benchmarks/gpu_throughput.py --model "$OUT/model.pt" --out "$OUT" --size "$SIZE" --runs "$RUNS"
            --device "$DEVICE")
[ -n "$TILES" ] && THROUGHPUT+=(--tiles "$TILES")
[ -n "$THREADS" ] && THROUGHPUT+=(--threads "$THREADS")
[ "$CUDA" = 1 ] && [ "$DEVICE" != cpu ] && [ "$TP_COMPILE" = 1 ] && THROUGHPUT+=(--compile)
echo "+ ${THROUGHPUT[*]}"
# The rows are saved as they come: a compilation cut off by the time limit keeps the eager ones.
rc=0; timeout 120 "${THROUGHPUT[@]}" || rc=$?
if [ "$rc" = 124 ]; then
    echo "NOTE: throughput cut off after 120 s; $OUT/throughput.json holds the rows done"
elif [ "$rc" != 0 ]; then
    die "throughput measurement failed (exit $rc); the model and its logs are in $OUT"
fi
"$PY" - "$OUT" <<'SUMMARY'
import json, sys
from pathlib import Path
from restoration.diffusion.checkpoint import load_model_file
out = Path(sys.argv[1])
prov = load_model_file(out / "model.pt")[2]
last = (out / "model.pt.log.csv").read_text().split()[-1].split(",")
best = json.loads((out / "throughput.json").read_text())["best"]
print(f"summary: {prov['steps']} of {prov['train_config']['steps']} steps in {prov['seconds']} s on {prov['device']}, "
      f"last logged loss {last[1]}; mmse {best['mpx_s']} Mpx/s ({best['kind']}, tile {best['tile']}); files in {out}")
SUMMARY
