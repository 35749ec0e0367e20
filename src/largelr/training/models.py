"""Models behind one interface (paper §4.2, suppl. C).

Every model is a :class:`SpuriousModel`: ``features(x)`` returns the **penultimate
post-activation representation** (the input of the final linear layer, used by every
representation metric of §3.3), ``head`` is that final linear layer, and
``prunable_layers()`` lists the layers whose output units (FC neurons, conv kernels) the
κ-prunability metric of §3.2 may remove — every hidden layer, never the output layer.
Pruning is structured magnitude pruning along dim 0 of ``layer.weight`` (rows of a Linear =
neurons, output channels of a Conv2d = kernels), e.g.
``torch.nn.utils.prune.ln_structured(layer, "weight", amount=k, n=2, dim=0)``.

Architectures (``build_model`` dispatches on ``models.*.arch``):

* ``fcn`` — :class:`FCN`, bias-free ReLU MLP.
* ``cnn`` — :class:`CNN`, the paper's "VGG11-like CNN without bias and with a single linear
  layer" (suppl. C).
* ``torchvision`` — :class:`TorchvisionClassifier`, any torchvision classification model by
  name (the paper uses resnet18, resnet50, wide_resnet101_2, swin_t), randomly initialised or
  from a local state_dict file (weights are never downloaded).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class SpuriousModel(nn.Module):
    """Common interface: ``forward(x) = head(features(x))``."""

    head: nn.Linear

    def features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def prunable_layers(self) -> list[nn.Module]:
        raise NotImplementedError

    @property
    def representation_size(self) -> int:
        return self.head.in_features


class FCN(SpuriousModel):
    """Fully connected ReLU network without any bias (suppl. C: flatten → hidden → linear).

    Width 200 with 3 hidden layers is the paper's parity model (Fig 3), 200 × 2 its
    moon-star model (suppl. C), 1024 × 2 (2048 for CIFAR-based data) its image FCN.
    """

    def __init__(self, in_features: int, num_classes: int, width: int, depth: int) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"FCN depth must be >= 1, got {depth}")
        sizes = [in_features] + [width] * depth
        self.hidden = nn.ModuleList(
            nn.Linear(n_in, n_out, bias=False) for n_in, n_out in zip(sizes[:-1], sizes[1:])
        )
        self.head = nn.Linear(width, num_classes, bias=False)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = x.flatten(start_dim=1)
        for layer in self.hidden:
            h = torch.relu(layer(h))
        return h

    def prunable_layers(self) -> list[nn.Module]:
        return list(self.hidden)




# ---------------------------------------------------------------------------------------------
# VGG11-like CNN
# ---------------------------------------------------------------------------------------------

#: VGG11 ("configuration A" of Simonyan & Zisserman): conv widths, ``"M"`` = 2×2 max-pool.
VGG11_CHANNELS: tuple[int | str, ...] = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")


class HalvingMaxPool2d(nn.Module):
    """2×2 / stride-2 max-pool that leaves a spatial dimension of size 1 alone.

    VGG11 pools five times, i.e. divides each side by 32; a 28×28 input reaches 1×1 after the
    fourth pool and a 28×56 input 1×3, where a plain ``MaxPool2d(2)`` would fail. Here a
    dimension of size 1 is pooled with kernel/stride 1 along that axis (so 1×3 → 1×1, 3×3 →
    1×1, 1×1 → 1×1), every other dimension is halved (floor, as ``MaxPool2d(2)``).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kh = 2 if x.shape[-2] >= 2 else 1
        kw = 2 if x.shape[-1] >= 2 else 1
        if kh == kw == 1:
            return x
        return F.max_pool2d(x, kernel_size=(kh, kw), stride=(kh, kw))


