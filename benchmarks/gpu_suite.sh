#!/usr/bin/env bash
# One short GPU session: every speed benchmark that has a CUDA figure, each under its own time limit,
# results in $OUT (or ./gpu-results). Needs only torch, numpy, safetensors, timm, pandas, scikit-learn,
# opencv, typer and rich on the GPU machine (PYTHONPATH=src, no install).
set -u
OUT=${OUT:-gpu-results}; mkdir -p "$OUT"
export PYTHONPATH=src PYTHONUNBUFFERED=1
log() { echo "=== $*" | tee -a "$OUT/suite.log"; }
run() { local name=$1 limit=$2; shift 2; log "$name"; timeout "$limit" "$@" 2>&1 | tail -n 40 | tee "$OUT/$name.txt" | tail -n 6; }
nvidia-smi -L | tee "$OUT/device.txt"; python3 -c "import torch; print('torch', torch.__version__)" | tee -a "$OUT/device.txt"
run gan_step_mixed 45 python3 benchmarks/gan_step.py --device cuda --res 256 --batch 16 --cfg auto --iters 10 --warmup 3
run gan_step_fp32 45 python3 benchmarks/gan_step.py --device cuda --res 256 --batch 16 --cfg auto --iters 10 --warmup 3 --fp32
log phantom256; timeout 40 python3 -c "
from dermsynth.data.phantom import make_phantom_dataset
make_phantom_dataset('/tmp/ph256', n=1024, size=256, seed=0, workers=12)" 2>&1 | tail -3
run train_auto256 120 python3 -c "
from dermsynth.cli.gan import app
app(['train', '--data', '/tmp/ph256', '--out', '/tmp/runs', '--cfg', 'auto', '--cond', '--mirror', '--batch', '16',
     '--kimg', '6', '--tick', '1', '--snap', '100', '--device', 'cuda'], standalone_mode=False)"
cp /tmp/runs/*/stats.jsonl "$OUT/train_stats.jsonl" 2>/dev/null
run fid_speed 60 python3 benchmarks/fid_speed.py --device cuda --num 10000 --extractors effnet-lite
run classify_speed 45 python3 benchmarks/classify_speed.py --device cuda
run generate_speed 40 python3 benchmarks/generate_speed.py --batches 16,64 --cpu-batches '' --min-time 1.0
log done
