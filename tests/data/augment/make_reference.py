"""Reference outputs of torchvision's augmentation ops, for src/data/augment's unit tests.

Each op runs through torchvision.transforms.autoaugment._apply_op on a PIL image, the path
torchvision's reference training takes (presets with the PIL backend), nearest interpolation
and fill 0. The input image is a formula, rebuilt identically by the Rust test.

    /path/to/venv/bin/python tests/data/augment/make_reference.py > tests/data/augment/torchvision_ops.json
"""

import json

import numpy as np
import PIL
import torchvision
from PIL import Image
from torchvision.transforms import InterpolationMode
from torchvision.transforms.autoaugment import _apply_op

W, H = 20, 14


def fixture_image():
    a = np.zeros((H, W, 3), dtype=np.uint8)
    for y in range(H):
        for x in range(W):
            a[y, x] = ((x * 12 + y * 3) % 256, (y * 17 + x * 2) % 256, 40 + (x * y * 5) % 120)
    return Image.fromarray(a, "RGB")


CASES = [
    ("Identity", 0.0),
    ("ShearX", 0.3),
    ("ShearX", -0.99),
    ("ShearY", 0.5),
    ("TranslateX", 5.0),
    ("TranslateX", -3.7),
    ("TranslateY", 4.0),
    ("Rotate", 30.0),
    ("Rotate", -135.0),
    ("Brightness", 0.5),
    ("Brightness", -0.6),
    ("Color", 0.7),
    ("Color", -0.9),
    ("Contrast", 0.6),
    ("Contrast", -0.5),
    ("Sharpness", 0.9),
    ("Sharpness", -0.8),
    ("Posterize", 3.0),
    ("Solarize", 128.0),
    ("Solarize", 246.5),
    ("AutoContrast", 0.0),
    ("Equalize", 0.0),
    ("Invert", 0.0),
]

img = fixture_image()
out = {
    "torchvision": torchvision.__version__,
    "pillow": PIL.__version__,
    "width": W,
    "height": H,
    "cases": [],
}
for name, mag in CASES:
    res = _apply_op(img, name, mag, InterpolationMode.NEAREST, None)
    out["cases"].append({"op": name, "magnitude": mag, "pixels": np.asarray(res).reshape(-1).tolist()})
print(json.dumps(out, separators=(",", ":")))
