#!/usr/bin/env python3
"""Reference outputs of torchvision's evaluation transform for src/data/transform.rs's test.

The input is a synthetic 67x50 RGB image defined by a formula (the Rust test builds the same
one), so no input fixture is needed. For each interpolation, torchvision's
`Resize(36) -> CenterCrop(32)` on the PIL image is written as 32*32*3 raw HWC bytes to
tests/data/eval_transform_<interpolation>.bin.

Run with any Python that has torchvision and numpy (torch 2.11 / torchvision 0.26 were used):
    python3 scripts/eval-transform-reference.py
"""
import pathlib

import numpy as np
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import InterpolationMode

W, H = 67, 50


def synthetic():
    y, x = np.mgrid[0:H, 0:W]
    img = np.zeros((H, W, 3), dtype=np.uint8)
    for c in range(3):
        img[:, :, c] = (x * 3 + y * 2 + c * 40 + ((x * y) >> 3)) % 256
    return Image.fromarray(img, "RGB")


out = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data"
out.mkdir(parents=True, exist_ok=True)
for name, mode in [("bilinear", InterpolationMode.BILINEAR), ("bicubic", InterpolationMode.BICUBIC)]:
    t = T.Compose([T.Resize(36, interpolation=mode), T.CenterCrop(32)])
    arr = np.asarray(t(synthetic()), dtype=np.uint8)
    assert arr.shape == (32, 32, 3)
    (out / f"eval_transform_{name}.bin").write_bytes(arr.tobytes())
    print(name, arr.shape, arr[:2, :2, 0].tolist())
