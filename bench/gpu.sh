#!/usr/bin/env bash
# The GPU checks of netc in one run, within 8 minutes, on a machine with an NVIDIA GPU that cannot download:
#   1. installs what it needs from files carried over in WHEELS (default .whl/): every wheel there, and
#      wheels split in parts (NAME.whl.part-aa, NAME.whl.part-ab, ... as `split -b 30M NAME.whl NAME.whl.part-`
#      makes them) joined first; then netc itself from this checkout; all into a private folder on PYTHONPATH,
#      ahead of the machine's own packages (onnxruntime-gpu shadows a CPU onnxruntime there);
#   2. runs the GPU-marked tests (pytest -m gpu: runtime IO binding, encoder-decoder, streaming on CUDA);
#   3. prints side-by-side figures (bench/gpu.py): ORT CUDA vs PyTorch cuDNN on blstm3 inference (valid
#      frames/s, ragged corpus), and the netc trainer on CUDA vs a hand-written cuDNN loop.
# Each stage has its own time limit; together they stay under 8 minutes (INSTALL_S + TESTS_S + BENCH_S).
# --dry-run needs no GPU: it joins and checks the wheels, prints the plan and runs nothing else.
# Usage: bench/gpu.sh [--dry-run] [--wheels DIR] [--python PYTHON]
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WHEELS="$REPO/.whl"
PYTHON="python3"
DRY_RUN=0
INSTALL_S=90 TESTS_S=150 BENCH_S=220  # 460 s < 8 min

usage() { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --wheels) WHEELS="${2:?--wheels needs a folder}"; shift ;;
    --python) PYTHON="${2:?--python needs a program}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "gpu.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

# Joins NAME.whl.part-* into NAME.whl in $2, in name order, and checks the result is a whole zip archive.
join_wheels() {
  local src="$1" dst="$2" part whole
  mkdir -p "$dst"
  for part in "$src"/*.whl.part-*; do
    [ -e "$part" ] || continue
    whole="$dst/$(basename "${part%.part-*}")"
    [ -e "$whole" ] && continue
    cat "${part%.part-*}".part-* > "$whole"  # a glob expands in name order: aa, ab, ...
    if ! "$PYTHON" -m zipfile -t "$whole" > /dev/null 2>&1; then
      echo "gpu.sh: $whole joined from $(ls "${part%.part-*}".part-* | wc -l) parts is not a whole wheel" \
           "(a part missing or cut short?)" >&2
      return 1
    fi
    echo "joined $(basename "$whole") from $(ls "${part%.part-*}".part-* | wc -l) parts"
  done
  for whole in "$src"/*.whl; do
    [ -e "$whole" ] && cp -n "$whole" "$dst/"
  done
  return 0
}

STAGE="$(mktemp -d "${TMPDIR:-/tmp}/netc-gpu.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT
SITE="$STAGE/site"
if [ -d "$WHEELS" ]; then
  join_wheels "$WHEELS" "$STAGE/wheels"
else
  echo "gpu.sh: no wheel folder $WHEELS: using the machine's own packages" >&2
  mkdir -p "$STAGE/wheels"
fi
WHEEL_LIST=$(ls "$STAGE"/wheels/*.whl 2>/dev/null || true)

cd "$REPO"
PLAN=(
  "timeout $INSTALL_S $PYTHON -m pip install -q --no-index --no-deps --no-build-isolation --target $SITE $(echo $WHEEL_LIST) $REPO"
  "PYTHONPATH=$SITE timeout $TESTS_S $PYTHON -m pytest -q -p no:cacheprovider -m gpu tests"
  "PYTHONPATH=$SITE timeout $BENCH_S $PYTHON bench/gpu.py --device cuda"
)
if [ "$DRY_RUN" = 1 ]; then
  echo "dry run: wheels ready: $(for w in $WHEEL_LIST; do basename "$w"; done | tr '\n' ' ')"
  printf 'would run: %s\n' "${PLAN[@]}"
  exit 0
fi

if ! command -v nvidia-smi > /dev/null || ! nvidia-smi -L; then
  echo "gpu.sh: no NVIDIA GPU here (nvidia-smi); use --dry-run to check the script" >&2
  exit 3
fi
start=$SECONDS
eval "${PLAN[0]}"
PYTHONPATH="$SITE" "$PYTHON" -c "import onnxruntime as ort; print('onnxruntime', ort.__version__, ort.get_available_providers())"
status=0
eval "${PLAN[1]}" || status=$?
echo "GPU tests: exit $status"
eval "${PLAN[2]}" || status=$?
echo "gpu.sh: done in $((SECONDS - start)) s, exit $status"
exit $status
