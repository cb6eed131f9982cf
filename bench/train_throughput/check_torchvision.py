"""Full-size check against torchvision itself: for each architecture repro's bench wrote at
`--scale full`, build torchvision's own model (weights=None), load repro's initial weights with
strict=True and compare eval-mode logits on repro's probe input. Run by check_torchvision.sh."""
import json
import sys

import torch
import torchvision
from safetensors.torch import load_file

out = sys.argv[1]
torch.set_num_threads(2)
ok = True
for name in sys.argv[2:]:
    kwargs = {"weights": None}
    if name == "inception_v3":
        kwargs.update(aux_logits=True, init_weights=False)
    model = getattr(torchvision.models, name)(**kwargs).eval()
    model.load_state_dict(load_file(f"{out}/{name}.init.safetensors"), strict=True)
    check = load_file(f"{out}/{name}.check.safetensors")
    with torch.no_grad():
        got = model(check["input"])
    diff = (got - check["logits"]).abs().max().item()
    same = diff <= 1e-3 * max(1.0, check["logits"].abs().max().item())
    ok &= same
    params = sum(p.numel() for p in model.parameters())
    print(f"{name:<20} torchvision params {params:>11,}  strict load ok  max|Δ logit| {diff:.1e}  {'same' if same else 'DIFFERENT'}")
sys.exit(0 if ok else 1)
