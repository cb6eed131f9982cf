"""The nine architectures as repro builds them (src/ml/models/*.rs), in PyTorch.

Built from torchvision's own classes wherever they take the needed configuration (ViT, ConvNeXt,
MobileNet V3, EfficientNet V2, DenseNet, VGG, ResNet's Bottleneck), with the same small-input
stem changes repro makes under 64 px. Parameter names equal repro's, so the benchmark loads
repro's initial weights with strict=True and checks that both give the same logits before it
times anything: the two sides run the same network.
"""
import math
from functools import partial

import torch
import torch.nn as nn
from torchvision.models import convnext, densenet, efficientnet, mobilenetv3, resnet, vision_transformer
from torchvision.models.inception import BasicConv2d


def rnd(x):  # Rust's f64::round (half away from zero) for positive x
    return int(math.floor(x + 0.5))


def ch(c, w):
    if w == 1.0:
        return c
    v = c * w
    step = 4 if v < 32 else 8
    return max(rnd(v / step) * step, 8)


def blocks(n, d):
    return max(1, rnd(n * d))


def make_div(v, d=8):
    new = max(d, int(v + d / 2) // d * d)
    return new + d if new < 0.9 * v else new


def alexnet(nc, size, w, d, patch):
    small = size < 64
    c = lambda n: ch(n, w)
    k0, s0, p0 = (3, 2, 1) if small else (11, 4, 2)
    m = nn.Module()
    m.features = nn.Sequential(
        nn.Conv2d(3, c(64), k0, s0, p0), nn.ReLU(True), nn.MaxPool2d(3, 2),
        nn.Conv2d(c(64), c(192), 5, padding=2), nn.ReLU(True), nn.MaxPool2d(3, 2),
        nn.Conv2d(c(192), c(384), 3, padding=1), nn.ReLU(True),
        nn.Conv2d(c(384), c(256), 3, padding=1), nn.ReLU(True),
        nn.Conv2d(c(256), c(256), 3, padding=1), nn.ReLU(True), nn.MaxPool2d(3, 2))
    pool = 1 if small else 6
    h = c(4096)
    m.avgpool = nn.AdaptiveAvgPool2d(pool)
    m.classifier = nn.Sequential(nn.Dropout(0.5), nn.Linear(c(256) * pool * pool, h), nn.ReLU(True),
                                 nn.Dropout(0.5), nn.Linear(h, h), nn.ReLU(True), nn.Linear(h, nc))
    m.forward = lambda x: m.classifier(torch.flatten(m.avgpool(m.features(x)), 1))
    return m


def vgg19(nc, size, w, d, patch):
    layers, cin = [], 3
    for c, n in [(64, 2), (128, 2), (256, 4), (512, 4), (512, 4)]:
        for _ in range(blocks(n, d)):
            layers += [nn.Conv2d(cin, ch(c, w), 3, padding=1), nn.ReLU(True)]
            cin = ch(c, w)
        layers.append(nn.MaxPool2d(2, 2))
    pool = 1 if size < 64 else 7
    h = ch(4096, w)
    m = nn.Module()
    m.features = nn.Sequential(*layers)
    m.avgpool = nn.AdaptiveAvgPool2d(pool)
    m.classifier = nn.Sequential(nn.Linear(cin * pool * pool, h), nn.ReLU(True), nn.Dropout(),
                                 nn.Linear(h, h), nn.ReLU(True), nn.Dropout(), nn.Linear(h, nc))
    m.forward = lambda x: m.classifier(torch.flatten(m.avgpool(m.features(x)), 1))
    return m


def resnet152(nc, size, w, d, patch):
    small = size < 64
    m = nn.Module()
    stem = ch(64, w)
    m.conv1 = nn.Conv2d(3, stem, 3, 2, 1, bias=False) if small else nn.Conv2d(3, stem, 7, 2, 3, bias=False)
    m.bn1 = nn.BatchNorm2d(stem)
    cin = stem
    for i, n in enumerate([3, 8, 36, 3]):
        planes = ch(64 << i, w)
        layer = []
        for j in range(blocks(n, d)):
            stride = 2 if (j == 0 and i > 0) else 1
            down = None
            if stride != 1 or cin != planes * 4:
                down = nn.Sequential(nn.Conv2d(cin, planes * 4, 1, stride, bias=False), nn.BatchNorm2d(planes * 4))
            layer.append(resnet.Bottleneck(cin, planes, stride, down))
            cin = planes * 4
        setattr(m, f"layer{i + 1}", nn.Sequential(*layer))
    m.fc = nn.Linear(cin, nc)

    def forward(x):
        x = torch.relu(m.bn1(m.conv1(x)))
        if not small:
            x = nn.functional.max_pool2d(x, 3, 2, 1)
        x = m.layer4(m.layer3(m.layer2(m.layer1(x))))
        return m.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))
    m.forward = forward
    return m


