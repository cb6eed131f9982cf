#!/usr/bin/env python3
"""torchvision's DataLoader on the same ImageFolder, same transforms as repro's loader:
PIL decode -> RandomResizedCrop(224) (bilinear, antialiased) -> RandomHorizontalFlip ->
PILToTensor (uint8, what repro's batches hold), batches of 64, shuffled, W worker processes.
Optionally first writes a copy with the shorter side at 256 (quality 95), the size repro stores.

    python bench/loader/peer.py ROOT WORKERS [--resize-to DIR]
Prints one JSON line.
"""
import json
import pathlib
import sys
import time

import torch
from PIL import Image
from torchvision import datasets, transforms as T

root, workers = sys.argv[1], int(sys.argv[2])
if len(sys.argv) > 4 and sys.argv[3] == "--resize-to":
    dst = pathlib.Path(sys.argv[4])
    for f in sorted(pathlib.Path(root).glob("train/*/*.JPEG")):
        o = dst / f.relative_to(root)
        if o.exists():
            continue
        o.parent.mkdir(parents=True, exist_ok=True)
        im = Image.open(f).convert("RGB")
        T.Resize(256, interpolation=T.InterpolationMode.BICUBIC)(im).save(o, quality=95)
    root = str(dst)
torch.set_num_threads(1)
tf = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.PILToTensor()])
ds = datasets.ImageFolder(pathlib.Path(root) / "train", transform=tf)
dl = torch.utils.data.DataLoader(ds, batch_size=64, shuffle=True, num_workers=workers,
                                 drop_last=True, persistent_workers=False)
t = time.perf_counter()
n = 0
for x, y in dl:
    n += x.shape[0]
secs = time.perf_counter() - t
print(json.dumps({"impl": "torchvision DataLoader (PIL)", "root": root, "workers": workers,
                  "images": n, "images_per_s": n / secs, "per_core": n / secs / workers}))