class CNN(SpuriousModel):
    """VGG11-like CNN without bias and with a single linear layer (paper suppl. C).

    ``channels`` (default :data:`VGG11_CHANNELS`) lists the 3×3 / padding-1 convolutions and the
    ``"M"`` max-pools; every conv is bias-free and followed by a ReLU. ``width_multiplier``
    scales every conv width (``max(1, round(c · m))``) so CPU presets can shrink the network.

    Design choices (the paper only says "similar architecture to VGG11, with a single linear
    layer following the convolutional layers instead of three, no bias terms"):

    * **No batch norm** — BN has an additive shift (a bias) and the paper's CNN is bias-free;
      it is also absent from torchvision's plain ``vgg11`` that the description follows.
    * **Max-pools skip size-1 dimensions** (:class:`HalvingMaxPool2d`) so 28×28, 28×56, 32×32
      and 64×32 inputs all pass; the conv stack then ends in ``AdaptiveAvgPool2d(1)`` →
      flatten, so the representation size (= last conv width, 512 at multiplier 1) does not
      depend on the input size. After the five pools the remaining map is 1×1 (28×28, 28×56,
      32×32) or 2×1 (64×32), so the average pool is (nearly) the identity.
    * ``features(x)`` = the pooled, flattened post-ReLU activations of the last conv (≥ 0);
      ``head`` = ``Linear(last width, num_classes, bias=False)``.
    * Initialisation as torchvision's VGG: convs ``kaiming_normal_(fan_out, relu)``, the
      linear head ``normal_(0, 0.01)``.
    * ``prunable_layers()`` = every Conv2d (pruning removes whole kernels / output channels).
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        channels: Sequence[int | str] = VGG11_CHANNELS,
        width_multiplier: float = 1.0,
    ) -> None:
        super().__init__()
        if width_multiplier <= 0:
            raise ValueError(f"CNN width_multiplier must be > 0, got {width_multiplier}")
        layers: list[nn.Module] = []
        width = in_channels
        for entry in channels:
            if entry == "M":
                layers.append(HalvingMaxPool2d())
                continue
            if isinstance(entry, bool) or not isinstance(entry, int) or entry < 1:
                raise ValueError(f"CNN channels entries must be positive ints or 'M', got {entry!r}")
            out = max(1, round(entry * width_multiplier))
            layers += [nn.Conv2d(width, out, kernel_size=3, padding=1, bias=False), nn.ReLU()]
            width = out
        if not any(isinstance(m, nn.Conv2d) for m in layers):
            raise ValueError("CNN channels must contain at least one convolution")
        self.body = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(width, num_classes, bias=False)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        nn.init.normal_(self.head.weight, 0.0, 0.01)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.body(x)).flatten(start_dim=1)

    def prunable_layers(self) -> list[nn.Module]:
        return [m for m in self.body if isinstance(m, nn.Conv2d)]


# ---------------------------------------------------------------------------------------------
# torchvision classifiers
# ---------------------------------------------------------------------------------------------


def _set_submodule(root: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, module)


def _final_linear_name(net: nn.Module) -> str:
    """Name of the classifier layer: the last ``nn.Linear`` registered in the model.

    That is ResNet ``fc``, Swin/ConvNeXt-style ``head`` / ``classifier.2``, VGG / AlexNet /
    MobileNet / EfficientNet ``classifier[-1]``, ViT ``heads.head``, GoogLeNet/Inception ``fc``.
    """
    names = [name for name, m in net.named_modules() if type(m) is nn.Linear]
    if not names:
        raise ValueError(f"{type(net).__name__} has no nn.Linear classifier layer to use as the head")
    return names[-1]


def _load_state_dict_file(path: Path) -> dict[str, torch.Tensor]:
    state = torch.load(path, map_location="cpu", weights_only=True)
    for wrapper in ("state_dict", "model"):  # common checkpoint wrappers
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict):
        raise ValueError(f"{path} does not hold a state_dict (config key models.*.pretrained_path)")
    return state


PRETRAINED_KEY = "models.*.pretrained_path"


def missing_weights_message(name: str, path: str | Path | None, config_key: str = PRETRAINED_KEY) -> str:
    """Error text for an absent pretrained-weights file (§4.2: Swin-T starts from ImageNet-1k
    weights), worded as the DeepLabV3 segmenter's: the config key, the path, what to put there."""
    where = "is not set" if path is None else f"= {path} does not exist"
    if path is not None and not Path(path).is_absolute():
        where += f" (resolved against the working directory: {Path(path).resolve()})"
    how = (f"expected a state_dict file of the torchvision model ({name}), e.g. its ImageNet-1k "
           "weights saved with torch.save(model.state_dict(), path)")
    url = _weights_url(name)
    if url:
        how += (f"; torchvision publishes them at {url} — fetch that file on a machine with internet "
                "access and point the key at it")
    return f"pretrained weights: config key {config_key} {where}; {how}. Weights are never downloaded."


