#!/usr/bin/env python3
"""ImageNet-like JPEGs for the loader bench, from the offline Tux Paint stamp photos.

Each image is 400-500 x 300-400 px (ImageNet's typical size): one stamp enlarged as the
background, two or three more pasted on it, plus mild sensor-like noise so the JPEG (quality 90)
has a photo's entropy (~60-120 KB, like ImageNet's). Written as an ImageFolder:
OUT/train/c000/0000.JPEG ... with N images over 100 classes. Seeded: the same files every run.

    python bench/loader/make_jpegs.py OUT N
"""
import glob
import pathlib
import random
import sys

import numpy as np
from PIL import Image

out, n = pathlib.Path(sys.argv[1]), int(sys.argv[2])
stamps = sorted(glob.glob("/usr/share/tuxpaint/stamps/**/*.png", recursive=True))
if not stamps:
    sys.exit("no Tux Paint stamps: run scripts/setup-data.sh")
rng = random.Random(0)
nprng = np.random.default_rng(0)


def rgb(path):
    im = Image.open(path).convert("RGBA")
    bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
    return Image.alpha_composite(bg, im).convert("RGB")


for i in range(n):
    w, h = rng.randint(400, 500), rng.randint(300, 400)
    img = rgb(rng.choice(stamps)).resize((w, h), Image.BICUBIC)
    for _ in range(rng.randint(2, 3)):
        s = rgb(rng.choice(stamps))
        scale = rng.uniform(0.3, 0.7) * min(w / s.width, h / s.height)
        s = s.resize((max(1, int(s.width * scale)), max(1, int(s.height * scale))), Image.BICUBIC)
        img.paste(s, (rng.randint(0, max(0, w - s.width)), rng.randint(0, max(0, h - s.height))))
    arr = np.asarray(img, dtype=np.int16) + nprng.normal(0, 6, (h, w, 3)).astype(np.int16)
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    d = out / "train" / f"c{i % 100:03d}"
    d.mkdir(parents=True, exist_ok=True)
    img.save(d / f"{i:05d}.JPEG", quality=90)
