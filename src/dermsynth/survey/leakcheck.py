"""Proof that nothing but the lesions tells real from synthetic stimuli (``dermsynth survey leakcheck``).

File level. (1) Hard checks: one format, mode and size for all stimuli; only IHDR/IDAT/IEND chunks (no
text, EXIF, gamma, time); identical byte counts and modification times; ids of one shape.
(2) A random forest cross-validated (stratified 5-fold, scikit-learn) on *file-level* features only —
byte size, width, height, mode/format/bit depth, chunk counts, metadata keys, id characters, position
in sorted and directory order, mtime — must not beat chance: its out-of-fold accuracy is tested with a
one-sided exact binomial test against 0.5 (scipy.stats.binomtest) and the study leaks if p < alpha.

Pixel level (processing history, :mod:`.pixelstats`): 8x8 JPEG blockiness (and its period-4 trace),
high-frequency spectrum share, noise-residual statistics, JPEG ghosts (re-compression error at
qualities 50-90) and a band spectrum of Y, Cb, Cr. (3) Each feature alone: a two-sided
Mann-Whitney U test real vs synthetic (``scipy.stats.mannwhitneyu``), Bonferroni-corrected over the
features; (4) a random forest on all of them, tested like (2). The study leaks if any corrected
p < alpha. These tests are label-free for a reader: anyone can compute them from the served files.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from dermsynth.survey.encode import ALLOWED_CHUNKS, png_chunks
from dermsynth.survey.pixelstats import PIXEL_FEATURES, pixel_features
from dermsynth.survey.responses import STIMULI_CSV
from dermsynth.survey.study import EXAMPLES_DIR, IMAGES_DIR

FEATURES = [
    "size_bytes",
    "width",
    "height",
    "mode_code",
    "format_code",
    "bits",
    "n_chunks",
    "n_extra_chunks",
    "n_info_keys",
    "has_exif",
    "id_len",
    "id_digits",
    "id_c0",
    "id_c1",
    "id_c2",
    "id_c3",
    "id_prefix_value",
    "sorted_index",
    "listing_index",
    "mtime",
]


def file_features(path: Path) -> dict:
    """File-level facts of one image file (no pixel statistics)."""
    from PIL import Image

    data = path.read_bytes()
    chunks = png_chunks(data)
    with Image.open(path) as im:
        info = dict(im.info)
        fmt, mode, (w, h) = im.format or "", im.mode, im.size
        bits = int(im.bits) if hasattr(im, "bits") else 8
    return {
        "file": path.name,
        "size_bytes": len(data),
        "width": w,
        "height": h,
        "format": fmt,
        "mode": mode,
        "bits": bits,
        "n_chunks": len(chunks),
        "extra_chunks": sorted({c.decode("latin-1") for c in chunks} - {c.decode() for c in ALLOWED_CHUNKS}),
        "info_keys": sorted(info),
        "has_exif": int("exif" in info or b"eXIf" in chunks),
        "mtime": os.stat(path).st_mtime,
    }


def feature_table(study_dir: str | Path) -> pd.DataFrame:
    """One row per stimulus: file features, id features, order features and the (admin) source."""
    study_dir = Path(study_dir)
    stim = pd.read_csv(study_dir / STIMULI_CSV, dtype=str)
    folder = study_dir / IMAGES_DIR
    listing = [n for n in os.listdir(folder) if not n.startswith(".")]
    rows = []
    for image_id in stim["image_id"]:
        p = folder / f"{image_id}.png"
        if not p.exists():
            raise FileNotFoundError(f"{p}: stimulus listed in {STIMULI_CSV} is missing")
        rows.append(file_features(p))
    df = pd.DataFrame(rows)
    ids = stim["image_id"].astype(str)
    df["image_id"], df["source"] = ids.to_numpy(), stim["source"].to_numpy()
    df["mode_code"] = pd.factorize(df["mode"])[0]
    df["format_code"] = pd.factorize(df["format"])[0]
    df["n_extra_chunks"] = df["extra_chunks"].map(len)
    df["n_info_keys"] = df["info_keys"].map(len)
    df["id_len"] = ids.str.len().to_numpy()
    df["id_digits"] = ids.map(lambda s: sum(c.isdigit() for c in s)).to_numpy()
    for k in range(4):
        df[f"id_c{k}"] = ids.map(lambda s, k=k: ord(s[k]) if len(s) > k else 0).to_numpy()
    df["id_prefix_value"] = ids.map(
        lambda s: int(s[:6], 16) if all(c in "0123456789abcdef" for c in s[:6]) else -1
    )
    order = {n: i for i, n in enumerate(sorted(listing))}
    lst = {n: i for i, n in enumerate(listing)}
    df["sorted_index"] = df["file"].map(order)
    df["listing_index"] = df["file"].map(lst)
    return df


def _hard_checks(df: pd.DataFrame, examples: pd.DataFrame | None) -> dict[str, bool]:
    checks = {
        "one_format": df["format"].nunique() == 1 and df["mode"].nunique() == 1 and df["bits"].nunique() == 1,
        "one_size_px": df["width"].nunique() == 1 and df["height"].nunique() == 1,
        "identical_bytes": df["size_bytes"].nunique() == 1,
        "no_metadata_chunks": bool((df["n_extra_chunks"] == 0).all() and (df["has_exif"] == 0).all()),
        "no_metadata_keys": bool((df["n_info_keys"] == 0).all()),
        "one_mtime": df["mtime"].nunique() == 1,
        "one_id_shape": df["id_len"].nunique() == 1,
    }
    if examples is not None and len(examples):
        same = pd.concat([df, examples])
        checks["examples_same_encoding"] = bool(
            same["size_bytes"].nunique() == 1
            and same["width"].nunique() == 1
            and same["format"].nunique() == 1
        )
    return checks


def classifier_test(
    df: pd.DataFrame, seed: int = 0, folds: int = 5, features: list[str] = FEATURES, what: str = "file-level"
) -> dict:
    """Out-of-fold accuracy of a random forest on ``features``, with exact binomial test vs 0.5."""
    from scipy.stats import binomtest
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    y = (df["source"] == "synthetic").astype(int).to_numpy()
    x = df[features].astype(float).to_numpy()
    # rows in an order set by their own values, not by the secret ids: the folds, and so the verdict,
    # are a function of what is tested (a study built twice from the same images gets the same answer)
    order = np.lexsort(np.column_stack([x, y]).T[::-1])
    x, y = x[order], y[order]
    n_splits = int(min(folds, np.bincount(y, minlength=2).min()))
    if n_splits < 2:
        raise ValueError("leakcheck needs at least 2 real and 2 synthetic stimuli")
    clf = RandomForestClassifier(n_estimators=50, min_samples_leaf=2, random_state=seed, n_jobs=1)
    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    pred = cross_val_predict(clf, x, y, cv=cv)
    correct = int((pred == y).sum())
    test = binomtest(correct, len(y), 0.5, alternative="greater")
    ci = binomtest(correct, len(y), 0.5).proportion_ci(0.95, method="exact")
    return {
        "classifier": f"RandomForest(50) on {what} features, stratified CV",
        "folds": n_splits,
        "n": len(y),
        "correct": correct,
        "accuracy": correct / len(y),
        "accuracy_ci95": [float(ci.low), float(ci.high)],
        "p_value": float(test.pvalue),
        "features": features,
    }


def pixel_table(study_dir: str | Path) -> pd.DataFrame:
    """One row per stimulus: its pixel features (:mod:`.pixelstats`) and the (admin) source."""
    from dermsynth.core.io import read_rgb

    study_dir = Path(study_dir)
    stim = pd.read_csv(study_dir / STIMULI_CSV, dtype=str)
    rows = [pixel_features(read_rgb(study_dir / IMAGES_DIR / f"{i}.png")) for i in stim["image_id"]]
    df = pd.DataFrame(rows, columns=PIXEL_FEATURES)
    df["image_id"], df["source"] = stim["image_id"].to_numpy(), stim["source"].to_numpy()
    return df


def pixel_tests(df: pd.DataFrame, alpha: float = 0.001, seed: int = 0) -> dict:
    """Per-feature Mann-Whitney U tests (Bonferroni) and a forest on all pixel features; failures."""
    from scipy.stats import mannwhitneyu

    syn = df["source"] == "synthetic"
    per, failures = {}, []
    for f in PIXEL_FEATURES:
        a, b = df.loc[syn, f].to_numpy(float), df.loc[~syn, f].to_numpy(float)
        if np.ptp(np.concatenate([a, b])) == 0:
            p, auc = 1.0, 0.5
        else:
            u = mannwhitneyu(a, b, alternative="two-sided")
            p, auc = float(u.pvalue), float(u.statistic / (len(a) * len(b)))
        p_adj = min(1.0, p * len(PIXEL_FEATURES))
        per[f] = {"auc": auc, "p_value": p, "p_bonferroni": p_adj}
        if p_adj < alpha:
            failures.append(f"pixel feature {f} separates the sources: AUC {auc:.2f} (p={p_adj:.2g})")
    cls = classifier_test(df, seed=seed, features=PIXEL_FEATURES, what="pixel-level")
    if cls["p_value"] < alpha:
        failures.append(
            f"pixel classifier above chance: accuracy {cls['accuracy']:.3f} (p={cls['p_value']:.2g})"
        )
    return {"features": per, "classifier": cls, "failures": failures}


def leakcheck(study_dir: str | Path, alpha: float = 0.001, seed: int = 0) -> dict:
    """Run the hard checks and the classifier test; ``passed`` is False if anything leaks."""
    study_dir = Path(study_dir)
    df = feature_table(study_dir)
    ex_dir = study_dir / EXAMPLES_DIR
    examples = (
        pd.DataFrame([file_features(p) for p in sorted(ex_dir.glob("*.png"))]) if ex_dir.is_dir() else None
    )
    checks = _hard_checks(df, examples)
    cls = classifier_test(df, seed=seed)
    file_failures = [k for k, ok in checks.items() if not ok]
    if cls["p_value"] < alpha:
        file_failures.append(
            f"classifier above chance: accuracy {cls['accuracy']:.3f} (p={cls['p_value']:.2g} < {alpha})"
        )
    pixel = pixel_tests(pixel_table(study_dir), alpha=alpha, seed=seed)
    failures = file_failures + pixel["failures"]
    return {
        "passed": not failures,
        "alpha": alpha,
        "checks": checks,
        "failures": failures,
        "file_failures": file_failures,
        "pixel_failures": pixel["failures"],
        "pixel": pixel,
        **cls,
    }