def _weights_url(name: str) -> str | None:
    """Where torchvision publishes the default weights of model ``name`` (§4.2 pretraining; metadata only)."""
    import torchvision

    try:
        return torchvision.models.get_model_weights(name.lower()).DEFAULT.url
    except (ValueError, KeyError, AttributeError):
        return None


def _is_resnet(name: str) -> bool:
    """Whether torchvision model ``name`` is of the ResNet family (suppl. C; resnet*, wide_resnet*, resnext*)."""
    import torchvision

    return torchvision.models.get_model_builder(name).__module__ == torchvision.models.resnet.__name__


def input_stem(spec: dict[str, Any]) -> str | None:
    """The input stem ``build_model(spec)`` gives (suppl. C: ResNets "as included in torchvision").

    ``"small_input"``: a ResNet whose 7×7 / stride-2 stem conv and max-pool were replaced by
    a 3×3 / stride-1 conv (``small_input: true``, the default); ``"torchvision"``: the
    stock torchvision stem (``small_input: false``, or any non-ResNet torchvision model);
    ``None`` for this package's own FCN / CNN. Equals ``build_model(spec).stem`` of a
    torchvision model; ``run.json`` records it as ``stem``.
    """
    if spec.get("arch") != "torchvision":
        return None
    small = bool(spec.get("small_input", True)) and _is_resnet(spec["name"])
    return "small_input" if small else "torchvision"


def narrow_resnet(net: nn.Module, width: int, in_channels: int = 3) -> None:
    """Rebuild a torchvision ResNet in place with base width ``width`` (torchvision's is 64).

    The stem conv gets ``width`` output channels and the four stages ``width · (1, 2, 4, 8)``
    planes (as torchvision's 64 · (1, 2, 4, 8)); the blocks, their counts, strides, ``groups`` /
    ``width_per_group`` and the initialisation are torchvision's own (``ResNet._make_layer`` and
    the init loop of ``ResNet.__init__``), so the result is a real torchvision ResNet, only
    narrower: a cheap ResNet18 for CPU tests and benchmarks (config key ``models.*.width``).
    """
    import torchvision

    if not isinstance(net, torchvision.models.ResNet):
        raise ValueError(f"models.*.width applies to torchvision ResNets only, not {type(net).__name__}")
    block = type(net.layer1[0])
    depths = [len(getattr(net, f"layer{i}")) for i in range(1, 5)]
    net.inplanes, net.dilation = width, 1
    net.conv1 = nn.Conv2d(in_channels, width, kernel_size=7, stride=2, padding=3, bias=False)
    net.bn1 = net._norm_layer(width)
    for i, depth in enumerate(depths):
        setattr(net, f"layer{i + 1}", net._make_layer(block, width * 2**i, depth, stride=1 if i == 0 else 2))
    net.fc = nn.Linear(8 * width * block.expansion, net.fc.out_features)
    for module in net.modules():  # torchvision's ResNet initialisation
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.constant_(module.weight, 1)
            nn.init.constant_(module.bias, 0)


def _small_input_stem(net: nn.Module, in_channels: int, name: str, pretrained: bool) -> None:
    """Give a torchvision ResNet the CIFAR stem: a bias-free 3×3 / stride-1 conv, no max-pool
    (step 2 of :class:`TorchvisionClassifier`'s doc)."""
    if pretrained:
        warnings.warn(f"{name}: small_input replaces the pretrained 7x7 stem conv by a fresh 3x3 conv", stacklevel=3)
    net.conv1 = nn.Conv2d(in_channels, net.conv1.out_channels, kernel_size=3, stride=1, padding=1, bias=False)
    net.maxpool = nn.Identity()


