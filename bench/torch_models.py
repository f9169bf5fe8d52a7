"""The encoders of `ssl` (ConvNet2, MobileNetV1, ResNet-18, the SGAN discriminator's trunk) and SimCLR's
projection head in plain torch.nn.

Module names are chosen so that `state_dict()` keys equal the names the C++ modules register (nn/models.cpp,
nn/mobilenet.cpp, nn/resnet.cpp, nn/sgan.cpp), so an `encoder.safetensors` written by `ssl pretrain` loads with
`load_state_dict(strict=True)`. Initialisation follows the C++ side too (kaiming_normal fan_out for the
MobileNet and ResNet convolutions, PyTorch's defaults elsewhere).

    python3 bench/torch_models.py      # checks the parameter counts against torchvision's published ones
"""
import torch.nn as nn
import torch.nn.functional as F

# SimCLROptions defaults (ssl/simclr.h).
HEAD_HIDDEN = 512
HEAD_OUT = 128
TEMPERATURE = 0.2

# (output channels, stride) of MobileNetV1's 13 depthwise-separable blocks (the paper's Table 1).
MOBILENET_V1_BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
                       (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]


def _conv(cin, cout, k, stride=1, padding=0, groups=1):
    """Convolution without bias, kaiming_normal (fan_out, ReLU gain) as torchvision initialises it."""
    conv = nn.Conv2d(cin, cout, k, stride=stride, padding=padding, groups=groups, bias=False)
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    return conv


# ---------------------------------------------------------------------------------------------- ConvNet2

