#!/usr/bin/env python3
"""Reference embeddings for tests/data_encoder.rs: all-mpnet-base-v2 through
sentence-transformers (and, independently, HF transformers' MPNetModel + mean pooling), on
the CPU in f32. Prints each sentence's first values, pairwise cosines, and MPNet's
relative-position buckets for the offsets src/encoder/relative_position.rs tests.

Not part of the product. Set-up (a private package folder; torch from the project venv):
  .deps/venv/bin/pip install --target .deps-local/py --no-deps transformers \
      sentence-transformers tokenizers huggingface-hub regex requests tqdm pyyaml filelock \
      packaging urllib3 idna certifi charset-normalizer typing-extensions fsspec \
      scikit-learn joblib threadpoolctl hf-xet
  PYTHONPATH=.deps-local/py .deps/venv/bin/python scripts/mpnet_reference.py
"""
import json
import sys

import torch
from sentence_transformers import SentenceTransformer
from transformers import AutoModel, AutoTokenizer

MODEL = sys.argv[1] if len(sys.argv) > 1 else ".deps/pypi/all-mpnet-base-v2/all-mpnet-base-v2"
SENTENCES = [
    "This is an example sentence",
    "Each sentence is converted",
    "pen which is a female swan",
    "a black ballpoint pen on a white desk",
    # Long enough (> 128 tokens) to exercise the far relative-position buckets.
    " ".join(["a photograph of a dog running on the beach near the water"] * 14),
]

torch.set_num_threads(2)
st = SentenceTransformer(MODEL, device="cpu")
emb = st.encode(SENTENCES, convert_to_tensor=True, normalize_embeddings=False).float()

# Independently: the bare transformer, mean pooling over the mask, L2 normalisation.
tok = AutoTokenizer.from_pretrained(MODEL)
model = AutoModel.from_pretrained(MODEL).eval()
with torch.no_grad():
    batch = tok(SENTENCES, padding=True, truncation=True, max_length=384, return_tensors="pt")
    hidden = model(**batch).last_hidden_state
    m = batch["attention_mask"].unsqueeze(-1).float()
    mean = (hidden * m).sum(1) / m.sum(1)
    manual = torch.nn.functional.normalize(mean, dim=1)
print("max |sentence-transformers - manual|:", (emb - manual).abs().max().item())

out = {"model": MODEL, "sentences": []}
for s, v, n in zip(SENTENCES, emb, batch["attention_mask"].sum(1)):
    out["sentences"].append({"text": s[:60], "tokens": int(n), "first": [round(x, 6) for x in v[:6].tolist()]})
cos = emb @ emb.T
out["cosine"] = [[round(x, 6) for x in row] for row in cos.tolist()]
enc = model.encoder
offsets = [0, 1, -1, 7, -8, 15, -16, 31, -32, 63, -64, 127, -128, 300, -300]
buckets = enc.relative_position_bucket(torch.tensor(offsets), num_buckets=32)
out["buckets"] = list(zip(offsets, buckets.tolist()))
for k, v in out.items():
    print(k, json.dumps(v))
