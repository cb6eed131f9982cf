#!/usr/bin/env python3
"""Write tests/data/devkit/meta.mat: a small stand-in for the ImageNet devkit's
ILSVRC2012_devkit_t12/data/meta.mat (a struct array `synsets` with fields ILSVRC2012_ID,
WNID, words, gloss, num_children, children, wordnet_height, num_train_images), written by
scipy.io.savemat with compression, as MATLAB writes v7 files.

Three leaf classes (IDs 1..3, as the ground-truth file numbers them; deliberately not in wnid
order, as the real file is not) and one internal node (ID 4, with children), so the reader
sees scalars, strings, empty arrays and a row vector.

    .deps/venv/bin/python scripts/devkit-meta-fixture.py
"""
import numpy as np
import scipy.io

FIELDS = ["ILSVRC2012_ID", "WNID", "words", "gloss", "num_children", "children",
          "wordnet_height", "num_train_images"]
ROWS = [
    (1, "n02119789", "kit fox, Vulpes macrotis", "small grey fox", 0, [], 0, 1300),
    (2, "n01440764", "tench, Tinca tinca", "freshwater fish", 0, [], 0, 1300),
    (3, "n02085620", "Chihuahua", "an old breed of tiny short-haired dog", 0, [], 0, 1152),
    (4, "n02084071", "dog, domestic dog", "a member of the genus Canis", 1, [3], 1, 0),
]

synsets = np.zeros((len(ROWS), 1), dtype=[(f, "O") for f in FIELDS])
for i, (sid, wnid, words, gloss, nc, children, height, n) in enumerate(ROWS):
    synsets[i, 0] = (
        np.array([[sid]], dtype=np.float64),
        wnid,
        words,
        gloss,
        np.array([[nc]], dtype=np.float64),
        np.array([children], dtype=np.float64) if children else np.zeros((0, 0)),
        np.array([[height]], dtype=np.float64),
        np.array([[n]], dtype=np.float64),
    )
scipy.io.savemat("tests/data/devkit/meta.mat", {"synsets": synsets}, do_compression=True)
