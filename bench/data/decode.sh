#!/usr/bin/env bash
# Image decoding during import, repro vs Python PIL, on the same files, side by side:
# decode each Tux Paint stamp PNG (real photos and drawings, 950 files) and fit it to 32×32 RGB
# on white, on 1 and 2 threads/processes. Results: bench/out/decode.jsonl and a table.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=bench/out && mkdir -p "$out"
list="$out/decode_files.txt"
find /usr/share/tuxpaint/stamps -name '*.png' | sort > "$list"
[[ -s "$list" ]] || { echo "no Tux Paint stamps: run scripts/setup-data.sh" >&2; exit 1; }
venv=.deps/bench-venv
[[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c 'import PIL' 2>/dev/null \
  || { python3 -m venv "$venv" && "$venv/bin/pip" install -q pillow; }
reps=${REPS:-3}
: > "$out/decode.jsonl"
REPRO_DECODE_FILES="$PWD/$list" REPRO_DECODE_REPS=$reps CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/target-data} \
  cargo test -q --release --test data_decode_bench -- --ignored --nocapture 2>/dev/null | grep '^{' >> "$out/decode.jsonl"
"$venv/bin/python" bench/data/decode_pil.py "$list" "$reps" >> "$out/decode.jsonl"
python3 - "$out/decode.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"{'implementation':28} {'threads':>7} {'files':>6} {'decoded':>7} {'images/s':>9}")
for r in rows:
    print(f"{r['impl']:28} {r['threads']:>7} {r['files']:>6} {r['decoded']:>7} {r['images_per_s']:>9.0f}")
PY
