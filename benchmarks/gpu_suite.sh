#!/usr/bin/env bash
# The GPU path, proven (issue 13 sec. 3): one script, at most ~9 minutes on one H100/H200, figures as JSON.
#
#   benchmarks/gpu_suite.sh            # on a CUDA machine; results in $OUT (default ./gpu-results)
#   benchmarks/gpu_suite.sh --smoke    # the same steps, tiny, on CPU (CI: tests/test_gan_train_gpu_suite.py)
#
# Steps, each under its own time limit, the whole under a deadline (later steps are skipped, and say so,
# once it is reached):
#   1. device and versions
#   2. the `gpu`-marked tests (networks on CUDA in fp32 / fp16 against the official fixtures, metrics)
#   3. the training data: ISIC 2017 at 256 px (ingested from $DERMSYNTH_SHARED_DATA/isic2017-256), else
#      the procedural phantom (labelled as such in the JSON)
#   4. `dermsynth gan train --cfg auto --cond --batch 16` at 256 px for >= 1 tick in fp16, bf16 and fp32,
#      each without and with --compile: sec/kimg, peak GPU memory, losses finite, augment p
#   5. generation img/s (benchmarks/generate_speed.py)
#   6. FID time for 10k vs 10k (benchmarks/fid_speed.py)
# Everything lands in $OUT/gpu_suite.json (merged from $OUT/parts/*.json); logs in $OUT/*.log.
# Needs torch, numpy, safetensors, timm, scipy, typer, rich, pytest (PYTHONPATH=src, no install).
set -u
SMOKE=0
[ "${1:-}" = "--smoke" ] && SMOKE=1
OUT=${OUT:-gpu-results}
PY=${PYTHON:-python3}
mkdir -p "$OUT/parts"
rm -f "$OUT"/parts/*.json
export PYTHONPATH=${PYTHONPATH:-src} PYTHONUNBUFFERED=1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-suite.XXXXXX")
START=$(date +%s)
SCALE=${LIMIT_SCALE:-1}  # multiplies every step's time limit (a slow or loaded machine)
if [ $SMOKE = 1 ]; then
    DEADLINE=${DEADLINE:-1200}; SCALE=${LIMIT_SCALE:-4}; DEVICE=cpu; RES=32; CFG=tiny; BATCH=4; KIMG=0.024; TICK=0.008
    PRECISIONS="fp32 bf16"; COMPILE_MODES="off"
else
    DEADLINE=${DEADLINE:-530}; DEVICE=cuda; RES=256; CFG=auto; BATCH=16; KIMG=1.5; TICK=0.5
    PRECISIONS="fp16 bf16 fp32"; COMPILE_MODES="off on"
fi

# run NAME LIMIT CMD...: run CMD under `timeout LIMIT` (less if the deadline is nearer), log to
# $OUT/NAME.log, record {name, rc, seconds, skipped} in $OUT/parts/step-NAME.json.
run() {
    local name=$1 limit=$(($2 * SCALE)); shift 2
    local now left rc t0
    now=$(date +%s); left=$((DEADLINE - (now - START)))
    if [ "$left" -lt 10 ]; then
        echo "{\"name\": \"$name\", \"skipped\": \"suite deadline ${DEADLINE}s reached\"}" > "$OUT/parts/step-$name.json"
        echo "=== $name: skipped (deadline)"; return 0
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    echo "=== $name (limit ${limit}s)"
    t0=$(date +%s)
    timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
    rc=$?
    echo "{\"name\": \"$name\", \"rc\": $rc, \"seconds\": $(( $(date +%s) - t0 )), \"limit_s\": $limit, \"timed_out\": $([ $rc = 124 ] && echo true || echo false)}" > "$OUT/parts/step-$name.json"
    tail -n 3 "$OUT/$name.log"
}

# 1. Device
run device 60 "$PY" -c "
import json, platform, torch
d = {'torch': torch.__version__, 'cuda': torch.version.cuda, 'python': platform.python_version(),
     'gpu': torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
     'gpu_mem_gb': round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1) if torch.cuda.is_available() else None,
     'cpu': platform.processor() or platform.machine(), 'smoke': $SMOKE}
json.dump(d, open('$OUT/parts/device.json', 'w')); print(d)"

# 2. gpu-marked tests (skipped without CUDA; in smoke mode only this suite's own gpu tests are collected)
if [ $SMOKE = 1 ]; then TESTS="tests/test_gan_train_gpu.py"; else TESTS="tests"; fi
run gpu_tests 150 "$PY" -m pytest -q -m gpu -p no:cacheprovider --junitxml="$OUT/gpu_tests.xml" $TESTS

# 3. Training data
DATA=$WORK/data
SHARED=${DERMSYNTH_SHARED_DATA:-../shared/data}
if [ $SMOKE = 0 ] && [ -d "$SHARED/isic2017-256/images" ]; then
    run data 120 "$PY" -m dermsynth.cli.main data ingest "$SHARED/isic2017-256" --out "$DATA" --size $RES --workers "$(nproc)"
    echo "{\"data\": \"isic2017-256 ($SHARED)\"}" > "$OUT/parts/data.json"
else
    N=$([ $SMOKE = 1 ] && echo 16 || echo 2000)
    run data 120 "$PY" -c "
from dermsynth.data.phantom import make_phantom_dataset
make_phantom_dataset('$DATA', n=$N, size=$RES, seed=0, workers=$( [ $SMOKE = 1 ] && echo 1 || nproc ))"
    echo "{\"data\": \"phantom (no isic2017-256 under $SHARED)\", \"images\": $N}" > "$OUT/parts/data.json"
fi

# 4. Training: one run per precision and compile mode
for prec in $PRECISIONS; do
    for comp in $COMPILE_MODES; do
        name=train_${prec}_compile_${comp}
        flags=""; [ "$comp" = on ] && flags="--compile"
        limit=$([ "$comp" = on ] && echo 130 || echo 70)
        run "$name" "$limit" "$PY" -m dermsynth.cli.main gan train --data "$DATA" --out "$WORK/runs/$name" \
            --cfg $CFG --cond --batch $BATCH --kimg $KIMG --tick $TICK --snap 1000 --precision "$prec" \
            --device $DEVICE $flags
        cp "$WORK"/runs/"$name"/*/stats.jsonl "$OUT/$name.stats.jsonl" 2>/dev/null
    done