def densenet161(nc, size, w, d, patch):
    nf = ch(96, w)
    m = densenet.DenseNet(growth_rate=ch(48, w), block_config=tuple(blocks(n, d) for n in (6, 12, 36, 24)),
                          num_init_features=nf, num_classes=nc)
    if size < 64:
        m.features.conv0 = nn.Conv2d(3, nf, 3, 2, 1, bias=False)
        m.features.pool0 = nn.Identity()
    return m


def inception_v3(nc, size, w, d, patch):
    c = lambda n: ch(n, w)
    small = size < 64
    s1, pad = 2, (1 if small else 0)
    B = BasicConv2d
    m = nn.Module()
    m.Conv2d_1a_3x3 = B(3, c(32), kernel_size=3, stride=s1, padding=pad)
    m.Conv2d_2a_3x3 = B(c(32), c(32), kernel_size=3, padding=pad)
    m.Conv2d_2b_3x3 = B(c(32), c(64), kernel_size=3, padding=1)
    m.Conv2d_3b_1x1 = B(c(64), c(80), kernel_size=1)
    m.Conv2d_4a_3x3 = B(c(80), c(192), kernel_size=3, padding=pad)
    avg3 = lambda x: nn.functional.avg_pool2d(x, 3, 1, 1)
    max3 = lambda x: nn.functional.max_pool2d(x, 3, 2)

    def mod(**branches):
        mm = nn.Module()
        for k, v in branches.items():
            setattr(mm, k, v)
        return mm

    def A(cin, pf):
        mm = mod(branch1x1=B(cin, c(64), kernel_size=1), branch5x5_1=B(cin, c(48), kernel_size=1),
                 branch5x5_2=B(c(48), c(64), kernel_size=5, padding=2), branch3x3dbl_1=B(cin, c(64), kernel_size=1),
                 branch3x3dbl_2=B(c(64), c(96), kernel_size=3, padding=1), branch3x3dbl_3=B(c(96), c(96), kernel_size=3, padding=1),
                 branch_pool=B(cin, pf, kernel_size=1))
        mm.forward = lambda x: torch.cat([mm.branch1x1(x), mm.branch5x5_2(mm.branch5x5_1(x)),
                                          mm.branch3x3dbl_3(mm.branch3x3dbl_2(mm.branch3x3dbl_1(x))), mm.branch_pool(avg3(x))], 1)
        return mm, c(64) * 2 + c(96) + pf

    def Bm(cin):
        mm = mod(branch3x3=B(cin, c(384), kernel_size=3, stride=2), branch3x3dbl_1=B(cin, c(64), kernel_size=1),
                 branch3x3dbl_2=B(c(64), c(96), kernel_size=3, padding=1), branch3x3dbl_3=B(c(96), c(96), kernel_size=3, stride=2))
        mm.forward = lambda x: torch.cat([mm.branch3x3(x), mm.branch3x3dbl_3(mm.branch3x3dbl_2(mm.branch3x3dbl_1(x))), max3(x)], 1)
        return mm, c(384) + c(96) + cin

    def C(cin, c7):
        h, v = dict(kernel_size=(1, 7), padding=(0, 3)), dict(kernel_size=(7, 1), padding=(3, 0))
        mm = mod(branch1x1=B(cin, c(192), kernel_size=1), branch7x7_1=B(cin, c7, kernel_size=1), branch7x7_2=B(c7, c7, **h),
                 branch7x7_3=B(c7, c(192), **v), branch7x7dbl_1=B(cin, c7, kernel_size=1), branch7x7dbl_2=B(c7, c7, **v),
                 branch7x7dbl_3=B(c7, c7, **h), branch7x7dbl_4=B(c7, c7, **v), branch7x7dbl_5=B(c7, c(192), **h),
                 branch_pool=B(cin, c(192), kernel_size=1))
        def f(x):
            y = x
            for k in range(1, 6):
                y = getattr(mm, f"branch7x7dbl_{k}")(y)
            return torch.cat([mm.branch1x1(x), mm.branch7x7_3(mm.branch7x7_2(mm.branch7x7_1(x))), y, mm.branch_pool(avg3(x))], 1)
        mm.forward = f
        return mm, 4 * c(192)

    def D(cin):
        mm = mod(branch3x3_1=B(cin, c(192), kernel_size=1), branch3x3_2=B(c(192), c(320), kernel_size=3, stride=2),
                 branch7x7x3_1=B(cin, c(192), kernel_size=1), branch7x7x3_2=B(c(192), c(192), kernel_size=(1, 7), padding=(0, 3)),
                 branch7x7x3_3=B(c(192), c(192), kernel_size=(7, 1), padding=(3, 0)), branch7x7x3_4=B(c(192), c(192), kernel_size=3, stride=2))
        mm.forward = lambda x: torch.cat([mm.branch3x3_2(mm.branch3x3_1(x)),
                                          mm.branch7x7x3_4(mm.branch7x7x3_3(mm.branch7x7x3_2(mm.branch7x7x3_1(x)))), max3(x)], 1)
        return mm, c(320) + c(192) + cin

    def E(cin):
        h, v = dict(kernel_size=(1, 3), padding=(0, 1)), dict(kernel_size=(3, 1), padding=(1, 0))
        mm = mod(branch1x1=B(cin, c(320), kernel_size=1), branch3x3_1=B(cin, c(384), kernel_size=1),
                 branch3x3_2a=B(c(384), c(384), **h), branch3x3_2b=B(c(384), c(384), **v),
                 branch3x3dbl_1=B(cin, c(448), kernel_size=1), branch3x3dbl_2=B(c(448), c(384), kernel_size=3, padding=1),
                 branch3x3dbl_3a=B(c(384), c(384), **h), branch3x3dbl_3b=B(c(384), c(384), **v), branch_pool=B(cin, c(192), kernel_size=1))
        def f(x):
            y3 = mm.branch3x3_1(x)
            yd = mm.branch3x3dbl_2(mm.branch3x3dbl_1(x))
            return torch.cat([mm.branch1x1(x), mm.branch3x3_2a(y3), mm.branch3x3_2b(y3), mm.branch3x3dbl_3a(yd),
                              mm.branch3x3dbl_3b(yd), mm.branch_pool(avg3(x))], 1)
        mm.forward = f
        return mm, c(320) + 4 * c(384) + c(192)

    early, late, cin = [], [], c(192)
    for name, pf in list(zip(["Mixed_5b", "Mixed_5c", "Mixed_5d"], [32, 64, 64]))[:blocks(3, d)]:
        mm, cin = A(cin, c(pf)); setattr(m, name, mm); early.append(mm)
    mm, cin = Bm(cin); m.Mixed_6a = mm; early.append(mm)
    for name, c7 in list(zip(["Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"], [128, 160, 160, 192]))[:blocks(4, d)]:
        mm, cin = C(cin, c(c7)); setattr(m, name, mm); early.append(mm)
    m.AuxLogits = mod(conv0=B(cin, c(128), kernel_size=1), conv1=B(c(128), c(768), kernel_size=5), fc=nn.Linear(c(768), nc))
    mm, cin = D(cin); m.Mixed_7a = mm; late.append(mm)
    for name in ["Mixed_7b", "Mixed_7c"][:blocks(2, d)]:
        mm, cin = E(cin); setattr(m, name, mm); late.append(mm)
    m.fc = nn.Linear(cin, nc)

    def forward(x):
        x = m.Conv2d_2b_3x3(m.Conv2d_2a_3x3(m.Conv2d_1a_3x3(x)))
        x = max3(x)
        x = m.Conv2d_4a_3x3(m.Conv2d_3b_1x1(x))
        if not small:
            x = max3(x)
        for mm in early:
            x = mm(x)
        aux = None
        if m.training:
            a = nn.functional.adaptive_avg_pool2d(x, 5) if small else nn.functional.avg_pool2d(x, 5, 3)
            a = m.AuxLogits.conv1(m.AuxLogits.conv0(a))
            aux = m.AuxLogits.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(a, 1), 1))
        for mm in late:
            x = mm(x)
        x = nn.functional.dropout(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1), 0.5, m.training)
        out = m.fc(x)
        return (out, aux) if m.training else out
    m.forward = forward
    return m


