import pytest
import torch
import torchvision
from torch import nn
from torch.nn.utils import prune

from largelr.training.models import CNN, FCN, HalvingMaxPool2d, TorchvisionClassifier, build_model, input_stem


def test_fcn_has_no_bias_and_exposes_penultimate_representation():
    model = build_model({"arch": "fcn", "width": 7, "depth": 3}, input_shape=(1, 4, 5), num_classes=3)
    assert all(module.bias is None for module in model.modules() if isinstance(module, torch.nn.Linear))
    x = torch.randn(6, 1, 4, 5)
    z = model.features(x)
    assert z.shape == (6, 7) and model.representation_size == 7
    assert (z >= 0).all()  # post-ReLU
    torch.testing.assert_close(model(x), z @ model.head.weight.T)  # head reads exactly the representation


def test_prunable_layers_are_the_hidden_layers_not_the_head():
    model = FCN(in_features=10, num_classes=2, width=5, depth=2)
    layers = model.prunable_layers()
    assert layers == list(model.hidden) and model.head not in layers


def test_unknown_architecture_names_the_config_key():
    with pytest.raises(ValueError, match="models.*.arch"):
        build_model({"arch": "transformer9000"}, (3,), 2)


# ---------------------------------------------------------------------------------------------
# CNN (VGG11-like, bias-free, single linear layer)
# ---------------------------------------------------------------------------------------------

IMAGE_SHAPES = [(1, 28, 28), (3, 28, 28), (1, 28, 56), (3, 32, 32), (3, 64, 32)]
SMALL_CNN = {"arch": "cnn", "width_multiplier": 0.125}


def _check_interface(model, shape, num_classes, rep_size, nonnegative=True):
    model.eval()
    x = torch.randn(2, *shape)
    with torch.no_grad():
        z, out = model.features(x), model(x)
    assert out.shape == (2, num_classes)
    assert z.shape == (2, rep_size) and model.representation_size == rep_size
    if nonnegative:
        assert (z >= 0).all()  # post-ReLU representation
    torch.testing.assert_close(model.head(z), out)  # head reads exactly the representation
    assert model.head not in model.prunable_layers()
    assert all(layer is not model.head for layer in model.prunable_layers())


@pytest.mark.parametrize("shape", IMAGE_SHAPES)
def test_cnn_accepts_every_image_shape(shape):
    model = build_model(SMALL_CNN, shape, num_classes=4)
    _check_interface(model, shape, num_classes=4, rep_size=64)  # 512 · 0.125
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 8 and convs[0].in_channels == shape[0]  # VGG11: 8 convs
    assert model.prunable_layers() == convs
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


def test_full_width_cnn_has_vgg11_widths():
    model = CNN(in_channels=3, num_classes=10)
    widths = [m.out_channels for m in model.prunable_layers()]
    assert widths == [64, 128, 256, 256, 512, 512, 512, 512]
    assert model.representation_size == 512
    assert isinstance(model.head, nn.Linear) and model.head.out_features == 10


def test_cnn_channels_override():
    model = build_model({"arch": "cnn", "channels": [8, "M", 16]}, (1, 28, 28), 3)
    assert [m.out_channels for m in model.prunable_layers()] == [8, 16]
    _check_interface(model, (1, 28, 28), 3, rep_size=16)
    with pytest.raises(ValueError):
        build_model({"arch": "cnn", "channels": ["M"]}, (1, 28, 28), 3)


def test_halving_max_pool_leaves_size_one_dims_alone():
    pool = HalvingMaxPool2d()
    assert pool(torch.randn(1, 2, 1, 3)).shape == (1, 2, 1, 1)
    assert pool(torch.randn(1, 2, 3, 3)).shape == (1, 2, 1, 1)
    assert pool(torch.randn(1, 2, 4, 6)).shape == (1, 2, 2, 3)
    assert pool(torch.randn(1, 2, 1, 1)).shape == (1, 2, 1, 1)
    x = torch.tensor([[[[1.0, 5.0, 2.0]]]])
    torch.testing.assert_close(pool(x), torch.tensor([[[[5.0]]]]))


@pytest.mark.parametrize("spec", [{"arch": "fcn", "width": 8, "depth": 2}, SMALL_CNN])
def test_fcn_and_cnn_have_no_bias_parameters(spec):
    model = build_model(spec, (3, 32, 32), 5)
    assert not [name for name, _ in model.named_parameters() if "bias" in name]
    assert all(getattr(m, "bias", None) is None for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d)))


def _prune_unit_and_check_zero(model, shape, k=1):
    """Make unit k of the first prunable layer the smallest, prune one unit, check its output is 0."""
    model.eval()
    layer = model.prunable_layers()[0]
    with torch.no_grad():
        layer.weight[k] *= 1e-3
    prune.ln_structured(layer, "weight", amount=1, n=2, dim=0)
    assert (layer.weight[k] == 0).all() and (layer.weight_mask.sum(dim=tuple(range(1, layer.weight.dim()))) == 0).sum() == 1
    captured = {}
    handle = layer.register_forward_hook(lambda _m, _i, out: captured.setdefault("out", out))
    with torch.no_grad():
        model(torch.randn(2, *shape))
    handle.remove()
    out = captured["out"]
    assert (out[:, k] == 0).all() and out.abs().sum() > 0


