"""Does a source's processing history survive the reader study's chain? (issue 25.2)

Two random halves of the same ISIC 2017 images (``$DERMSYNTH_SHARED_DATA/isic2017-256``) get different
controlled histories at twice the stimulus size, then the study's chain
(:func:`dermsynth.survey.encode.process_stimulus`). An attacker who knows which half is which trains a
classifier on re-compression (JPEG-ghost) and pixel-statistic features of the stimuli
(:func:`dermsynth.survey.pixelstats.ghost_curve`, :func:`~dermsynth.survey.pixelstats.pixel_features`);
its 5-fold cross-validated accuracy says how much of the history the chain left (0.5 = none).

Histories ("a" vs "b"; the control ``none`` gives both halves the same one):

- ``jpeg85`` / ``jpeg75``: half a saved once as JPEG quality 85 / 75, 4:2:0, at 2x the stimulus size;
  half b kept lossless;
- ``bilinear``: half a brought to 2x the stimulus size with non-antialiased bilinear (OpenCV
  INTER_LINEAR), half b with PIL's antialiased Lanczos (``none`` gives both halves Lanczos).

Usage: ``python benchmarks/survey_history_attack.py --n 200 --size 128 [--history jpeg85 ...]``.
Prints one line per history: attack accuracy and the leak check's verdict on a study of those stimuli.
"""

from __future__ import annotations

import argparse
import io
import os
import time
from pathlib import Path

import numpy as np

HISTORIES = ("none", "jpeg85", "jpeg75", "bilinear")


def with_history(rgb: np.ndarray, history: str, half: str, side: int) -> np.ndarray:
    """``rgb`` (any size) at ``side`` px with ``history`` applied to half ``a`` (half ``b`` lossless)."""
    import cv2
    from PIL import Image

    base = np.asarray(Image.fromarray(rgb).resize((side, side), Image.Resampling.LANCZOS))
    if history == "none" or (half == "b" and history.startswith("jpeg")):
        return base
    if history.startswith("jpeg"):
        buf = io.BytesIO()
        Image.fromarray(base).save(buf, format="JPEG", quality=int(history[4:]), subsampling=2)
        return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    if history == "bilinear":  # from the source straight to 2x the stimulus size
        if half == "a":
            return cv2.resize(rgb, (side, side), interpolation=cv2.INTER_LINEAR)
        return base
    raise ValueError(f"unknown history {history!r}: {HISTORIES}")


def stimuli(paths: list[Path], history: str, size: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """The chain's output for a random half ``a`` (y = 1) and half ``b`` (y = 0) of ``paths``."""
    from dermsynth.core.io import read_rgb
    from dermsynth.survey.encode import process_stimulus

    g = np.random.default_rng(seed)
    y = np.zeros(len(paths), int)
    y[g.permutation(len(paths))[: len(paths) // 2]] = 1
    out = [
        process_stimulus(with_history(read_rgb(p), history, "a" if yi else "b", 2 * size), size)
        for p, yi in zip(paths, y, strict=True)
    ]
    return out, y


def attack_accuracy(images: list[np.ndarray], y: np.ndarray, seed: int = 0) -> float:
    """5-fold CV accuracy of a random forest on ghost + pixel features (the informed attacker)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    from dermsynth.survey.pixelstats import attack_features

    x = np.stack([attack_features(im) for im in images])
    clf = RandomForestClassifier(n_estimators=300, min_samples_leaf=2, random_state=seed, n_jobs=1)
    cv = StratifiedKFold(5, shuffle=True, random_state=seed)
    return float(cross_val_score(clf, x, y, cv=cv).mean())


def leak_verdict(images: list[np.ndarray], y: np.ndarray, alpha: float = 0.001) -> dict:
    """The leak check's pixel tests on these stimuli (half a as "real")."""
    import pandas as pd

    from dermsynth.survey.leakcheck import pixel_tests
    from dermsynth.survey.pixelstats import PIXEL_FEATURES, pixel_features

    df = pd.DataFrame([pixel_features(im) for im in images], columns=PIXEL_FEATURES)
    df["source"] = np.where(y == 1, "real", "synthetic")
    rep = pixel_tests(df, alpha=alpha)
    return {
        "flagged": bool(rep["failures"]),
        "forest": rep["classifier"]["accuracy"],
        "failures": rep["failures"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.environ.get("DERMSYNTH_SHARED_DATA", "../shared/data"))
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--history", nargs="*", default=list(HISTORIES))
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    paths = sorted((Path(a.data) / "isic2017-256" / "images").glob("*.jpg"))
    paths = [paths[i] for i in np.random.default_rng(a.seed).permutation(len(paths))[: a.n]]
    for h in a.history:
        t0 = time.time()
        ims, y = stimuli(paths, h, a.size, a.seed)
        acc = attack_accuracy(ims, y, a.seed)
        v = leak_verdict(ims, y)
        print(
            f"{h:9s} n={len(ims)} attack {acc:.3f}  leak check: {'FLAGGED' if v['flagged'] else 'passed'} "
            f"(pixel forest {v['forest']:.3f})  {time.time() - t0:.0f}s  {v['failures'][:2]}",
            flush=True,
        )


if __name__ == "__main__":
    main()