done

# 5. Generation speed
if [ $SMOKE = 1 ]; then
    run generate 60 "$PY" benchmarks/generate_speed.py --res $RES --cfg $CFG --batches "" --cpu-batches 4 --min-time 0.2
else
    run generate 60 "$PY" benchmarks/generate_speed.py --batches 16,64 --cpu-batches "" --min-time 1.0
fi

# 6. FID time, 10k vs 10k (smoke: 64 vs 64, extrapolated and labelled by the script)
if [ $SMOKE = 1 ]; then
    run fid 90 "$PY" benchmarks/fid_speed.py --device cpu --num 64 --res $RES --extractors effnet-lite
else
    run fid 90 "$PY" benchmarks/fid_speed.py --device cuda --num 10000 --extractors effnet-lite
fi

# Merge
"$PY" - "$OUT" "$SMOKE" "$START" <<'EOF'
import json, math, sys, time, xml.etree.ElementTree as ET
from pathlib import Path

out, smoke, start = Path(sys.argv[1]), sys.argv[2] == "1", int(sys.argv[3])
parts = {p.stem: json.loads(p.read_text()) for p in sorted((out / "parts").glob("*.json"))}
steps = {k[5:]: v for k, v in parts.items() if k.startswith("step-")}

def last_json(name):
    log = out / f"{name}.log"
    for line in reversed(log.read_text().splitlines() if log.exists() else []):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                pass
    return None

def tests():
    xml = out / "gpu_tests.xml"
    if not xml.exists():
        return None
    s = ET.parse(xml).getroot()
    s = s if s.tag == "testsuite" else s.find("testsuite")
    return {k: int(s.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}

def training(name):
    path = out / f"{name}.stats.jsonl"
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []
    if not rows:
        return {"ticks": 0}
    later = rows[1:]  # tick 0 closes after the first step (it holds start-up and compilation)
    losses = [r.get(k) for r in rows for k in ("Loss/G/loss", "Loss/D/loss") if k in r]
    mem = [r.get("Resources/peak_gpu_mem_gb") for r in rows if r.get("Resources/peak_gpu_mem_gb") is not None]
    span = rows[-1]["kimg"] - rows[0]["kimg"]
    return {
        "ticks": len(later),
        "kimg": rows[-1].get("kimg"),
        "sec_per_kimg": round(sum(r["sec_per_tick"] for r in later) / span, 3) if later and span > 0 else None,
        "tick0_s": round(rows[0]["sec_per_tick"], 3),
        "sec_per_kimg_ticks": [round(r["sec_per_kimg"], 3) for r in later],
        "peak_gpu_mem_gb": round(max(mem), 3) if mem else None,
        "peak_rss_gb": rows[-1].get("Resources/peak_rss_gb"),
        "losses_finite": bool(losses) and all(v is not None and math.isfinite(v) for v in losses),
        "augment_p": [r.get("augment_p") for r in rows],
        "p_moved": any((r.get("augment_p") or 0) > 0 for r in rows),
    }

result = {
    "suite": "benchmarks/gpu_suite.sh", "smoke": smoke, "total_s": int(time.time()) - start,
    "device": parts.get("device"), "data": parts.get("data"), "gpu_tests": tests(),
    "train": {k: {**training(k), "step": v} for k, v in steps.items() if k.startswith("train_")},
    "generate": last_json("generate"), "fid": last_json("fid"), "steps": steps,
    "goal": "auto 256 px batch 16 on one H100/H200: <= 6 sec/kimg",
}
(out / "gpu_suite.json").write_text(json.dumps(result, indent=1))
print(json.dumps({k: result[k] for k in ("smoke", "total_s", "gpu_tests")}))
print({k: (v.get("sec_per_kimg"), v.get("losses_finite"), v.get("peak_gpu_mem_gb")) for k, v in result["train"].items()})
EOF
rm -rf "$WORK"
