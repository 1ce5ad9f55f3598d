#!/usr/bin/env bash
# The GPU check of issue 14, in one run of at most ~8 minutes, for a session that has a machine with an
# NVIDIA GPU. Never run on this project's CPU machines (it stops at step 1 there). Prints:
#   1. what CTranslate2 (and torch, for SPEAKER_DEVICE=cuda) see: CUDA devices, compute types;
#   2. bench/batching.py on the real STT path on cuda float16: K concurrent sessions in one process on one
#      model copy, plain vs the micro-batcher; its last column is the STT-only real-time capacity;
#   3. bench/capacity.py through the whole service with the GPU worker layout (daphne + one live worker
#      -P threads --concurrency=$THREADS, STT_BATCH=1, WHISPER_NUM_WORKERS=$NUM_WORKERS, WHISPER_DEVICE=cuda,
#      SPEAKER_DEVICE=cuda when torch sees CUDA), SQLite, a private redis-server; then sessions per GPU = the
#      largest N whose every session met the targets (commit p95 <= 3 s, partial p50 <= 1.5 s, final lag <= 2 s).
#
# Needs on that machine: the repository with its Python environment (PYTHON, default .venv/bin/python, with
# requirements.txt installed: ctranslate2 4.x ships its CUDA kernels, and needs the CUDA 12 runtime, cuBLAS 12
# and cuDNN 9 libraries, docs/stt.md "GPU"), the bundled models (MODELS_DIR, default .models), the shared
# recordings (../shared/data or SHARED_DATA_DIR), and redis-server on PATH for step 3 (skipped without it).
#
#   bash bench/gpu_check.sh                     # THREADS=16 NUM_WORKERS=2 SESSIONS="8 16 32" by default (FINAL_PASS=0)
#   THREADS=32 SESSIONS="16 32 48" bash bench/gpu_check.sh
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
THREADS=${THREADS:-16}
NUM_WORKERS=${NUM_WORKERS:-2}
SESSIONS=${SESSIONS:-8 16 32}
OUT=${OUT:-$(mktemp -d /tmp/gpu-check.XXXXXX)}
mkdir -p "$OUT"
step() { echo; echo "=== $1 ($(date -u +%T))"; }

step "1. devices"
if command -v nvidia-smi >/dev/null; then nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv; else echo "nvidia-smi: not found"; fi
timeout 120 "$PY" - <<'EOF'
import sys
import ctranslate2
n = ctranslate2.get_cuda_device_count()
print(f"ctranslate2 {ctranslate2.__version__}: {n} CUDA device(s)")
if n:
    print("compute types on cuda:0:", sorted(ctranslate2.get_supported_compute_types("cuda", 0)))
try:
    import torch
    print(f"torch {torch.__version__}: cuda available {torch.cuda.is_available()}"
          + ("" if torch.cuda.is_available() else " (a CPU build: the speaker encoder stays on the CPU)"))
except Exception as exc:  # noqa: BLE001
    print("torch:", exc)
sys.exit(0 if n else 3)
EOF
rc=$?
if [ "$rc" -ne 0 ]; then echo "CTranslate2 sees no CUDA device (rc $rc): nothing to measure here"; exit 3; fi
SPEAKER=$("$PY" -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')" 2>/dev/null || echo cpu)

step "2. bench/batching.py on cuda float16 (real STT path, one process, one model copy)"
timeout 150 "$PY" -m bench.batching --device cuda --threads 4 --num-workers "$NUM_WORKERS" --window-ms 5 \
  --sessions 1 8 32 --seconds 30 2>&1 | tee "$OUT/batching.txt"

step "3. bench/capacity.py: daphne + live worker -P threads x$THREADS, STT_BATCH=1, cuda (speaker: $SPEAKER)"
if ! command -v redis-server >/dev/null; then
  echo "redis-server not found: step 3 skipped"; exit 0
fi
RPORT=$("$PY" -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
redis-server --port "$RPORT" --save "" --appendonly no --dir "$OUT" --daemonize yes --pidfile "$OUT/redis.pid" >/dev/null
trap 'kill "$(cat "$OUT/redis.pid" 2>/dev/null)" 2>/dev/null' EXIT
sleep 1
WHISPER_DEVICE=cuda WHISPER_COMPUTE_TYPE=float16 WHISPER_NUM_WORKERS=$NUM_WORKERS SPEAKER_DEVICE=$SPEAKER \
WHISPER_CPU_THREADS=4 STT_BATCH_WINDOW_MS=5 FINAL_PASS=${FINAL_PASS:-0} \
  timeout 300 "$PY" -m bench.capacity --sqlite --redis-port "$RPORT" --redis-db 0 --pool threads \
  --live-concurrency "$THREADS" --stt-batch --sessions $SESSIONS --seconds 40 --stagger 0.25 \
  --json "$OUT/capacity.json" 2>&1 | tee "$OUT/capacity.txt"

step "sessions per GPU"
"$PY" - "$OUT/capacity.json" <<'EOF'
import json, math, sys
try:
    results = json.load(open(sys.argv[1]))["results"]
except (OSError, ValueError, KeyError) as exc:
    sys.exit(f"no capacity results ({exc})")
ok = [r["n"] for r in results if r["admitted"] == r["n"]
      and r["worst_commit_p95"] <= 3.0 and r["partial_p50"] <= 1.5 and r["final_lag_max"] <= 2.0
      and not any(math.isnan(x) for x in (r["worst_commit_p95"], r["partial_p50"], r["final_lag_max"]))]
print(f"sessions per GPU within the targets (of those tried): {max(ok) if ok else 'none'}")
for r in results:
    print(f"  N={r['n']}: worst commit p95 {r['worst_commit_p95']:.2f} s, partial p50 {r['partial_p50']:.2f} s, "
          f"final lag max {r['final_lag_max']:.2f} s, CPU s/s {r['cpu_per_audio_s']:.3f}")
EOF
echo "outputs in $OUT"
