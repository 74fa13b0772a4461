"""On real ISIC 2017 images: training images handed back as 'synthetic' are flagged, new ones are not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dermsynth.metrics.features import extract_image_set
from dermsynth.metrics.images import ImageSet
from dermsynth.metrics.memorisation import memorisation


@pytest.mark.realdata
@pytest.mark.slow
def test_memorisation_on_isic2017(shared_data, tmp_path):
    from dermsynth.core.io import read_rgb
    from dermsynth.metrics import get_extractor

    root = shared_data / "isic2017-256"
    df = pd.read_csv(root / "labels.csv")
    train_df, val_df = df[df.split == "train"].iloc[:120], df[df.split == "val"].iloc[:80]

    def image_set(d):
        files = [root / "images" / f"{i}.jpg" for i in d.image_id]
        return ImageSet(root, files, d.melanoma.to_numpy().astype(int), ["not_melanoma", "melanoma"])

    ext = get_extractor("effnet-lite", size=96)
    train = extract_image_set(image_set(train_df), ext, 40)
    val = extract_image_set(image_set(val_df), ext, 40)
    perm = np.random.default_rng(0).permutation(80)  # held-out and 'new' from one distribution
    hold, new = val.subset(np.sort(perm[:40])), val.subset(np.sort(perm[40:]))
    copies = train.subset(np.arange(0, 120, 3))  # 40 training images presented as synthetic

    def load(fs):
        return lambda i: read_rgb(root / fs.names[i])

    flagged = memorisation(copies, train, hold, tmp_path / "a", load(copies), load(train), top_k=4)
    quiet = memorisation(new, train, hold, tmp_path / "b", load(new), load(train), top_k=4)
    assert flagged["flag"] and flagged["pixel"]["frac_below_p1"] == 1.0
    assert not quiet["flag"], quiet
