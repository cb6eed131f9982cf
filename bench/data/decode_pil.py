"""Decode + resize to 32x32 RGB with PIL, the same work repro's importer does per image."""
import json, sys, time
from concurrent.futures import ProcessPoolExecutor
from PIL import Image

def fit(path):
    with Image.open(path) as im:
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        rgb = Image.alpha_composite(bg, im).convert("RGB")
        return rgb.resize((32, 32), Image.BILINEAR).tobytes()

def run(files):
    return sum(1 for f in files if len(fit(f)) == 3072)

files = open(sys.argv[1]).read().split("\n")
files = [f for f in files if f]
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
run(files)  # warm the page cache
for workers in (1, 2):
    t = time.time()
    ok = 0
    for _ in range(reps):
        if workers == 1:
            ok = run(files)
        else:
            chunks = [files[i::workers] for i in range(workers)]
            with ProcessPoolExecutor(workers) as ex:
                ok = sum(ex.map(run, chunks))
    secs = time.time() - t
    print(json.dumps({"impl": "Python PIL " + Image.__version__, "threads": workers, "files": len(files),
                      "decoded": ok, "images_per_s": len(files) * reps / secs}))
