"""Background masks for the background attribution percentage (paper §5, Fig 10).

§5: "Utilizing the DeepLabV3 segmentation algorithm to extract background maps [8], we
compute the percentage of attributions that fall within vs. outside these image background
segments." The (small, 28–32 px) dataset images are upsampled, segmented by a DeepLabV3
trained with the 21 Pascal-VOC labels (class 0 = background), and the background pixels,
resized back to the image grid, give the mask for
:func:`largelr.analyses.attribution.background_share`.

Backends (``analysis.segmenter.backend``):

* ``"torchvision"`` — ``torchvision.models.segmentation.deeplabv3_resnet50`` (21 classes);
  its VOC-label checkpoint is torchvision's ``DeepLabV3_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1``
  (:func:`torchvision_weights_url`).
* ``"smp"`` — ``segmentation_models_pytorch.DeepLabV3(encoder_name="resnet50", classes=21)``
  with a checkpoint trained on VOC labels (smp ships none; bring your own).

Weights are always read from a local file (``analysis.segmenter.weights_path``); nothing is
ever downloaded.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

BACKENDS = ("torchvision", "smp")
NUM_CLASSES = 21  # Pascal VOC: background + 20 object classes
BACKGROUND_CLASS = 0
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CONFIG_KEY = "analysis.segmenter.weights_path"


def torchvision_weights_url() -> str:
    """Where torchvision's VOC-label DeepLabV3-ResNet50 weights come from (not downloaded here)."""
    from torchvision.models.segmentation import DeepLabV3_ResNet50_Weights

    return DeepLabV3_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1.url


def _missing_weights_message(backend: str, weights_path: str | Path | None, config_key: str) -> str:
    where = "is not set" if weights_path is None else f"= {weights_path} does not exist"
    if backend == "torchvision":
        how = (
            "expected a state_dict file of torchvision.models.segmentation.deeplabv3_resnet50 "
            "(21 Pascal-VOC classes, background = 0); torchvision's VOC-label weights "
            "(DeepLabV3_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1) are published at "
            f"{torchvision_weights_url()} — fetch that file on a machine with internet access and "
            "point the key at it"
        )
    else:
        how = (
            "expected a state_dict file of segmentation_models_pytorch.DeepLabV3("
            "encoder_name='resnet50', classes=21) trained on Pascal-VOC labels (background = 0), "
            "saved with torch.save(model.state_dict(), path); alternatively use backend "
            f"'torchvision' with the weights at {torchvision_weights_url()}"
        )
    return f"segmenter weights: config key {config_key} {where}; {how}. Weights are never downloaded."


def _read_state_dict(path: Path) -> dict[str, Tensor]:
    state = torch.load(path, map_location="cpu", weights_only=True)
    for wrapper in ("state_dict", "model"):  # common checkpoint wrappers
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError(f"{path} does not hold a state_dict (config key {CONFIG_KEY})")
    return {k.removeprefix("module."): v for k, v in state.items()}  # DataParallel checkpoints


def _build(backend: str, aux_loss: bool) -> nn.Module:
    if backend == "torchvision":
        from torchvision.models.segmentation import deeplabv3_resnet50

        return deeplabv3_resnet50(weights=None, weights_backbone=None, num_classes=NUM_CLASSES, aux_loss=aux_loss)
    import segmentation_models_pytorch as smp

    return smp.DeepLabV3(encoder_name="resnet50", encoder_weights=None, classes=NUM_CLASSES)