MB_SETTINGS = [(16, 3, 16, 16, False, "RE", 1), (16, 3, 64, 24, False, "RE", 2), (24, 3, 72, 24, False, "RE", 1),
               (24, 5, 72, 40, True, "RE", 2), (40, 5, 120, 40, True, "RE", 1), (40, 5, 120, 40, True, "RE", 1),
               (40, 3, 240, 80, False, "HS", 2), (80, 3, 200, 80, False, "HS", 1), (80, 3, 184, 80, False, "HS", 1),
               (80, 3, 184, 80, False, "HS", 1), (80, 3, 480, 112, True, "HS", 1), (112, 3, 672, 112, True, "HS", 1),
               (112, 5, 672, 160, True, "HS", 2), (160, 5, 960, 160, True, "HS", 1), (160, 5, 960, 160, True, "HS", 1)]


def mobilenet_v3_large(nc, size, w, d, patch):
    keep, i = [], 0
    while i < len(MB_SETTINGS):
        end = next((j for j in range(i, len(MB_SETTINGS)) if MB_SETTINGS[j][3] != MB_SETTINGS[i][3]), len(MB_SETTINGS))
        keep += list(range(i, i + blocks(end - i, d)))
        i = end
    adj = lambda c: make_div(c * w)
    small = size < 64
    cfgs, cin, seen = [], adj(16), False
    for i in keep:
        _, k, e, o, se, act, s = MB_SETTINGS[i]
        if small and s == 2 and not seen:
            seen, s = True, 1
        cfgs.append(mobilenetv3.InvertedResidualConfig(cin, k, e, o, se, act, s, 1, w))
        cfgs[-1].input_channels = cin
        cin = adj(o)
    return mobilenetv3.MobileNetV3(cfgs, last_channel=adj(1280), num_classes=nc)


