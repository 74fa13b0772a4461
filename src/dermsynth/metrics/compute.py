"""``compute_metrics``: named metrics of a folder of synthetic images or a generator (``dermsynth metrics``).

A thin front of the one driver (driver.evaluate), which training snapshots use too
(training.compute_for_training): same names, same images, same numbers.
"""

from __future__ import annotations

import os

from dermsynth.metrics.driver import MetricOptions, ProgressFn, evaluate


def compute_metrics(
    real_dir,
    fake_dir=None,
    network=None,
    metrics=("fid10k_effnetlite",),
    progress: ProgressFn | None = None,
    **options,
) -> dict:
    """Every metric in ``metrics`` (names, registry.py) of ``fake_dir`` or ``network`` against ``real_dir``.

    ``options``: the fields of ``driver.MetricOptions`` (``batch_size``, ``device``, ``seed``,
    ``per_class``, ``cache_dir``, ``use_cache``, ``inception_weights``, ``vgg16_weights``, ``dermo``,
    ``torchscript``, ``feature_size``, ``truncation_psi``, ``memo_holdout_dir``, ``out_dir`` ...); an
    unknown key is an error. ``progress(stage, n_done_increment, total)`` reports work as it goes.
    Returns a JSON-able dict (driver.evaluate).
    """
    opts = options.pop("options", None) or MetricOptions.from_kwargs(**options)
    G = None
    if network is not None:
        from dermsynth.metrics.generator import load_network

        G = load_network(network)
    out = evaluate(metrics, real_dir, opts, G=G, fake_dir=fake_dir, progress=progress)
    if network is not None and out:
        out["fake"]["network"] = str(network)
    return out


def write_results(path: str | os.PathLike, results: dict) -> None:
    """Write the result dict as metrics.json, atomically, through the one writer of that layout
    (:func:`dermsynth.metrics.result.write_metrics`)."""
    from dermsynth.metrics.result import write_metrics

    write_metrics(path, results)
