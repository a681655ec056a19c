#!/usr/bin/env bash
# The GPU check (issue 19), for a session lent a CUDA machine; under 8 minutes on one H200.
#
#   bash benchmarks/gpu_check.sh            # results in $OUT (default out/gpu_check)
#
# 1. what the machine has (GPU, torch, OpenCV, numpy);
# 2. the CUDA tests (tests_cuda/: RAFT fp32/fp16/bf16 against the CPU, the edge net and Canny,
#    the torch propagation/fusion stages, the image fills, the whole removal and the render
#    server on the device against the CPU);
# 3. seconds per frame and stage shares at 1080p and 2160p with RAFT (large, fp32 and bf16)
#    on the device, and with DIS for comparison (benchmarks/long_shots.py); and at 1080p on
#    the machine's CPUs alone with one frame thread and with the default.
# RAFT's weights are synthetic (tests/test_raft.py's official-format checkpoint) unless
# FLOWFILL_RAFT_WEIGHTS names raft-things.pth: the same arithmetic, hence the same time, but
# not the official flow, so the hole PSNR of the RAFT rows means nothing.
# Every step runs under its own time limit and the script goes on after a failure; it exits 1
# if any step failed. Where the Python lacks PyAV, kornia, pyamg or qdldl, the wheels in .whl/ are
# installed to a scratch folder first (without qdldl the direct solves are SuperLU's).
# GPU_CHECK_DEVICE (cuda), GPU_CHECK_SIZES (1920x1080,3840x2160), GPU_CHECK_FRAMES (6) and
# GPU_CHECK_TESTS (1) exist to try the script on a CPU. Never in CI.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-out/gpu_check}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
FRAMES=${GPU_CHECK_FRAMES:-6}
DEVICE=${GPU_CHECK_DEVICE:-cuda}
SIZES=${GPU_CHECK_SIZES:-1920x1080,3840x2160}
export FLOWFILL_TEST_DEVICE=$DEVICE
failed=()

step() {  # step NAME SECONDS COMMAND...: run under a limit, log to $OUT/NAME.log, note failure
    local name=$1 limit=$2
    shift 2
    echo "=== $name (limit ${limit}s)"
    local t0=$SECONDS
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$OUT/$name.log"
    local rc=${PIPESTATUS[0]}
    echo "=== $name: exit $rc after $((SECONDS - t0)) s"
    [ "$rc" -eq 0 ] || failed+=("$name($rc)")
}

if ! "$PY" -c "import av, kornia, pyamg, qdldl" 2>/dev/null && compgen -G ".whl/*.whl" >/dev/null; then
    site=$(mktemp -d /tmp/flowfill-site.XXXX)
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" \
        .whl/*.whl || failed+=("wheels")
    export PYTHONPATH="$PYTHONPATH:$site"
fi

step machine 60 "$PY" - <<'EOF'
import platform, shutil, subprocess
import cv2, numpy, torch
if shutil.which("nvidia-smi"):
    print(subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version",
                          "--format=csv,noheader"], capture_output=True, text=True).stdout.strip())
print(f"python {platform.python_version()}, torch {torch.__version__} (CUDA {torch.version.cuda},"
      f" cuDNN {torch.backends.cudnn.version()}), OpenCV {cv2.__version__}, numpy {numpy.__version__}")
print(f"cuda available: {torch.cuda.is_available()}; "
      f"{torch.cuda.get_device_name() if torch.cuda.is_available() else 'no device'}")
import flowfill, av, kornia  # everything the engine imports
print(f"flowfill {flowfill.__version__}, PyAV {av.__version__}, kornia {kornia.__version__}")
EOF

[ "${GPU_CHECK_TESTS:-1}" = 0 ] || step cuda_tests 120 "$PY" -m pytest tests_cuda -s -p no:cacheprovider -o addopts= -rfE \
    --durations=5 --junitxml "$OUT/cuda_tests.xml"

weights=${FLOWFILL_RAFT_WEIGHTS:-}
if [ -z "$weights" ]; then
    weights="$OUT/raft-synthetic.pth"
    "$PY" -c "import sys; sys.path.insert(0, 'tests'); from test_raft import save_weights; \
from pathlib import Path; save_weights(Path('$weights'), small=False)" || failed+=("weights")
fi
speed() {  # speed NAME SECONDS SIZES OPTIONS...
    local name=$1 limit=$2 sizes=$3
    shift 3
    step "$name" "$limit" "$PY" benchmarks/long_shots.py --lengths "" --long-1080 0 \
        --sizes "$sizes" --speed-frames "$FRAMES" --device "$DEVICE" --out "$OUT/$name.json" "$@"
}
speed speed_raft_fp32 160 "$SIZES" --set flow=raft --set "raft_weights=$weights"
speed speed_raft_bf16 160 "$SIZES" --set flow=raft --set "raft_weights=$weights" \
    --set flow_precision=bf16
speed speed_dis 60 "${SIZES%%,*}" --set flow=dis
# the same machine's CPUs, DIS at 1080p: frame threads one against the default (one per CPU,
# at most 4), the output the same bit for bit
for threads in 1 auto; do
    extra=(); [ "$threads" = auto ] || extra=(--set "frame_threads=$threads")
    step "speed_cpu_threads_$threads" 90 "$PY" benchmarks/long_shots.py --lengths "" \
        --long-1080 0 --sizes "${SIZES%%,*}" --speed-frames "$FRAMES" --device cpu \
        --out "$OUT/speed_cpu_threads_$threads.json" --set flow=dis "${extra[@]}"
done

rm -f "$OUT/raft-synthetic.pth"
if [ ${#failed[@]} -gt 0 ]; then
    echo "GPU CHECK FAILED: ${failed[*]}"
    exit 1
fi
echo "GPU CHECK PASSED"
