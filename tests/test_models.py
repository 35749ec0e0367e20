import pytest
import torch

from largelr.models import FCN, build_model


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
