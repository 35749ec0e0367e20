"""Plumbing checks for largelr.analyses.segmentation (paper §5, Fig 10).

The DeepLabV3 networks here have RANDOM weights (``allow_random=True``; nothing is ever
downloaded), so only shapes, dtypes, preprocessing and weight loading are tested — the masks
themselves mean nothing. Known-answer checks of the mask logic use a hand-made stand-in
segmenter.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from largelr.analyses import segmentation as S
from largelr.analyses.attribution import background_share


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module", params=S.BACKENDS)
def random_segmenter(request):
    """A RANDOMLY initialised DeepLabV3-ResNet50 of each backend (plumbing only)."""
    with pytest.warns(UserWarning, match="RANDOM"):
        return request.param, S.load_segmenter(request.param, None, allow_random=True)


def test_random_segmenter_masks_shape(random_segmenter):
    _, segmenter = random_segmenter
    grey = torch.rand(2, 1, 28, 28)
    rgb = torch.rand(1, 3, 32, 32)
    for images in (grey, rgb):
        masks = S.background_masks(segmenter, images, size=32)
        assert masks.dtype == torch.bool
        assert masks.shape == (len(images), *images.shape[-2:])
    assert not segmenter.training


@pytest.mark.parametrize("backend", S.BACKENDS)
@pytest.mark.parametrize("path", [None, "does/not/exist.pth"])
def test_missing_weights_raise(backend, path):
    with pytest.raises(FileNotFoundError) as err:
        S.load_segmenter(backend, path)
    message = str(err.value)
    assert "analysis.segmenter.weights_path" in message
    assert "deeplabv3_resnet50_coco" in message  # where torchvision's VOC weights come from
    assert "never downloaded" in message


def test_weights_round_trip(random_segmenter, tmp_path):
    backend, segmenter = random_segmenter
    with torch.no_grad():  # make the saved weights distinguishable from a fresh random init
        first = next(segmenter.parameters())
        first.fill_(0.125)
    path = tmp_path / f"{backend}.pth"
    torch.save({"state_dict": segmenter.state_dict()}, path)  # wrapped, as many checkpoints are
    loaded = S.load_segmenter(backend, str(path))
    assert not loaded.training
    reference = segmenter.state_dict()
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, reference[key]), key


def test_torchvision_aux_classifier_checkpoint_and_mismatch(tmp_path):
    """torchvision's VOC checkpoint has aux_classifier.* tensors: the model is built with aux_loss."""
    from torchvision.models.segmentation.fcn import FCNHead

    with pytest.warns(UserWarning, match="RANDOM"):
        segmenter = S.load_segmenter("torchvision", None, allow_random=True)
    state = dict(segmenter.state_dict())
    state.update({f"aux_classifier.{k}": v for k, v in FCNHead(1024, 21).state_dict().items()})
    path = tmp_path / "tv_aux.pth"
    torch.save(state, path)
    assert S.load_segmenter("torchvision", path).aux_classifier is not None
    torch.save({"bad": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match="does not match"):
        S.load_segmenter("torchvision", path)


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown segmenter backend"):
        S.load_segmenter("mmseg", None, allow_random=True)


class LeftHalfBackground(nn.Module):
    """Stand-in segmenter: class 0 (background) on the left half, class 5 elsewhere; records input."""

    def __init__(self, as_dict: bool) -> None:
        super().__init__()
        self.as_dict = as_dict
        self.seen: list[torch.Tensor] = []

    def forward(self, x):
        self.seen.append(x)
        logits = torch.zeros(x.shape[0], 21, *x.shape[-2:])
        half = x.shape[-1] // 2
        logits[:, 0, :, :half] = 1.0
        logits[:, 5, :, half:] = 1.0
        return {"out": logits} if self.as_dict else logits


@pytest.mark.parametrize("as_dict", [True, False])
def test_background_masks_known_answer(as_dict):
    segmenter = LeftHalfBackground(as_dict)
    images = torch.full((3, 1, 6, 8), 0.5)
    masks = S.background_masks(segmenter, images, size=16, batch_size=2)
    expected = torch.zeros(3, 6, 8, dtype=torch.bool)
    expected[:, :, :4] = True
    assert torch.equal(masks, expected)
    assert [tuple(x.shape) for x in segmenter.seen] == [(2, 3, 16, 16), (1, 3, 16, 16)]  # batched, RGB, upsampled
    mean = torch.tensor(S.IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(S.IMAGENET_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(segmenter.seen[0], ((0.5 - mean) / std).expand(2, 3, 16, 16))
    # attribution only on the background half → 100 %; only on the object → 0 %
    attr = torch.zeros(3, 6, 8)
    attr[:, :, 1] = 1.0
    assert background_share(attr, masks).tolist() == [1.0, 1.0, 1.0]
    attr[:, :, 1], attr[:, :, 6] = 0.0, 2.0
    assert background_share(attr, masks).tolist() == [0.0, 0.0, 0.0]


def test_background_masks_rejects_bad_images():
    with pytest.raises(ValueError, match="C in"):
        S.background_masks(LeftHalfBackground(True), torch.rand(2, 2, 8, 8), size=8)
