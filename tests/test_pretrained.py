"""The offline EfficientNet-Lite weights load into timm and classify ImageNet pictures correctly."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tf_efficientnet_lite0", "tf_efficientnet_lite2"])
def test_lite_weights_recognise_imagenet_pictures(name):
    import skimage.data
    import timm
    import torch.nn.functional as F

    from dermsynth.core.pretrained import lite_weights_path, load_lite_state_dict

    m = timm.create_model(name, pretrained=False, num_classes=1000).eval()
    load_lite_state_dict(m, lite_weights_path(name))
    preds = []
    for img in (skimage.data.chelsea(), skimage.data.coffee()):
        x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
        x = F.interpolate(x, size=(224, 224), mode="bilinear", antialias=True)
        with torch.no_grad():
            preds.append(m((x - 0.5) / 0.5).argmax().item())
    assert preds == [285, 967]  # Egyptian cat, espresso


def test_backbone_feature_head_and_provenance():
    from dermsynth.core.pretrained import create_backbone

    m, info = create_backbone("tf_efficientnet_lite0", num_classes=0, weights="imagenet")
    assert info.weights.startswith("imagenet:efficientnet-lite0")
    with torch.no_grad():
        f = m.eval()(torch.zeros(1, 3, 64, 64))
    assert f.shape == (1, 1280)
    _, info = create_backbone("tf_efficientnet_lite0", num_classes=2, weights=None)
    assert info.weights == "random-init"


def test_missing_checkpoint_names_the_file(tmp_path):
    from dermsynth.core.pretrained import create_backbone

    with pytest.raises(FileNotFoundError, match="nope.pt"):
        create_backbone("tf_efficientnet_lite0", weights=tmp_path / "nope.pt")