EF_SETTINGS = [(True, 1, 3, 1, 32, 32, 4), (True, 4, 3, 2, 32, 64, 7), (True, 4, 3, 2, 64, 96, 7), (False, 4, 3, 2, 96, 192, 10),
               (False, 6, 3, 1, 192, 224, 19), (False, 6, 3, 2, 224, 384, 25), (False, 6, 3, 1, 384, 640, 7)]


def efficientnet_v2_l(nc, size, w, d, patch):
    adj = lambda c: make_div(c * w)
    cfgs = []
    for fused, e, k, s, i, o, n in EF_SETTINGS:
        layers = math.ceil(n * d)
        if fused:
            cfgs.append(efficientnet.FusedMBConvConfig(e, k, s, adj(i), adj(o), layers))
        else:
            cfgs.append(efficientnet.MBConvConfig(e, k, s, adj(i), adj(o), layers))
    return efficientnet.EfficientNet(cfgs, dropout=0.4, stochastic_depth_prob=0.5, num_classes=nc,
                                     norm_layer=partial(nn.BatchNorm2d, eps=1e-3), last_channel=adj(1280))


def vit_b_16(nc, size, w, d, patch):
    heads = max(1, rnd(12 * w))
    hidden = heads * 64
    return vision_transformer.VisionTransformer(image_size=size, patch_size=patch or 16, num_layers=blocks(12, d),
                                                num_heads=heads, hidden_dim=hidden, mlp_dim=4 * hidden, num_classes=nc)


def convnext_large(nc, size, w, d, patch):
    dims = [ch(x, w) for x in (192, 384, 768, 1536)]
    depths = [blocks(n, d) for n in (3, 3, 27, 3)]
    setting = [convnext.CNBlockConfig(dims[i], dims[i + 1] if i < 3 else None, depths[i]) for i in range(4)]
    m = convnext.ConvNeXt(setting, stochastic_depth_prob=0.5, num_classes=nc)
    if size < 64:
        m.features[0][0] = nn.Conv2d(3, dims[0], 2, 2)
    return m


BUILDERS = {f.__name__: f for f in [alexnet, vgg19, inception_v3, resnet152, densenet161, mobilenet_v3_large,
                                    efficientnet_v2_l, vit_b_16, convnext_large]}


def build(card):
    """A model from repro's ModelConfig JSON: {num_classes, image_size, scale: {width, depth, patch}}."""
    s = card["scale"]
    return BUILDERS[card["model"]](card["num_classes"], card["image_size"], s["width"], s["depth"], s.get("patch"))