def _adapt_first_conv(net: nn.Module, in_channels: int, name: str, pretrained: bool) -> None:
    """Replace the first Conv2d by one taking ``in_channels`` channels where it expects another
    count (step 3 of :class:`TorchvisionClassifier`'s doc): pretrained RGB weights summed over
    the channels for 1-channel data, PyTorch's default init otherwise."""
    conv_name, conv = next(((n, m) for n, m in net.named_modules() if isinstance(m, nn.Conv2d)), (None, None))
    if conv is None or conv.in_channels == in_channels:
        return
    if conv.groups != 1:
        raise ValueError(f"{name}: cannot adapt grouped first conv {conv_name!r} to {in_channels} channels")
    new = nn.Conv2d(
        in_channels, conv.out_channels, kernel_size=conv.kernel_size, stride=conv.stride,
        padding=conv.padding, dilation=conv.dilation, bias=conv.bias is not None,
        padding_mode=conv.padding_mode,
    )
    if pretrained and in_channels == 1:
        with torch.no_grad():
            new.weight.copy_(conv.weight.sum(dim=1, keepdim=True))
            if conv.bias is not None:
                new.bias.copy_(conv.bias)
    elif pretrained:
        warnings.warn(f"{name}: first conv {conv_name!r} re-initialised for {in_channels}-channel inputs", stacklevel=3)
    _set_submodule(net, conv_name, new)