def convnet2(image_size=32):
    """conv3x3 3->32, ReLU, max-pool 2, conv3x3 32->64, ReLU, max-pool 2, flatten. Keys: 0.*, 3.*"""
    assert image_size >= 4 and image_size % 4 == 0, f"convnet2: image size must be a multiple of 4, got {image_size}"
    model = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
    model.feature_dim = 64 * (image_size // 4) ** 2
    return model


# ------------------------------------------------------------------------------------------- MobileNetV1

def depthwise_separable(cin, cout, stride):
    """dw3x3 (groups=cin) - BN - ReLU - pw1x1 - BN - ReLU; children 0..5 as in nn/mobilenet.cpp."""
    return nn.Sequential(
        _conv(cin, cin, 3, stride, 1, groups=cin), nn.BatchNorm2d(cin), nn.ReLU(),
        _conv(cin, cout, 1), nn.BatchNorm2d(cout), nn.ReLU())


def _scaled(channels, width):
    """int(c * width), at least 1, as nn/mobilenet.cpp scales every layer."""
    return max(1, int(channels * width + 1e-9))


class MobileNetV1(nn.Module):
    """Width multiplier `width` (1 by default). Keys: features.0.{0,1} (stem), features.K.{0,1,3,4} (blocks
    1..13), fc.* with classes > 0.

    The stem has stride 2 for inputs of 64 px or more and stride 1 below, so 32 px ends at 2x2.
    """

    def __init__(self, image_size=224, classes=0, width=1.0):
        super().__init__()
        assert image_size >= 16, f"mobilenet_v1: image size must be at least 16, got {image_size}"
        c = _scaled(32, width)
        stem_stride = 2 if image_size >= 64 else 1
        self.features = nn.Sequential(nn.Sequential(_conv(3, c, 3, stem_stride, 1), nn.BatchNorm2d(c), nn.ReLU()))
        for out, stride in MOBILENET_V1_BLOCKS:
            out = _scaled(out, width)
            self.features.append(depthwise_separable(c, out, stride))
            c = out
        self.fc = nn.Linear(c, classes) if classes > 0 else None
        self.feature_dim = classes if classes > 0 else c

    def forward(self, x):
        h = F.adaptive_avg_pool2d(self.features(x), 1).flatten(1)
        return self.fc(h) if self.fc is not None else h


def mobilenet_v1_depthwise_shapes(image_size=32):
    """(channels, input side, stride) of the 13 depthwise convolutions, in block order."""
    side = image_size if image_size < 64 else (image_size - 1) // 2 + 1
    c, shapes = 32, []
    for out, stride in MOBILENET_V1_BLOCKS:
        shapes.append((c, side, stride))
        side = (side - 1) // stride + 1  # 3x3, padding 1
        c = out
    return shapes


# --------------------------------------------------------------------------------------------- ResNet-18

class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, plus the identity or downsample (conv1x1-BN), then ReLU."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = _conv(cin, cout, 3, stride, 1)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = _conv(cout, cout, 3, 1, 1)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(_conv(cin, cout, 1, stride), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return F.relu(h + (self.downsample(x) if self.downsample is not None else x))


class ResNet18(nn.Module):
    """torchvision's names (conv1, bn1, layer1..4.{0,1}.*, fc.* with classes > 0).

    stem "cifar": 3x3 stride 1, no max-pool (what `ssl` uses up to 64 px); "imagenet": 7x7 stride 2 + max-pool.
    """

    def __init__(self, stem="imagenet", classes=0):
        super().__init__()
        assert stem in ("cifar", "imagenet")
        self.stem = stem
        self.conv1 = _conv(3, 64, 7, 2, 3) if stem == "imagenet" else _conv(3, 64, 3, 1, 1)
        self.bn1 = nn.BatchNorm2d(64)
        self.layer1 = nn.Sequential(BasicBlock(64, 64, 1), BasicBlock(64, 64))
        self.layer2 = nn.Sequential(BasicBlock(64, 128, 2), BasicBlock(128, 128))
        self.layer3 = nn.Sequential(BasicBlock(128, 256, 2), BasicBlock(256, 256))
        self.layer4 = nn.Sequential(BasicBlock(256, 512, 2), BasicBlock(512, 512))
        self.fc = nn.Linear(512, classes) if classes > 0 else None
        self.feature_dim = classes if classes > 0 else 512

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        if self.stem == "imagenet":
            h = F.max_pool2d(h, 3, 2, 1)
        h = self.layer4(self.layer3(self.layer2(self.layer1(h))))
        h = F.adaptive_avg_pool2d(h, 1).flatten(1)
        return self.fc(h) if self.fc is not None else h


# ------------------------------------------------------------------------------------------ by name, head

# ------------------------------------------------------------------------------ the SGAN discriminator's trunk

def sgan_trunk(image_size=32):
    """conv3x3 stride 2 3->32 (bias), LeakyReLU 0.2, then twice conv3x3 stride 2 (no bias, 64 then 128 channels),
    BN, LeakyReLU 0.2; flatten. Keys: 0.*, 2.*, 3.*, 5.*, 6.* (the discriminator's main.0 to main.7)"""
    assert image_size >= 8 and image_size % 8 == 0, f"sgan_trunk: image size must be a multiple of 8, got {image_size}"
    model = nn.Sequential(
        nn.Conv2d(3, 32, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
        nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(64), nn.LeakyReLU(0.2),
        nn.Conv2d(64, 128, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
        nn.Flatten())
    model.feature_dim = 128 * (image_size // 8) ** 2
    return model


def make_encoder(name, image_size=32):
    """The encoder `ssl --model NAME --image-size S` builds; `.feature_dim` is its output width."""
    if name == "convnet2":
        return convnet2(image_size)
    if name == "mobilenet_v1":
        return MobileNetV1(image_size)
    if name.startswith("mobilenet_v1:"):  # a width multiplier, e.g. mobilenet_v1:0.5
        return MobileNetV1(image_size, width=float(name.split(":", 1)[1]))
    if name == "resnet18":
        assert image_size >= 8, f"resnet18: image size must be at least 8, got {image_size}"
        return ResNet18("cifar" if image_size <= 64 else "imagenet")
    if name == "sgan_trunk":
        return sgan_trunk(image_size)
    raise ValueError(f"unknown model '{name}'; known models: convnet2, mobilenet_v1, resnet18, sgan_trunk")


def projection_head(features, hidden=HEAD_HIDDEN, out=HEAD_OUT):
    """SimCLR's head (nn::projection_head): Linear (no bias) - BatchNorm - ReLU - Linear; keys 0.*, 1.*, 3.*"""
    return nn.Sequential(nn.Linear(features, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(),
                         nn.Linear(hidden, out))


def parameter_count(module):
    return sum(p.numel() for p in module.parameters())


def check_parameter_counts():
    """The 1000-class classifiers must have torchvision's published parameter counts."""
    checks = [("mobilenet_v1 (alpha 1, 1000 classes)", MobileNetV1(224, classes=1000), 4_231_976),
              ("resnet18 (ImageNet stem, 1000 classes)", ResNet18("imagenet", classes=1000), 11_689_512)]
    for name, model, expected in checks:
        got = parameter_count(model)
        assert got == expected, f"{name}: {got:,} parameters, expected {expected:,}"
        print(f"{name}: {got:,} parameters (ok)")


if __name__ == "__main__":
    check_parameter_counts()