def test_pruning_a_cnn_kernel_zeroes_its_output_channel():
    _prune_unit_and_check_zero(build_model(SMALL_CNN, (3, 32, 32), 3), (3, 32, 32), k=2)


# ---------------------------------------------------------------------------------------------
# torchvision classifiers
# ---------------------------------------------------------------------------------------------


def _tv(name, **extra):
    return {"arch": "torchvision", "name": name, **extra}


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (3, 64, 32)])
def test_resnet18_shapes_and_representation(shape):
    model = build_model(_tv("resnet18"), shape, num_classes=3)
    assert isinstance(model, TorchvisionClassifier)
    _check_interface(model, shape, num_classes=3, rep_size=512)
    stem = model.backbone.conv1
    assert stem.in_channels == shape[0] and stem.kernel_size == (3, 3) and stem.stride == (1, 1)
    assert isinstance(model.backbone.maxpool, nn.Identity) and isinstance(model.backbone.fc, nn.Identity)


def test_resnet18_prunable_layers_are_all_backbone_convs_and_linears():
    model = build_model(_tv("resnet18", small_input=False), (3, 32, 32), num_classes=3)
    assert model.backbone.conv1.kernel_size == (7, 7) and isinstance(model.backbone.maxpool, nn.MaxPool2d)
    layers = model.prunable_layers()
    assert len(layers) == 20  # 17 3×3/7×7 convs + 3 downsample convs; fc is the head
    assert all(isinstance(m, nn.Conv2d) for m in layers) and model.head not in layers
    _prune_unit_and_check_zero(model, (3, 32, 32), k=5)


def test_resnet50_representation_is_2048():
    model = build_model(_tv("resnet50"), (1, 28, 28), num_classes=2)
    _check_interface(model, (1, 28, 28), num_classes=2, rep_size=2048)


def test_generic_torchvision_model_by_name():
    """Any torchvision classifier works by config alone: classifier[-1] becomes the head."""
    model = build_model(_tv("mobilenet_v3_small"), (1, 32, 32), num_classes=4)
    assert model.head.in_features == 1024 and model.head.out_features == 4
    assert isinstance(model.backbone.classifier[-1], nn.Identity)
    assert model.backbone.features[0][0].in_channels == 1
    _check_interface(model, (1, 32, 32), 4, rep_size=1024, nonnegative=False)  # ends with Dropout(Hardswish)


def test_swin_t_representation_is_post_layernorm_and_prunes_mlp_fc1():
    model = build_model(_tv("swin_t"), (3, 224, 224), num_classes=2)
    _check_interface(model, (3, 224, 224), num_classes=2, rep_size=768, nonnegative=False)
    _check_interface(model, (3, 64, 32), num_classes=2, rep_size=768, nonnegative=False)
    layers = model.prunable_layers()
    assert len(layers) == 12  # 2 + 2 + 6 + 2 blocks
    assert all(isinstance(m, nn.Linear) and m.out_features == 4 * m.in_features for m in layers)


def test_wide_resnet101_2_constructs_and_runs():
    model = build_model(_tv("wide_resnet101_2"), (3, 32, 32), num_classes=2)
    _check_interface(model, (3, 32, 32), num_classes=2, rep_size=2048)


def test_pretrained_path_round_trip(tmp_path):
    torch.manual_seed(0)
    source = torchvision.models.resnet18(weights=None)  # 1000-class "ImageNet" layout
    path = tmp_path / "resnet18.pt"
    torch.save(source.state_dict(), path)
    expected = source.state_dict()

    model = build_model(_tv("resnet18", pretrained_path=str(path), small_input=False), (3, 32, 32), 3)
    loaded = model.backbone.state_dict()
    assert set(loaded) == set(expected) - {"fc.weight", "fc.bias"}
    for key, value in loaded.items():
        torch.testing.assert_close(value, expected[key], rtol=0, atol=0)
    assert model.head.weight.shape == (3, 512)  # fresh head for the new class count

    # same class count: the head is loaded too
    same = build_model(_tv("resnet18", pretrained_path=str(path), small_input=False), (3, 32, 32), 1000)
    torch.testing.assert_close(same.head.weight, expected["fc.weight"], rtol=0, atol=0)

    # 1-channel data: the stem is the RGB-summed pretrained stem (= grey image replicated)
    grey = build_model(_tv("resnet18", pretrained_path=str(path), small_input=False), (1, 32, 32), 3)
    torch.testing.assert_close(grey.backbone.conv1.weight, expected["conv1.weight"].sum(1, keepdim=True))
    x = torch.rand(2, 1, 32, 32)
    model.eval(), grey.eval()
    with torch.no_grad():
        # (the backbone: a pretrained model on 3-channel data also normalises its inputs, step 5)
        torch.testing.assert_close(grey.features(x), model.backbone(x.expand(-1, 3, -1, -1)), rtol=1e-4, atol=1e-4)

    # small_input: fresh 3×3 stem (with a warning), everything else still loaded
    with pytest.warns(UserWarning, match="small_input"):
        small = build_model(_tv("resnet18", pretrained_path=str(path)), (3, 32, 32), 3)
    torch.testing.assert_close(small.backbone.layer4[1].conv2.weight, expected["layer4.1.conv2.weight"])

    # pretrained: false switches the file off
    off = build_model(_tv("resnet18", pretrained_path=str(tmp_path / "absent.pt"), pretrained=False), (3, 32, 32), 3)
    assert off.pretrained_path is None


