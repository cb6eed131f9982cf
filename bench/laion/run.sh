#!/usr/bin/env bash
# LAION-scale selection and build, four parts (bench/laion/README.md):
# 1. caption_pool laion-parquet at 200k and 2M rows: peak RSS must not grow with rows (dedup on
#    and off: the URL set is the one part that grows).
# 2. select's match pass, repro (streamed pool.parquet, aho-corasick, 1 and 2 threads) at 1 M /
#    10 M / 50 M rows of realistic captions (the mini pool's captions, Zipfian, one in 8 with a
#    class lemma, Zipfian over the 1,000 ImageNot classes' 1,866 match lemmas), side by side with
#    LAIONet's method in Python (`for lemma in lemmas: if lemma in text`, bench/laion/peer_match.py)
#    on the first PEER_ROWS of the same rows with the same lemma set.
# 3. imagenot_build at two sizes; 4. the encoder vs sentence-transformers (below).
# PART="2 3" runs parts 2 and 3 only.
# Each measurement runs in its own process (peak RSS = that process's VmHWM / ru_maxrss).
# Needs the mini profile's wordnet, imagenet_classes and mini_pool stages (run here if missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
sizes=${SIZES:-"1000000 10000000 50000000"}
peer_rows=${PEER_ROWS:-200000}
part=${PART:-"1 2 3 4"}
.deps/venv/bin/python -c "import pyarrow" 2>/dev/null || .deps/venv/bin/pip install -q pyarrow
# With torch, as scripts/setup.sh builds repro (part 2 runs the mini profile's first stages;
# part 4 embeds); the bench binary finds libtorch through LD_LIBRARY_PATH.
# shellcheck disable=SC1091
. .deps/libtorch.env
export LIBTORCH LD_LIBRARY_PATH="$LIBTORCH/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
cargo build --release --features torch --bench laion --bin repro >/dev/null 2>&1
bin=$(ls -t target/release/deps/laion-* | grep -v '\.d$' | head -1)
tmp=${TMPDIR:-/tmp}/repro-bench-laion; rm -rf "$tmp"; mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
if [[ " $part " == *" 1 "* ]]; then
  for n in 200000 2000000; do
    "$bin" gen "$tmp/in-$n" "$n"
    for d in dedup nodedup; do
      echo "import $n $d: $("$bin" import "$tmp/in-$n" "$tmp/out-$n-$d" 2 "$d")"
      rm -rf "$tmp/out-$n-$d"
    done
    rm -rf "$tmp/in-$n"
  done
fi
if [[ " $part " == *" 2 "* ]]; then
  repro=target/release/repro
  "$repro" run wordnet imagenet_classes mini_pool >/dev/null
  for s in wordnet imagenet_classes mini_pool; do "$repro" export "$s" "$tmp/$s" >/dev/null; done
  "$bin" lemmas "$tmp/wordnet/nouns.tsv" "$tmp/imagenet_classes/imagenet_classes.tsv" \
    data/imagenot_classes.txt "$tmp/mini_pool" "$tmp"
  first=1
  for n in $sizes; do
    "$bin" gen "$tmp/raw-$n" "$n" "$tmp/captions.txt" "$tmp/lemmas.tsv"
    echo "import $n: $("$bin" import "$tmp/raw-$n" "$tmp/pool-$n" 2 nodedup)"
    for t in 1 2; do
      echo "repro select $n: $("$bin" select "$tmp/pool-$n" "$tmp/wordnet/nouns.tsv" \
        "$tmp/imagenet_classes/imagenet_classes.tsv" data/imagenot_classes.txt "$t")"
    done
    if [[ -n $first ]]; then
      echo "LAIONet python $peer_rows: $(.deps/venv/bin/python bench/laion/peer_match.py \
        "$tmp/raw-$n" "$tmp/lemmas.tsv" "$peer_rows")"
      first=
    fi
    rm -rf "$tmp/raw-$n" "$tmp/pool-$n"
  done
fi
# 3. imagenot_build's pixel pass (fetch from img2dataset tars, decode, resize, stage, copy) at
#    two sizes of 320×240 JPEGs over 100 classes: peak RSS must not grow with the images.
if [[ " $part " == *" 3 "* ]]; then
  for n in ${BUILD_SIZES:-2000 20000}; do
    "$bin" build-gen "$tmp/b-$n" "$n" 100
    echo "build $n: $("$bin" build "$tmp/b-$n" "$tmp/b-$n/out" 2)"
    rm -rf "$tmp/b-$n"
  done
fi
# 4. The selection's encoder (all-mpnet-base-v2, CPU f32) vs sentence-transformers on the same
#    EMBED_N pool captions, same threads and batch. Needs sentence-transformers in the bench venv.
if [[ " $part " == *" 4 "* ]]; then
  .deps/venv/bin/python -c "import sentence_transformers" 2>/dev/null ||
    .deps/venv/bin/pip install -q sentence-transformers
  [[ -f $tmp/captions.txt ]] || {
    target/release/repro run mini_pool >/dev/null
    target/release/repro export mini_pool "$tmp/mini_pool" >/dev/null
    target/release/repro export wordnet "$tmp/wordnet" >/dev/null
    target/release/repro export imagenet_classes "$tmp/imagenet_classes" >/dev/null
    "$bin" lemmas "$tmp/wordnet/nouns.tsv" "$tmp/imagenet_classes/imagenet_classes.tsv" \
      data/imagenot_classes.txt "$tmp/mini_pool" "$tmp"
  }
  model=.deps/pypi/all-mpnet-base-v2/all-mpnet-base-v2
  for t in 1 2; do
    echo "repro embed t=$t: $("$bin" embed "$model" "$tmp/captions.txt" "${EMBED_N:-2000}" "$t" 64)"
    echo "sentence-transformers t=$t: $(.deps/venv/bin/python bench/laion/peer_embed.py \
      "$model" "$tmp/captions.txt" "${EMBED_N:-2000}" "$t" 64)"
  done
fi
