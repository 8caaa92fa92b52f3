"""The official PoseResNet / torchvision ResNet in PyTorch, for tests that
compare with PyTorch (import only after ``pytest.importorskip("torch")``)."""

import torch

nn = torch.nn

LAYERS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3),
          101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


class _Basic(nn.Module):
    expansion = 1

    def __init__(self, cin, width, stride, downsample):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.downsample = downsample

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        skip = self.downsample(x) if self.downsample is not None else x
        return torch.relu(y + skip)


class _Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, width, stride, downsample):
        super().__init__()
        # torchvision / official "pytorch" style: the stride is on the 3x3.
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, width * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width * 4)
        self.downsample = downsample

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        skip = self.downsample(x) if self.downsample is not None else x
        return torch.relu(y + skip)


class TorchPoseResNet(nn.Module):
    """The official PoseResNet layout; ``head=False`` adds torchvision's fc;
    ``deconvs``: stride-2 deconvolutions of the head (3; mmpose's JHMDB
    models have 2)."""

    def __init__(self, depth, num_keypoints=17, head=True, deconvs=3):
        super().__init__()
        block = _Bottleneck if depth >= 50 else _Basic
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for index, (blocks, width) in enumerate(zip(LAYERS[depth], (64, 128, 256, 512))):
            stride = 1 if index == 0 else 2
            layers = []
            for b in range(blocks):
                s = stride if b == 0 else 1
                down = None
                if b == 0 and (s != 1 or cin != width * block.expansion):
                    down = nn.Sequential(
                        nn.Conv2d(cin, width * block.expansion, 1, s, bias=False),
                        nn.BatchNorm2d(width * block.expansion))
                layers.append(block(cin, width, s, down))
                cin = width * block.expansion
            setattr(self, f"layer{index + 1}", nn.Sequential(*layers))
        self.head = head
        if head:
            layers = []
            for _ in range(deconvs):
                layers += [nn.ConvTranspose2d(cin, 256, 4, 2, padding=1,
                                              output_padding=0, bias=False),
                           nn.BatchNorm2d(256), nn.ReLU(inplace=True)]
                cin = 256
            self.deconv_layers = nn.Sequential(*layers)
            self.final_layer = nn.Conv2d(256, num_keypoints, 1)
        else:
            self.fc = nn.Linear(cin, 1000)

    def features(self, x):
        x = self.maxpool(torch.relu(self.bn1(self.conv1(x))))
        for i in range(1, 5):
            x = getattr(self, f"layer{i}")(x)
        return x

    def forward(self, x):
        return self.final_layer(self.deconv_layers(self.features(x)))


def random_model(depth, num_keypoints=17, head=True, seed=0, deconvs=3):
    torch.manual_seed(seed)
    model = TorchPoseResNet(depth, num_keypoints, head, deconvs)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                # Non-trivial statistics so that a swapped mean/var or
                # gamma/beta shows; variance around 1 keeps activations tame.
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
                module.running_mean.uniform_(-0.3, 0.3)
                module.running_var.uniform_(0.5, 2.0)
                module.num_batches_tracked.fill_(7)
            elif isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                fan = module.weight[0].numel()
                module.weight.normal_(0.0, (2.0 / fan) ** 0.5)
                if module.bias is not None:
                    module.bias.uniform_(-0.1, 0.1)
        # Residual branches end with a small gamma (as trained ResNets do), so
        # that activations stay O(1) through 16 blocks instead of growing.
        for name, module in model.named_modules():
            if name.startswith("layer") and name.endswith(("bn3", "bn2")) and (
                    depth < 50 or name.endswith("bn3")):
                module.weight.uniform_(0.1, 0.3)
        model.eval()
        if head:
            # Trained heatmaps peak near 1: scale the final layer so that the
            # outputs have that magnitude (the tolerance is absolute).
            probe = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(9))
            peak = model(probe).abs().max()
            model.final_layer.weight.mul_(2.0 / peak)
            model.final_layer.bias.mul_(2.0 / peak)
    return model


def save_official(model, path, layout):
    state = model.state_dict()
    if layout == "module_state_dict":  # training checkpoint of a DataParallel model
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        torch.save({"epoch": 140, "model": "pose_resnet",
                    "state_dict": {f"module.{k}": v for k, v in state.items()},
                    "perf": 0.7, "optimizer": optimizer.state_dict()}, path)
    else:
        # The released files: a bare state_dict in the pre-1.6 (non-zip)
        # serialisation of 2018's torch.
        torch.save(state, path, _use_new_zipfile_serialization=False)


def torch_heatmaps(model, nhwc):
    with torch.no_grad():
        out = model(torch.from_numpy(nhwc.transpose(0, 3, 1, 2).copy()))
    return out.numpy().transpose(0, 2, 3, 1)
