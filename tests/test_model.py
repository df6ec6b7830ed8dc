"""The ResNet9: its size, its shapes, and the errors for bad input."""

import pytest
import torch

from cifarlab.model import (
    BLOCKS,
    PARAMETERS_AT_DEFAULTS,
    ConvBlock,
    ResidualBlock,
    ResNet9,
    block_costs,
    block_outputs,
    count_parameters,
    shape_walk,
    summary,
)


def test_default_model_has_the_seed_parameter_count_and_ten_logits():
    model = ResNet9()
    assert count_parameters(model) == PARAMETERS_AT_DEFAULTS == 6_573_130
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert not any(isinstance(m, torch.nn.Conv2d) and m.bias is not None for m in model.modules())


def test_widths_dropout_and_logit_scale_are_arguments():
    small = ResNet9(widths=(8, 16, 32, 64), dropout=0.1, num_classes=3, logit_scale=1.0)
    assert small(torch.randn(2, 3, 32, 32)).shape == (2, 3)
    assert any(isinstance(m, torch.nn.Dropout) for m in small.modules())
    assert count_parameters(small) == 102_744 + 560 + 195  # convs + BatchNorm + fc, by hand
    x = torch.randn(4, 3, 32, 32)
    a, b = ResNet9(logit_scale=1.0).eval(), ResNet9(logit_scale=0.125).eval()
    b.load_state_dict(a.state_dict())
    assert torch.allclose(a(x) * 0.125, b(x), atol=1e-5)
    with pytest.raises(ValueError, match="4 numbers"):
        ResNet9(widths=(8, 16))


def test_residual_block_adds_its_input():
    block = ResidualBlock(8)
    for p in block.body.parameters():  # a body that outputs zeros: the block is the identity
        torch.nn.init.zeros_(p)
    x = torch.randn(2, 8, 5, 5)
    assert torch.equal(block(x), x)
    assert ConvBlock(3, 8, pool=True)(torch.randn(1, 3, 8, 8)).shape == (1, 8, 4, 4)


def test_shape_walk_lists_every_block_with_its_shape():
    text = shape_walk(ResNet9())
    for name, shape in [
        ("prep", "(1, 64, 32, 32)"),
        ("layer1.1", "(1, 128, 16, 16)"),
        ("layer2", "(1, 256, 8, 8)"),
        ("layer3.1", "(1, 512, 4, 4)"),
        ("fc", "(1, 10)"),
    ]:
        assert any(line.startswith(name) and shape in line for line in text.splitlines()), name
    assert "6,573,130" in text.splitlines()[-1]
    outputs = block_outputs(ResNet9().eval(), torch.randn(2, 3, 32, 32))
    assert list(outputs) == list(BLOCKS)


def test_torchinfo_summary_counts_the_same_parameters():
    assert summary(ResNet9(), batch_size=2).total_params == PARAMETERS_AT_DEFAULTS


@pytest.mark.parametrize(
    "x, words",
    [
        (torch.zeros(2, 32, 32, 3), "channels are last"),
        (torch.zeros(2, 1, 32, 32), r"got shape \(2, 1, 32, 32\)"),
        (torch.zeros(2, 3, 64, 64), r"got shape \(2, 3, 64, 64\)"),
        (torch.zeros(3, 32, 32), "add a batch axis"),
        (torch.zeros(2, 3, 32, 32, dtype=torch.uint8), "dtype torch.uint8"),
    ],
)
def test_bad_input_names_the_expected_shape(x, words):
    with pytest.raises(ValueError, match=r"\(N, 3, 32, 32\)") as error:
        ResNet9()(x)
    assert pytest.importorskip("re").search(words, str(error.value))


def test_block_outputs_rejects_unknown_names():
    with pytest.raises(ValueError, match="no block named"):
        block_outputs(ResNet9(), torch.zeros(1, 3, 32, 32), blocks=("layer9",))


def test_customresnet_is_the_seeds_name_for_resnet9():
    from cifarlab.model import CustomResNet

    assert CustomResNet is ResNet9


def test_eval_mode_restores_the_mode_it_found_even_after_an_error():
    from cifarlab.model import eval_mode

    model = ResNet9(widths=(4, 8, 8, 8)).train()
    with eval_mode(model):
        assert not model.training
    assert model.training
    with pytest.raises(RuntimeError, match="inside"), eval_mode(model):
        raise RuntimeError("inside")
    assert model.training
    model.eval()
    with eval_mode(model):
        pass
    assert not model.training  # a model that was in eval mode stays there


def test_summary_prints_the_total_of_multiply_adds_as_a_number_not_an_enum():
    stats = summary(ResNet9(), batch_size=2, depth=2)
    text = str(stats)
    assert "Units." not in text
    assert f"Total mult-adds: {stats.total_mult_adds:,}" in text.splitlines()


def test_block_costs_add_up_to_torchinfos_totals_and_match_the_convs_arithmetic():
    model = ResNet9()
    costs = block_costs(model, batch_size=2)
    assert list(costs) == list(BLOCKS)
    assert sum(p for p, _ in costs.values()) == PARAMETERS_AT_DEFAULTS
    assert sum(m for _, m in costs.values()) == summary(model, batch_size=2).total_mult_adds
    outputs = {}
    hooks = [
        m.register_forward_hook(lambda m, i, o: outputs.__setitem__(m, o.shape))
        for m in model.layer3[1].modules()
        if isinstance(m, torch.nn.Conv2d)
    ]
    with torch.no_grad():
        model.eval()(torch.zeros(2, 3, 32, 32))
    for hook in hooks:
        hook.remove()
    # a conv does one multiply-add per weight at every position of its output, for every image
    convs = sum(shape[0] * shape[2] * shape[3] * conv.weight.numel() for conv, shape in outputs.items())
    assert convs <= costs["layer3.1"][1] < convs * 1.01  # the rest: BatchNorm's scale and shift


def test_block_outputs_names_the_models_own_blocks_when_one_is_missing():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten())
    with pytest.raises(ValueError, match=r"Its blocks are \['0', '1'\]; cifarlab's ResNet9 has \['prep'"):
        block_outputs(model, torch.zeros(1, 3, 32, 32))
