#!/usr/bin/env bash
# GPU check 2 (2026-12-04): the five tests that failed in check 1, the attributions bench, the figures the benches now add
# (ResNet-18 at the photo tasks' GPU batch, detections per image), the shipped sweep with 8 workers (fast, stacked).
set -u
T0=$(date +%s); DEADLINE=$((T0 + ${BUDGET:-300}))
OUT=${OUT:-/tmp/gpu-out}; mkdir -p "$OUT"; L=/tmp/gpu-logs; rm -rf $L; mkdir -p $L
# at most 8 files come back: every log goes into one archive at the end (also when a step fails)
trap 'cp $L/steps.txt $L/pytest.log $L/junit.xml "$OUT"/ 2>/dev/null; tar -czf "$OUT/logs.tgz" -C $L .' EXIT
cd "$(dirname "$(readlink -f "$0")")/.."
log() { echo "[$(( $(date +%s) - T0 ))s] $*" | tee -a "$L/steps.txt"; }
step() {  # name limit_s command...
  local name=$1 lim=$2; shift 2
  local l=$(( DEADLINE - $(date +%s) )); [ "$lim" -gt "$l" ] && lim=$l
  if [ "$lim" -lt 15 ]; then log "$name skipped: no time left"; return; fi
  local s; s=$(date +%s.%N)
  timeout -s INT -k 10 "$lim" "$@" > "$L/$name.log" 2>&1; local rc=$?
  log "$name rc=$rc wall=$(python3 -c "import time; print(f'{time.time() - $s:.1f}')")s (limit $lim)"
}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl \
  && export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
log "wheels installed"
export EXPLAINER_DEVICE=cuda EXPLAINER_TEST_DEVICE=cuda EXPLAINER_OFFLINE=1 PYTHONFAULTHANDLER=1 PYTHONUNBUFFERED=1
export OMP_NUM_THREADS=16 MKL_NUM_THREADS=16
{ nvidia-smi -L; nproc; free -g | head -2; python3 -c "import torch, torchvision, streamlit, captum, torchcam; print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'streamlit', streamlit.__version__, 'captum', captum.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0))"; } > "$L/env.txt" 2>&1
cat "$L/env.txt"
W=4; export OMP_NUM_THREADS=4 MKL_NUM_THREADS=4
step pytest 70 python3 -m pytest -p no:cacheprovider -v -rfE --tb=short -n $W --dist loadfile \
  --timeout 60 --timeout-method thread -o faulthandler_timeout=50 --junitxml="$L/junit.xml" \
  tests/test_transfer_runners.py tests/test_zoo.py tests/test_app_own_model.py
export OMP_NUM_THREADS=16 MKL_NUM_THREADS=16
step bench_attributions 35 python3 bench/bench_attributions.py --repeats 1 --json
step bench_transfer 30 python3 bench/bench_transfer.py --throughput-only --json
step bench_detection 40 python3 bench/bench_detection.py --json --repeats 3
step sweep_fast_w8 65 python3 bench/bench_sweep_runners.py --child --workers 8 --runner fast --out /tmp/sw8
tar -czf "$L/sweep_fast_w8.tgz" -C /tmp/sw8 . 2>/dev/null
step sweep_stacked_w8 60 python3 bench/bench_sweep_runners.py --child --workers 8 --runner stacked --out /tmp/sws
echo "== steps"; cat "$L/steps.txt"
echo "== failed or errored"; grep -E "^(FAILED|ERROR)" "$L/pytest.log" | cut -c1-200 | head -40
echo "== summary"; tail -3 "$L/pytest.log"; grep -B2 -A25 "^E   AssertionError" "$L/pytest.log" | grep -v DEBUG | head -60
for f in $L/bench_*.log $L/sweep_*.log; do echo "-- $f"; grep -E "^JSON|^\{|Error|images/s|target" "$f" | cut -c1-700 | head -8; done