def load_segmenter(
    backend: str,
    weights_path: str | Path | None,
    allow_random: bool = False,
    config_key: str = CONFIG_KEY,
) -> nn.Module:
    """DeepLabV3-ResNet50 with 21 VOC classes (background = 0) in eval mode, on the CPU.

    ``backend``: ``"torchvision"`` (``deeplabv3_resnet50(weights=None, weights_backbone=None,
    num_classes=21)``; ``aux_loss`` is switched on when the file holds ``aux_classifier.*``
    tensors, as torchvision's COCO_WITH_VOC_LABELS_V1 checkpoint does) or ``"smp"``
    (``segmentation_models_pytorch.DeepLabV3(encoder_name="resnet50", encoder_weights=None,
    classes=21)``). Both are built without any pretrained weights and then load the local
    ``weights_path`` strictly (a plain state_dict, possibly wrapped in ``{"state_dict": …}`` /
    ``{"model": …}`` or with DataParallel ``module.`` prefixes).

    A ``weights_path`` that is ``None`` or missing raises ``FileNotFoundError`` naming
    ``config_key``, the expected file and where torchvision's VOC weights come from — unless
    ``allow_random=True``, which returns the **randomly initialised** network (with a warning):
    that is for plumbing tests only, its masks mean nothing.
    """
    if backend not in BACKENDS:
        raise ValueError(
            f"unknown segmenter backend {backend!r} (config key analysis.segmenter.backend); known: {list(BACKENDS)}"
        )
    path = None if weights_path is None else Path(weights_path).expanduser()
    if path is None or not path.is_file():
        if not allow_random:
            raise FileNotFoundError(_missing_weights_message(backend, weights_path, config_key))
        warnings.warn(
            f"segmenter ({backend}) has RANDOM weights ({config_key} missing); masks are meaningless — "
            "allow_random is for plumbing tests only",
            stacklevel=2,
        )
        return _build(backend, aux_loss=False).eval()

    state = _read_state_dict(path)
    aux = backend == "torchvision" and any(k.startswith("aux_classifier.") for k in state)
    model = _build(backend, aux_loss=aux)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(
            f"{path} (config key {config_key}) does not match the {backend} DeepLabV3-ResNet50 with "
            f"{NUM_CLASSES} classes: {str(err)[:600]}"
        ) from err
    return model.eval()


def background_masks(
    segmenter: nn.Module,
    images: Tensor,
    size: int = 224,
    background_class: int = BACKGROUND_CLASS,
    batch_size: int = 32,
) -> Tensor:
    """Boolean N×H×W masks of the pixels the segmenter labels background (§5, Fig 10).

    ``images``: N×C×H×W in [0, 1] with C = 1 (replicated to RGB) or 3. Each batch is upsampled
    to ``size``×``size`` (bilinear), normalised with the ImageNet mean/std both DeepLabV3
    backends were trained with, segmented (eval mode, no grad; torchvision's dict output uses
    ``["out"]``), arg-maxed over the classes, and the background map (class
    ``background_class``) is resized back to H×W with nearest-neighbour sampling so it aligns
    pixel-for-pixel with :func:`largelr.analyses.attribution.attribution_map`. The smp backend needs
    ``size`` divisible by its encoder's output stride (224 is). Returned on ``images``' device.
    """
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must be N×C×H×W with C in (1, 3), got shape {tuple(images.shape)}")
    if size < 1 or batch_size < 1:
        raise ValueError(f"size and batch_size must be positive, got {size}, {batch_size}")
    height, width = images.shape[-2:]
    param = next(segmenter.parameters(), None)
    device = param.device if param is not None else images.device
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    mean = torch.tensor(IMAGENET_MEAN, device=device, dtype=dtype).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device, dtype=dtype).view(1, 3, 1, 1)

    segmenter.eval()
    masks = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            x = images[start : start + batch_size].to(device=device, dtype=dtype)
            if x.shape[1] == 1:
                x = x.expand(-1, 3, -1, -1)
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
            out = segmenter((x - mean) / std)
            if isinstance(out, dict):
                out = out["out"]
            if out.dim() != 4:
                raise ValueError(f"segmenter returned shape {tuple(out.shape)}, expected N×classes×H×W")
            background = (out.argmax(dim=1) == background_class).float().unsqueeze(1)
            background = F.interpolate(background, size=(height, width), mode="nearest")
            masks.append(background.squeeze(1).bool())
    if not masks:
        return torch.zeros((0, height, width), dtype=torch.bool, device=images.device)
    return torch.cat(masks).to(images.device)
