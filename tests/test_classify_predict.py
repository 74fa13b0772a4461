"""Exported classifiers: export -> load -> predict on a dataset dir; predictions feed `classify metrics`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from dermsynth.classify.exported import export_classifier, load_classifier, predict_dataset, predict_images


@pytest.fixture(scope="module")
def phantom(tmp_path_factory):
    from dermsynth.data.phantom import make_phantom_dataset

    return make_phantom_dataset(tmp_path_factory.mktemp("ph") / "ph", 12, 48, seed=5)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from dermsynth.classify.models import build_classifier

    torch.manual_seed(0)
    clf = build_classifier("tf_efficientnet_lite0", None)
    torch.nn.init.normal_(clf.model.get_classifier().weight, std=0.5)  # outputs that differ per image
    out = tmp_path_factory.mktemp("exp") / "m"
    export_classifier(clf, {"model": "tf_efficientnet_lite0", "input_size": 48, "val_auc": 0.5}, out)
    return clf, out


def test_export_roundtrip_equals_the_model(exported, phantom):
    from dermsynth.core.io import read_rgb
    from dermsynth.core.manifest import read_manifest

    clf, out = exported
    meta = json.loads((out / "model.json").read_text())
    assert meta["kind"] == "melanoma-classifier" and meta["model"] == "tf_efficientnet_lite0"
    loaded, meta = load_classifier(out)
    man = read_manifest(phantom)
    imgs = [read_rgb(phantom / f) for f in man["file"]]
    clf.model.eval()
    a = predict_images(clf, meta, imgs, tta=False)
    b = predict_images(loaded, meta, imgs, tta=False)
    np.testing.assert_array_equal(a, b)  # same weights, same arithmetic
    assert a.std() > 0


def test_tta_is_invariant_to_flips_and_rotations(exported, phantom):
    from dermsynth.core.io import read_rgb
    from dermsynth.core.manifest import read_manifest

    clf, out = exported
    loaded, meta = load_classifier(out)
    man = read_manifest(phantom)
    imgs = [read_rgb(phantom / f) for f in man["file"]][:4]
    turned = [np.ascontiguousarray(np.rot90(im[:, ::-1], 1)) for im in imgs]
    a = predict_images(loaded, meta, imgs, tta=True)
    b = predict_images(loaded, meta, turned, tta=True)
    # the 8 views of an image are the 8 views of its flipped/rotated copy: equal up to summation order
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_predict_dataset_skips_bad_images_and_feeds_metrics(exported, phantom, tmp_path):
    from typer.testing import CliRunner

    from dermsynth.cli.main import app
    from dermsynth.core.manifest import read_manifest

    _, out = exported
    man = read_manifest(phantom)
    bad = phantom / man["file"].iloc[0]
    saved = bad.read_bytes()
    bad.write_bytes(b"not an image")
    try:
        with pytest.warns(UserWarning, match=str(bad.name)):
            df = predict_dataset(phantom, out, device="cpu", tta=False)
    finally:
        bad.write_bytes(saved)
    assert list(df.columns[:3]) == ["image_id", "label", "score"]
    assert np.isnan(df["score"].iloc[0]) and df["score"].iloc[1:].notna().all()
    assert (df["label"].to_numpy() == man["label"].to_numpy()).all()

    csv = tmp_path / "p.csv"
    r = CliRunner().invoke(app, ["classify", "predict", str(phantom), "--model", str(out), "--out", str(csv)])
    assert r.exit_code == 0, r.output
    p = pd.read_csv(csv)
    assert len(p) == len(man) and p["weights"].str.startswith("dermsynth:").all()
    r = CliRunner().invoke(app, ["classify", "metrics", str(csv), "--n-bootstrap", "50"])
    assert r.exit_code == 0, r.output
    assert '"AUC"' in r.output


def test_predict_unknown_model_names_the_shipped_ones(phantom):
    with pytest.raises(FileNotFoundError, match="not a shipped model"):
        predict_dataset(phantom, "no-such-model")