def test_missing_pretrained_file_names_the_config_key(tmp_path):
    with pytest.raises(FileNotFoundError, match="pretrained_path") as info:
        build_model(_tv("resnet18", pretrained_path=str(tmp_path / "nope.pt")), (3, 32, 32), 3)
    assert "nope.pt" in str(info.value)
    with pytest.raises(ValueError, match="pretrained_path"):
        build_model(_tv("resnet18", pretrained=True), (3, 32, 32), 3)


def test_pretrained_file_of_another_architecture_is_rejected(tmp_path):
    path = tmp_path / "wrong.pt"
    torch.save({"conv1.weight": torch.zeros(1), "other.weight": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="does not match"):
        build_model(_tv("resnet18", pretrained_path=str(path)), (3, 32, 32), 3)


def test_image_architectures_reject_flat_inputs_and_need_a_name():
    with pytest.raises(ValueError, match="C, H, W"):
        build_model(SMALL_CNN, (10,), 2)
    with pytest.raises(ValueError, match="models.*.name"):
        build_model({"arch": "torchvision"}, (3, 32, 32), 2)
    with pytest.raises(ValueError, match="pretrained_path"):
        build_model(_tv("resnet18", kwargs={"weights": "DEFAULT"}), (3, 32, 32), 2)


def test_missing_pretrained_file_error_names_the_key_the_path_and_where_the_weights_come_from(tmp_path):
    """§4.2: Swin-T starts from ImageNet-1k weights; a missing local file is an error worded as
    the DeepLabV3 segmenter's (config key, path, where torchvision publishes the weights)."""
    path = tmp_path / "swin_t-704ceda3.pth"
    spec = _tv("swin_t", pretrained=True, pretrained_path=str(path))
    with pytest.raises(FileNotFoundError) as info:
        build_model(spec, (3, 64, 64), 2)
    message = str(info.value)
    assert f"config key models.*.pretrained_path = {path} does not exist" in message
    assert "swin_t" in message and "download.pytorch.org" in message and "never downloaded" in message


@pytest.mark.parametrize("spec, stem", [
    (_tv("resnet18"), "small_input"),
    (_tv("resnet18", small_input=False), "torchvision"),
    (_tv("wide_resnet101_2", small_input=False), "torchvision"),
    (_tv("swin_t"), "torchvision"),  # small_input only ever changes ResNets
])
def test_input_stem_says_which_stem_a_built_model_has(spec, stem):
    assert input_stem(spec) == stem
    if spec["name"] == "resnet18":
        model = build_model(spec, (3, 32, 32), 2)
        assert model.stem == stem
        assert model.backbone.conv1.kernel_size == ((3, 3) if stem == "small_input" else (7, 7))
    assert input_stem({"arch": "fcn", "width": 4, "depth": 1}) is None


def test_pretrained_models_normalise_each_batch_as_their_weights_were_trained_and_scratch_models_do_not(tmp_path):
    """Issue 26 item 2: ImageNet mean / std from the weights' own metadata (Weights.transforms()),
    applied per batch on the device; no buffer (model.pt and stacking unchanged)."""
    from largelr.training.models import imagenet_normalisation
    from largelr.training.stacked_state import why_buffers_not_stackable

    torch.manual_seed(0)
    path = tmp_path / "resnet18.pt"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    transforms = torchvision.models.ResNet18_Weights.DEFAULT.transforms()
    mean, std = imagenet_normalisation("resnet18")
    assert (list(mean), list(std)) == (list(transforms.mean), list(transforms.std))
    assert imagenet_normalisation("swin_t") == (tuple(torchvision.models.Swin_T_Weights.DEFAULT.transforms().mean),
                                                tuple(torchvision.models.Swin_T_Weights.DEFAULT.transforms().std))
    pretrained = build_model(_tv("resnet18", pretrained_path=str(path), small_input=False), (3, 32, 32), 3).eval()
    scratch = build_model(_tv("resnet18", small_input=False), (3, 32, 32), 3).eval()
    x = torch.rand(2, 3, 32, 32)
    normalised = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    with torch.no_grad():
        assert torch.equal(pretrained.features(x), pretrained.backbone(normalised))
        assert torch.equal(scratch.features(x), scratch.backbone(x))
    assert pretrained.state_dict().keys() == scratch.state_dict().keys()
    assert why_buffers_not_stackable(pretrained) is None