def imagenet_normalisation(name: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) per channel of the preprocessing of torchvision model ``name``'s default
    pretrained weights, from the weights' metadata (``Weights.transforms()``; nothing is
    downloaded): the normalisation its ImageNet pretraining used (§4.2; issue 26 item 2)."""
    import torchvision

    transforms = torchvision.models.get_model_weights(name.lower()).DEFAULT.transforms()
    return tuple(map(float, transforms.mean)), tuple(map(float, transforms.std))


class TorchvisionClassifier(SpuriousModel):
    """Any torchvision classification model behind the :class:`SpuriousModel` interface.

    Built by ``torchvision.models.get_model(name, weights=None, num_classes=num_classes,
    **model_kwargs)`` — never with downloaded weights — then adapted:

    1. **Pretrained weights** (``pretrained_path``): a local ``state_dict`` of the plain
       torchvision model (e.g. the ImageNet-1k checkpoint saved with ``torch.save(
       model.state_dict(), path)``; ``{"state_dict": ...}`` / ``{"model": ...}`` wrappers are
       unwrapped) is loaded into the unmodified network before steps 2–4. The classifier
       layer's tensors are skipped when their shape differs (other class count) and are
       loaded otherwise; ``num_batches_tracked`` buffers may be missing. Any other missing,
       unexpected or mis-shaped key raises ``ValueError`` (wrong architecture for the file).
       A missing file raises ``FileNotFoundError`` naming the config key and the path
       (:func:`missing_weights_message`).
    2. **Small inputs** (``small_input``, default True; ResNet family only, incl. Wide
       ResNets): the 7×7 / stride-2 stem conv becomes a bias-free 3×3 / stride-1 / padding-1
       conv and the stem max-pool is dropped (the usual CIFAR adaptation), so 28–64 px inputs
       keep a 4×4–8×4 map at ``layer4`` instead of 1×1–2×1. The new stem is freshly
       initialised (a warning is issued if pretrained weights were loaded). Ignored for
       non-ResNet models. The paper's ResNets are the stock torchvision ones (suppl. C), so
       the ``paper`` preset sets ``small_input: false``; ``stem`` / :func:`input_stem` say
       which stem a model has.
       A ``width`` (ResNets only) first rebuilds the network with that base width instead of
       torchvision's 64 (:func:`narrow_resnet`; for CPU tests and benchmarks).
    3. **Input channels**: when the first Conv2d expects a different channel count than the
       data (e.g. 1-channel MNIST-based data), it is replaced by a conv of the same config
       with the data's channel count. With pretrained weights and 1-channel data its weight is
       the pretrained one summed over the RGB channels — exactly equivalent to feeding the
       grey image replicated to 3 channels, at a third of the stem cost; otherwise the new conv
       keeps PyTorch's default init.
    4. **Head**: the final classifier layer (the last registered ``nn.Linear``: ResNet ``fc``,
       Swin ``head``, VGG/others ``classifier[-1]``) moves to ``self.head`` and is replaced by
       ``nn.Identity`` inside ``self.backbone``, so ``features(x) = backbone(x)`` is exactly the
       input of the final linear layer. For ResNets that is the global average pool of the
       ReLU'd last block (post-activation, ≥ 0). For Swin it is the average pool of the
       **post-LayerNorm** tokens (not post-ReLU; may be negative). For VGG-style classifiers it
       is the output of the last Dropout (= the post-ReLU activation in eval mode). torchvision
       heads keep their bias.
    5. **ImageNet normalisation** (issue 26 item 2; pretrained weights and 3-channel data only):
       each batch, in [0, 1] as the data path gives it, is normalised on the device with the
       mean and standard deviation of the weights' own preprocessing (torchvision's
       ``Weights.transforms()`` of model ``name``'s default weights: :func:`imagenet_normalisation`),
       as the pretrained network saw its inputs. Models trained from scratch keep [0, 1] inputs.
       The statistics are not buffers: ``model.pt`` and stacking are as before.

    ``prunable_layers()``: every Conv2d and Linear of the backbone (the head is not in it) —
    for ResNets this includes the 1×1 shortcut ("downsample") convs; pruning a conv kernel
    zeroes that conv's output channel, the following BatchNorm still adds its shift β. For
    transformer models built from ``torchvision.ops.MLP`` blocks (Swin, ViT) only the first
    Linear of every MLP block ("fc1", whose rows are the MLP's hidden neurons) is prunable:
    attention projections, patch embedding/merging and the second MLP linear write into the
    residual stream, where a pruned row is not a unit of a hidden layer.
    """

    def __init__(
        self,
        name: str,
        input_shape: tuple[int, ...],
        num_classes: int,
        *,
        pretrained_path: str | Path | None = None,
        small_input: bool = True,
        model_kwargs: dict[str, Any] | None = None,
        width: int | None = None,
    ) -> None:
        super().__init__()
        if len(input_shape) != 3:
            raise ValueError(f"torchvision model {name!r} needs (C, H, W) inputs, got input_shape={input_shape}")
        model_kwargs = dict(model_kwargs or {})
        if "weights" in model_kwargs or "pretrained" in model_kwargs:
            raise ValueError("pass pretrained weights as a local file via models.*.pretrained_path, not weights=")
        import torchvision  # keep `import largelr.training.models` light for FCN-only runs

        in_channels = input_shape[0]
        self.name = name
        net = torchvision.models.get_model(name, weights=None, num_classes=num_classes, **model_kwargs)
        if width is not None:
            if pretrained_path is not None:
                raise ValueError("models.*.width changes the architecture: it cannot load pretrained weights")
            narrow_resnet(net, int(width))
        head_name = _final_linear_name(net)
        if net.get_submodule(head_name).out_features != num_classes:
            raise ValueError(f"last nn.Linear {head_name!r} of {name} does not output {num_classes} classes")

        self.pretrained_path = None if pretrained_path is None else str(pretrained_path)
        if pretrained_path is not None:
            self._load_pretrained(net, Path(pretrained_path).expanduser(), head_name, name)
        pretrained = pretrained_path is not None

        self.small_input = bool(small_input) and isinstance(net, torchvision.models.ResNet)
        if self.small_input:
            _small_input_stem(net, in_channels, name, pretrained)
        _adapt_first_conv(net, in_channels, name, pretrained)

        self.head = net.get_submodule(head_name)
        _set_submodule(net, head_name, nn.Identity())
        self.backbone = net
        self.input_normalisation = imagenet_normalisation(name) if pretrained and in_channels == 3 else None

    @property
    def stem(self) -> str:
        """The input stem this model was built with (see :func:`input_stem`)."""
        return "small_input" if self.small_input else "torchvision"

    @staticmethod
    def _load_pretrained(net: nn.Module, path: Path, head_name: str, name: str) -> None:
        """Load a local state_dict into torchvision model ``name`` (step 1 of the class doc)."""
        if not path.is_file():
            raise FileNotFoundError(missing_weights_message(name, path))
        state = _load_state_dict_file(path)
        own = net.state_dict()
        head_keys = {f"{head_name}.weight", f"{head_name}.bias"}
        load, problems = {}, []
        for key, value in state.items():
            if key not in own:
                problems.append(f"unexpected {key}")
            elif own[key].shape == value.shape:
                load[key] = value
            elif key not in head_keys:
                problems.append(f"{key}: file {tuple(value.shape)} vs model {tuple(own[key].shape)}")
        problems += [
            f"missing {key}" for key in own
            if key not in state and key not in head_keys and not key.endswith("num_batches_tracked")
        ]
        if problems:
            shown = "; ".join(problems[:5]) + (f"; ... ({len(problems)} in all)" if len(problems) > 5 else "")
            raise ValueError(f"{path} does not match torchvision {type(net).__name__}: {shown}")
        net.load_state_dict(load, strict=False)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_normalisation is not None:  # step 5: per batch, on the batch's device
            mean, std = (torch.tensor(v, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
                         for v in self.input_normalisation)
            x = (x - mean) / std
        return self.backbone(x)

    def prunable_layers(self) -> list[nn.Module]:
        from torchvision.ops import MLP

        mlps = [m for m in self.backbone.modules() if isinstance(m, MLP)]
        if mlps:
            return [next(layer for layer in mlp if isinstance(layer, nn.Linear)) for mlp in mlps]
        return [m for m in self.backbone.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


# ---------------------------------------------------------------------------------------------
# config entry point
# ---------------------------------------------------------------------------------------------

KNOWN_ARCHS = ("fcn", "cnn", "torchvision")


def _image_shape(input_shape: tuple[int, ...], arch: str) -> tuple[int, int, int]:
    if len(input_shape) != 3:
        raise ValueError(f"models.*.arch {arch!r} needs image inputs (C, H, W), got input_shape={tuple(input_shape)}")
    return tuple(input_shape)  # type: ignore[return-value]


def build_model(spec: dict[str, Any], input_shape: tuple[int, ...], num_classes: int) -> SpuriousModel:
    """Instantiate the model described by a ``models:`` entry of the config.

    * ``{arch: fcn, width, depth}``
    * ``{arch: cnn, width_multiplier: 1.0, channels: [64, M, 128, ...] (optional)}``
    * ``{arch: torchvision, name: resnet18, pretrained_path: null, small_input: true,
      pretrained: (optional bool; true requires pretrained_path, false ignores it),
      kwargs: {} (extra keyword arguments of the torchvision builder),
      width: (optional; ResNets only: base width, torchvision's is 64, :func:`narrow_resnet`)}``
    """
    arch = spec["arch"]
    if arch == "fcn":
        return FCN(math.prod(input_shape), num_classes, width=spec["width"], depth=spec["depth"])
    if arch == "cnn":
        shape = _image_shape(input_shape, arch)
        return CNN(
            shape[0],
            num_classes,
            channels=tuple(spec.get("channels", VGG11_CHANNELS)),
            width_multiplier=float(spec.get("width_multiplier", 1.0)),
        )
    if arch == "torchvision":
        if "name" not in spec:
            raise ValueError("models.*.name is required for arch 'torchvision' (e.g. resnet18, swin_t)")
        path = spec.get("pretrained_path")
        if spec.get("pretrained") is True and not path:
            raise ValueError("models.*.pretrained: true needs models.*.pretrained_path (a local state_dict file)")
        if spec.get("pretrained") is False:
            path = None
        return TorchvisionClassifier(
            spec["name"],
            _image_shape(input_shape, arch),
            num_classes,
            pretrained_path=path or None,
            small_input=bool(spec.get("small_input", True)),
            model_kwargs=spec.get("kwargs"),
            width=spec.get("width"),
        )
    raise ValueError(f"unknown model arch {arch!r} (config key models.*.arch); known: {list(KNOWN_ARCHS)}")
