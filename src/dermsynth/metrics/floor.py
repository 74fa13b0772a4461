"""The real floor of a FID: the distance real training images keep from held-out real images.

A FID of generated images means little alone: two disjoint sets of *real* images of one dataset are
also far apart at a few hundred images (FID is biased by the sample count). The floor measures, in the
feature space of a FID name and at the same count ``n``:

* ``results[<name>]``: ``n`` real ``train`` images vs the held-out real images (``reference`` splits);
* ``generated[<name>]``: ``n`` of the generated images measured by that name vs the same held-out images.

``n`` is the smaller of the train split and the generated set; both are seeded draws. The features are
the driver's own (the real set's cached reference features, split by the manifest, and the synthetic
features the FID itself used), so the floor shares extractors, input size and cache with the metric it
judges. It is reported as ``floor`` in metrics.json (metrics/result.py); the pipeline, the model-card
script and ``dermsynth metrics --floor`` all get it from ``driver.evaluate``.
"""

from __future__ import annotations

import numpy as np

from dermsynth.metrics.frechet import fid_from_features

#: Held-out splits the floor compares against, unless the options name others.
DEFAULT_REFERENCE = ("val", "test")


def real_floor(ev, specs, reference: tuple[str, ...] = DEFAULT_REFERENCE) -> dict:
    """The floor of every FID spec in ``specs`` (rank 0, after the FIDs: their features are reused).

    ``ev`` is the driver's ``Evaluation``. Returns the ``floor`` entry of metrics.json, or
    ``{"note": ...}`` when the real set has no split or too few images on either side.
    """
    out: dict = {"real": "train", "reference": "+".join(reference), "results": {}, "generated": {}}
    for spec in specs:
        real = ev.real(spec.space)
        fake = ev.fake(spec.num, spec.space)
        if real.splits is None:
            return {
                "note": f"{ev.real_set.root}: no split column in manifest.csv, so no held-out real images"
            }
        splits = np.asarray(real.splits)
        held = real.features[np.isin(splits, reference)]
        train = real.features[splits == "train"]
        n = min(len(train), len(fake))
        if len(held) < 2 or n < 2:
            return {
                "note": f"too few images for a real floor: {len(train)} train, {len(held)} held-out "
                f"({'+'.join(reference)}), {len(fake)} generated"
            }
        rng = np.random.default_rng(ev.opts.seed)
        train_n = train[np.sort(rng.choice(len(train), n, replace=False))]
        fake_n = fake.features[np.sort(rng.choice(len(fake), n, replace=False))]
        out.setdefault("num", n)
        out["num_reference"] = len(held)
        out.setdefault("num_by_metric", {})[spec.name] = n
        out["results"][spec.name] = round(fid_from_features(train_n, held), 4)
        out["generated"][spec.name] = round(fid_from_features(fake_n, held), 4)
    return out
