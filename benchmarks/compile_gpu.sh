#!/usr/bin/env bash
# torch.compile on a GPU, per algorithm: eager, compile (default mode) and compile-cudagraphs (mode="reduce-overhead",
# the update replayed as CUDA graphs), each variant in its own process (benchmarks/compile_probe.py, fp32).
# First every compiled variant is compiled once, all in parallel, to fill inductor's on-disk cache; then the
# variants are timed one after another (the timed processes still trace, but find their kernels compiled).
#
#     OUT=/tmp/compile-gpu bash benchmarks/compile_gpu.sh            # ALGOS="iql td3bc" to choose; DEADLINE in s
#
# Writes $OUT/log (the result lines) and $OUT/stderr.log (warnings: "skipping cudagraphs due to ..." and the like).
set -u
export PYTHONPATH="$PWD/src:$PWD/benchmarks" PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/compile-gpu}
ALGOS=${ALGOS:-"cql-continuous iql td3bc cql-discrete"}
DEADLINE=${DEADLINE:-420}   # seconds: no timed process starts after this
mkdir -p "$OUT"
WARM=$(mktemp -d)   # the compile pass's output, this run's only
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; python3 -c "import torch; print('torch', torch.__version__)"; } | tee "$OUT/log"
t0=$SECONDS
for a in $ALGOS; do
  for v in compile compile-cudagraphs; do
    timeout 300 python3 benchmarks/compile_probe.py "$a" "$v" --device cuda --updates 1 --blocks 1 \
      >"$WARM/$a-$v.txt" 2>&1 &
  done
done
wait
echo "compiled all variants in parallel: $((SECONDS - t0)) s" | tee -a "$OUT/log"
grep -h "warm-up" "$WARM"/*.txt | sed 's/^/  warm: /' | tee -a "$OUT/log"
for a in $ALGOS; do
  for v in eager compile compile-cudagraphs; do
    if [ "$SECONDS" -gt "$DEADLINE" ]; then echo "deadline: $a $v not timed" | tee -a "$OUT/log"; continue; fi
    echo "=== $a $v" >>"$OUT/stderr.log"
    TORCH_LOGS=perf_hints timeout 120 python3 benchmarks/compile_probe.py "$a" "$v" --device cuda --updates 200 \
      --blocks 3 2>>"$OUT/stderr.log" | tee -a "$OUT/log"
  done
done
echo "total $SECONDS s" | tee -a "$OUT/log"
