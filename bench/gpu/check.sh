#!/usr/bin/env bash
# One prepared call on a lent GPU machine. Here: `EXTRA="torchcam pydeck" bash ../shared/tools/gpu_prepare.sh` and
# `cp bench/gpu/check.sh .gpu/`; then run(command="bash .gpu/check.sh trace", carry=[".gpu"], timeout_s=600).
# Plans: `first` (check 1 of 2026-12-04, about 470 s: the issue's four figures on an idle GPU, then the suite on CUDA,
# then extras) and `recheck` (check 2, about 160 s with BUDGET=300: the tests check 1 failed, the benches' new figures,
# the shipped sweep with 8 workers) and `next` (check 3, about 500 s: the whole suite on CUDA again, with the
# twelve-run test's GPU rule changed from check 2's list; the shipped sweep with 12 and 16 workers, fast and stacked,
# towards #30's 30 s; the detection and transfer benches; cProfile of a small sweep and of the detection bench; run as check 3) and
# `paste` (check 4, about 330 s: a bytecode cache, the batched mask paste's tests and bench on CUDA, the shipped sweep
# with 8 and 4 workers) and `paste2` (check 5, about 110 s: the detection bench with the batched paste in its
# random-weight R-CNNs too, which check 4's lacked; the paste's tests on CUDA) and `trace` (not yet run, about 510 s:
# the whole suite on CUDA again (tests changed after check 3), the detection bench with its side-by-side paste timing,
# bench/gpu/trace_sweep.py: torch.profiler's GPU-side view of a small sweep; the shipped sweep with 8 workers in the sweep's
# order and longest path first, about 90 s more). Each step has a limit; the whole ends by BUDGET seconds;
# logs come back in $OUT/logs.tgz (at most 8 files come back).
set -u
PLAN=${1:-trace}; case $PLAN in recheck) budget=300 ;; paste) budget=380 ;; paste2) budget=120 ;; trace) budget=570 ;; *) budget=560 ;; esac
T0=$(date +%s); DEADLINE=$((T0 + ${BUDGET:-$budget}))
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
plan_first() {
  step bench_features 60 python3 bench/bench_features.py --json
  step bench_detection 75 python3 bench/bench_detection.py --json --repeats 3
  step bench_transfer 100 python3 bench/bench_transfer.py --skip-sweep --json
  step sweep_inprocess 120 python3 bench/bench_sweep_runners.py --child --runner fast --out /tmp/sw1
  tar -czf "$L/sweep_inprocess.tgz" -C /tmp/sw1 . 2>/dev/null
  W=8; export OMP_NUM_THREADS=2 MKL_NUM_THREADS=2
  SUITE=$(( DEADLINE - $(date +%s) - 20 )); [ "$SUITE" -gt 300 ] && SUITE=300
  step pytest "$SUITE" python3 -m pytest -p no:cacheprovider -v -rfE --tb=short -n $W --dist load \
    --timeout 150 --timeout-method thread -o faulthandler_timeout=60 --durations 25 --junitxml="$L/junit.xml" \
    --ignore=tests/test_browser.py --ignore=tests/test_concurrency.py --ignore=tests/test_scale_out.py tests
  export OMP_NUM_THREADS=16 MKL_NUM_THREADS=16
  step sweep_workers4 90 python3 bench/bench_sweep_runners.py --child --workers 4 --runner fast --out /tmp/sw2
  step bench_training 45 python3 bench/bench_training.py --steps 100 --loop-epochs 1 --json
  step bench_attributions 45 python3 bench/bench_attributions.py --repeats 1 --json
}
plan_recheck() {
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
}
plan_next() {
  W=8; export OMP_NUM_THREADS=2 MKL_NUM_THREADS=2
  step pytest 240 python3 -m pytest -p no:cacheprovider -v -rfE --tb=short -n $W --dist load \
    --timeout 150 --timeout-method thread -o faulthandler_timeout=60 --durations 25 --junitxml="$L/junit.xml" \
    --ignore=tests/test_browser.py --ignore=tests/test_concurrency.py --ignore=tests/test_scale_out.py tests
  export OMP_NUM_THREADS=16 MKL_NUM_THREADS=16
  step sweep_fast_w12 60 python3 bench/bench_sweep_runners.py --child --workers 12 --runner fast --out /tmp/sw12
  step sweep_stacked_w16 60 python3 bench/bench_sweep_runners.py --child --workers 16 --runner stacked --out /tmp/sws16
  step bench_detection 40 python3 bench/bench_detection.py --json --repeats 3
  step bench_transfer 30 python3 bench/bench_transfer.py --throughput-only --json
  # where the time goes: a small sweep in one process, and the detection bench, under cProfile (top 35 by own time)
  step profile_sweep 45 python3 -m cProfile -o $L/sweep.prof -m models.transfer --sizes 1,20 --seeds 1 --out /tmp/swp
  step profile_detection 45 python3 -m cProfile -o $L/detection.prof bench/bench_detection.py --repeats 1
  for f in sweep detection; do [ -f $L/$f.prof ] && python3 -c "import pstats, sys; pstats.Stats(sys.argv[1]).sort_stats('tottime').print_stats(35)" $L/$f.prof > $L/profile_$f.txt 2>&1; done
}
plan_paste() {
  # check 3's profile: each process compiled torch's modules from source (no bytecode cache on this image, 5-6 s a
  # process); keep compiled modules under /tmp so that every process after the first reads them
  log "PYTHONDONTWRITEBYTECODE=${PYTHONDONTWRITEBYTECODE:-unset}"; unset PYTHONDONTWRITEBYTECODE
  export PYTHONPYCACHEPREFIX=/tmp/pyc
  step bytecode 60 python3 -c "import torch, torchvision, torch._dynamo, streamlit, captum, plotly, sklearn, pycocotools, models.transfer.__main__, models.detectors, bench.bench_detection"
  W=4; export OMP_NUM_THREADS=4 MKL_NUM_THREADS=4
  step pytest 70 python3 -m pytest -p no:cacheprovider -v -rfE --tb=short -n $W --dist loadfile \
    --timeout 60 --timeout-method thread -o faulthandler_timeout=50 --junitxml="$L/junit.xml" \
    tests/test_mask_paste.py tests/test_detection.py tests/test_app_detection.py
  export OMP_NUM_THREADS=16 MKL_NUM_THREADS=16
  step bench_detection 45 python3 bench/bench_detection.py --json --repeats 3
  step sweep_fast_w8 55 python3 bench/bench_sweep_runners.py --child --workers 8 --runner fast --out /tmp/sw8
  step sweep_stacked_w8 55 python3 bench/bench_sweep_runners.py --child --workers 8 --runner stacked --out /tmp/sws8
  step sweep_stacked_w4 70 python3 bench/bench_sweep_runners.py --child --workers 4 --runner stacked --out /tmp/sws4
  tar -czf "$L/sweep_stacked_w8.tgz" -C /tmp/sws8 . 2>/dev/null
}
plan_paste2() {
  unset PYTHONDONTWRITEBYTECODE; export PYTHONPYCACHEPREFIX=/tmp/pyc
  step bench_detection 60 python3 bench/bench_detection.py --json --repeats 3
  W=2; export OMP_NUM_THREADS=8 MKL_NUM_THREADS=8
  step pytest 45 python3 -m pytest -p no:cacheprovider -v -rfE --tb=short -n $W --timeout 40 --timeout-method thread \
    --junitxml="$L/junit.xml" tests/test_mask_paste.py
}
plan_trace() {
  unset PYTHONDONTWRITEBYTECODE; export PYTHONPYCACHEPREFIX=/tmp/pyc
  step bytecode 60 python3 -c "import torch, torchvision, torch._dynamo, streamlit, captum, plotly, sklearn, pycocotools, models.transfer.__main__, models.detectors, bench.bench_detection"
  W=8; export OMP_NUM_THREADS=2 MKL_NUM_THREADS=2
  step pytest 200 python3 -m pytest -p no:cacheprovider -v -rfE --tb=short -n $W --dist load \
    --timeout 150 --timeout-method thread -o faulthandler_timeout=60 --durations 25 --junitxml="$L/junit.xml" \
    --ignore=tests/test_browser.py --ignore=tests/test_concurrency.py --ignore=tests/test_scale_out.py tests
  export OMP_NUM_THREADS=16 MKL_NUM_THREADS=16
  step bench_detection 60 python3 bench/bench_detection.py --json --repeats 3
  step trace_sweep 100 python3 bench/gpu/trace_sweep.py
  # the shipped sweep's runs side by side longest path first and in the sweep's order (models/transfer/schedule.py);
  # longest first, so that any warming of caches by the first run favours the sweep's order
  step sweep_order_longest 60 python3 bench/bench_sweep_runners.py --child --workers 8 --runner stacked --order longest --out /tmp/ssl
  step sweep_order_sweep 60 python3 bench/bench_sweep_runners.py --child --workers 8 --runner stacked --order sweep --out /tmp/sso
  tar -czf "$L/sweep_order_sweep.tgz" -C /tmp/sso . 2>/dev/null  # its runs, to compare with the shipped sweep here
}
case "$PLAN" in
  first) plan_first ;; recheck) plan_recheck ;; next) plan_next ;; paste) plan_paste ;; paste2) plan_paste2 ;;
  trace) plan_trace ;;
  *) echo "unknown plan $PLAN (first, recheck, next, paste, paste2, trace)"; exit 2 ;;
esac
echo "== steps"; cat "$L/steps.txt"
echo "== failed or errored"; grep -E "^(FAILED|ERROR)" "$L/pytest.log" | cut -c1-200 | head -40
echo "== summary"; tail -3 "$L/pytest.log"; grep -B2 -A25 "^E   AssertionError" "$L/pytest.log" | grep -v DEBUG | head -60
for f in $L/trace_sweep.log; do [ -f "$f" ] && { echo "-- $f"; tail -48 "$f" | cut -c1-200; }; done
for f in $L/profile_*.txt; do echo "-- $f"; grep -E "function calls|tottime|^ +[0-9]" "$f" | head -22 | cut -c1-160; done
for f in $L/bench_*.log $L/sweep_*.log; do echo "-- $f"; grep -E "^JSON|^\{|Error|images/s|target" "$f" | cut -c1-700 | head -8; done
