"""Python-torch half of the training-throughput benchmark (see run.sh).

For each architecture repro's half wrote: build the same network (mini_models.py; at
`--scale full` torchvision's own model), load repro's initial weights with strict=True, check
eval-mode logits on repro's probe input agree, then time the same training step (forward,
cross-entropy with Inception's 0.4 aux loss, backward, SGD with momentum 0.9 and weight decay
5e-4) on one random batch of the same shape, with the same threads, channels-last and bf16
autocast when repro's half used them. Like repro's half it records the first and last loss,
whether everything stayed finite and the logits' dtype inside autocast.
"""
import json
import sys
import time

import torch
from safetensors.torch import load_file

import mini_models
import torchvision


def full_model(name):
    kwargs = {"weights": None}
    if name == "inception_v3":
        kwargs.update(aux_logits=True, init_weights=False)
    return getattr(torchvision.models, name)(**kwargs)


out = sys.argv[1]
meta = json.load(open(f"{out}/repro.json"))
names = sys.argv[2:] or list(meta["results"])
torch.set_num_threads(meta["threads"])
device = meta["device"]
for name in names:
    card = json.load(open(f"{out}/{name}.json"))
    full = meta["scale"] == "full"
    model = (full_model(name) if full else mini_models.build(card)).to(device)
    missing = model.load_state_dict(load_file(f"{out}/{name}.init.safetensors"), strict=True)
    model.eval()
    check = load_file(f"{out}/{name}.check.safetensors")
    with torch.no_grad():
        got = model(check["input"].to(device)).float().cpu()
    diff = (got - check["logits"]).abs().max().item()
    scale = check["logits"].abs().max().item() + 1e-6
    same = diff <= 1e-3 * max(1.0, scale)
    model.train()
    channels_last = meta.get("channels_last", device == "cuda")
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    b, s = meta["batch"], card["image_size"]
    xs = torch.randn(b, 3, s, s, device=device)
    if channels_last:
        xs = xs.contiguous(memory_format=torch.channels_last)
    loss_first = loss_last = float("nan")
    autocast_dtype = None
    ys = torch.randint(card["num_classes"], (b,), device=device)
    warmup, steps = meta.get("warmup", 2), meta["steps"]
    for i in range(warmup + steps):
        if i == warmup:
            if device == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=meta["bf16"]):
            out_ = model(xs)
            autocast_dtype = autocast_dtype or str((out_[0] if isinstance(out_, tuple) else out_).dtype)
            if isinstance(out_, tuple):
                loss = torch.nn.functional.cross_entropy(out_[0].float(), ys) + 0.4 * torch.nn.functional.cross_entropy(out_[1].float(), ys)
            else:
                loss = torch.nn.functional.cross_entropy(out_.float(), ys)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i == 0:
            loss_first = loss.item()
        if i == warmup + steps - 1:
            loss_last = loss.item()
    if device == "cuda":
        torch.cuda.synchronize()
    ips = steps * b / (time.perf_counter() - t0)
    params = sum(p.numel() for p in model.parameters())
    print(f"torch  {name:<20} {params:>10} params  {ips:>8.1f} img/s  same-network check: max|Δlogit| = {diff:.2e}", file=sys.stderr)
    finite = all(torch.isfinite(p).all().item() for p in model.parameters())
    finite = finite and loss_first == loss_first and loss_last == loss_last
    row = {"params": params, "images_per_s": ips, "max_logit_diff": diff, "same_network": same, "torch": torch.__version__,
           "loss_first": loss_first, "loss_last": loss_last, "finite": finite, "autocast_dtype": autocast_dtype}
    json.dump(row, open(f"{out}/torch-{name}.json", "w"))
