"""sentence-transformers' encode of the same captions with the same model and threads as
`laion embed` (CPU, f32, batch sorted by length as both do). Prints captions/s, model loading
excluded.

    python peer_embed.py MODEL CAPTIONS N THREADS BATCH
"""
import sys
import time

import torch
from sentence_transformers import SentenceTransformer

model, captions, n, threads, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(threads)
with open(captions) as f:
    texts = [line.rstrip("\n") for _, line in zip(range(n), f)]
st = SentenceTransformer(model, device="cpu")
t0 = time.perf_counter()
with torch.inference_mode():
    v = st.encode(texts, batch_size=batch, convert_to_numpy=True)
secs = time.perf_counter() - t0
print(f"captions {len(texts)} dims {v.shape[1]} threads {threads} batch {batch} secs {secs:.2f} "
      f"captions_per_s {len(texts) / secs:.1f}")
