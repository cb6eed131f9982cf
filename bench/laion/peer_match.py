"""LAIONet's caption labelling (`label_laion.py`): for each caption, `for lemma in lemmas: if
lemma in text`, on the raw LAION-format parquet that repro's `select` reads, with the same
lemma set (lemmas.tsv, written by `laion lemmas`). Caption and lemmas are normalised as repro
normalises them (lowercase, non-alphanumerics to spaces) and space-padded, so a lemma matches a
whole word sequence, as in LAIONet's `transform_text` / `transform_lemma`.

    python peer_match.py RAW_DIR LEMMAS_TSV MAX_ROWS

One process, one thread (LAIONet parallelises with a process pool; compare per core). Prints
rows/s, single- and multi-class matches, and the peak RSS.
"""
import glob
import re
import resource
import sys
import time

import pyarrow.parquet as pq

NON_ALNUM = re.compile(r"[^0-9a-z]+")


def transform(text):
    return " " + " ".join(NON_ALNUM.sub(" ", text.lower()).split()) + " "


def main():
    raw_dir, lemmas_tsv, max_rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
    lem2cls = {}
    with open(lemmas_tsv) as f:
        next(f)
        for line in f:
            lemma, cls = line.rstrip("\n").split("\t")
            lem2cls[" " + lemma + " "] = int(cls)
    t0 = time.perf_counter()
    rows = single = multi = 0
    for path in sorted(glob.glob(raw_dir + "/*.parquet")):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=65536, columns=["TEXT"]):
            for text in batch.column(0).to_pylist():
                txt = transform(text or "")
                found = set()
                for lem, w in lem2cls.items():
                    if lem in txt:
                        found.add(w)
                single += len(found) == 1
                multi += len(found) > 1
                rows += 1
                if rows >= max_rows:
                    break
            if rows >= max_rows:
                break
        if rows >= max_rows:
            break
    secs = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"rows {rows} single_class {single} multi_class {multi} threads 1 secs {secs:.2f} "
          f"rows_per_s {rows / secs:.0f} peak_rss_mb {peak:.1f}")


if __name__ == "__main__":
    main()
