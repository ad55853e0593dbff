import torch

from models.resnet import BasicBlock, PurchaseResNet


def test_block_keeps_shape_and_adds_identity() -> None:
    block = BasicBlock(4).eval()
    x = torch.randn(2, 4, 8, 8)
    assert block(x).shape == x.shape


def test_padded_slots_are_masked_and_do_not_leak() -> None:
    torch.manual_seed(0)
    net = PurchaseResNet(user_dim=150, item_dim=120, n_items=4).eval()
    u = torch.randn(1, 150)
    items = torch.randn(1, 4, 120)
    mask = torch.tensor([[True, True, False, False]])
    out = net(u, items, mask)
    assert torch.all(out[0, 2:] == -30.0)
    items2 = items.clone()
    items2[0, 2:] = 99.0  # garbage in the padding changes nothing
    assert torch.allclose(net(u, items2, mask)[0, :2], out[0, :2])


def test_scoring_uses_a_traced_resnet_with_the_eager_probabilities(quick_model) -> None:
    import pickle

    import numpy as np

    from models.artifact import load_artifact
    from models.fusion import resnet_probabilities

    scorer = load_artifact(quick_model[0]).scorer
    rng = np.random.default_rng(4)
    for n, sizes in ((1, [1]), (40, [16, 16, 8]), (700, [16] * 43 + [12])):
        U, I = rng.normal(size=(n, 150)).astype(np.float32), rng.normal(size=(n, 120)).astype(np.float32)
        eager = scorer.calibration[0](resnet_probabilities(scorer.resnet, U, I, sizes))
        np.testing.assert_allclose(scorer.score(U, I, sizes).resnet, eager, rtol=1e-5, atol=1e-6)
    assert "_traced" in vars(scorer) and "_traced" not in vars(pickle.loads(pickle.dumps(scorer)))
