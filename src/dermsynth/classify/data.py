"""Dataset directories -> the real train/val/test sets and each setup's training set.

Every source is a dermsynth dataset directory (``DIR/manifest.csv`` with ``image_id, file, label,
split, patient_id, ...``). The real set is split by its ``split`` column; the splits must be disjoint
in images and, when patient ids exist, in patients (docs/architecture.md R15: "image-level splits where one
patient's lesions land in both train and test" are refused). The test set is never the validation set.

Counts follow thesis Table 3.1 when the data allows and are scaled down with a warning otherwise.
Subsets are drawn with a seeded permutation per (source, class), so a smaller draw is a prefix of a
larger one (``mixed``'s real images are a subset of ``real``'s).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dermsynth.bias.columns import flag_artifacts
from dermsynth.core.manifest import read_manifest
from dermsynth.core.seeding import rng

FRAME = "dark_corner"


@dataclass(frozen=True)
class SplitRef:
    """Rows of a dataset dir whose ``split`` column equals ``split`` (all rows when None)."""

    dir: Path
    split: str | None

    def label(self) -> str:
        return f"{self.dir}" + (f" [split={self.split}]" if self.split else "")


def _resolve(base: Path, p: str) -> Path:
    q = Path(p).expanduser()
    return q if q.is_absolute() else (base / q).resolve()


def select_split(df: pd.DataFrame, directory: Path, split: str | None) -> pd.DataFrame:
    """The manifest rows of ``split`` (all rows when None); a clear error when there are none."""
    if split is None:
        return df
    if "split" not in df.columns:
        raise ValueError(f"{directory}/manifest.csv: no `split` column, cannot select split {split!r}")
    df = df[df["split"].astype(str) == split]
    if df.empty:
        raise ValueError(f"{directory}/manifest.csv: no rows with split == {split!r}")
    return df


def read_or_warn(path: str | Path, then: str) -> np.ndarray | None:
    """The RGB uint8 image at ``path``, or None after a warning naming the file and ``then`` (what follows)."""
    from dermsynth.core.io import read_rgb

    try:
        return read_rgb(path)
    except (ValueError, OSError) as e:
        warnings.warn(f"{e}; {then}", stacklevel=3)
        return None


def load_dataset(directory: str | Path, split: str | None = None, source: str | None = None) -> pd.DataFrame:
    """Manifest rows with absolute ``path``; filtered by ``split``; images missing on disk dropped (warned)."""
    d = Path(directory)
    df = select_split(read_manifest(d), d, split).copy()
    df["path"] = [str((d / f).resolve()) for f in df["file"]]
    lab = pd.to_numeric(df["label"], errors="coerce")
    if lab.isna().any() or not set(lab.astype(int)) <= {0, 1}:
        raise ValueError(f"{d}/manifest.csv: labels must be 0 (not melanoma) or 1 (melanoma)")
    df["label"] = lab.astype(int)
    exists = np.array([Path(p).is_file() for p in df["path"]], dtype=bool)
    if not exists.all():
        missing = df.loc[~exists, "file"].tolist()
        warnings.warn(
            f"{d}: {len(missing)} image file(s) missing, skipped (first: {missing[0]})", stacklevel=2
        )
        df = df[exists]
    df["data"] = source or d.name
    if "source" not in df.columns:
        df["source"] = pd.NA
    df["image_id"] = df["image_id"].astype(str)
    return df.reset_index(drop=True)


REAL_KEYS = {"dir", "train", "val", "test", "assign_splits", "val_from_train"}


def real_split_refs(spec, base: Path) -> dict[str, SplitRef]:
    """``data.real`` (a dir, or ``{dir, train, val, test}``, or per-split ``{dir, split}``) -> refs."""
    if isinstance(spec, str):
        spec = {"dir": spec}
    if not isinstance(spec, dict):
        raise ValueError(f"data.real must be a path or a mapping, got {spec!r}")
    unknown = sorted(set(spec) - REAL_KEYS)
    if unknown:
        raise ValueError(f"data.real: unknown key(s) {unknown}; known: {sorted(REAL_KEYS)}")
    refs = {}
    for part in ("train", "val", "test"):
        v = spec.get(part, part)
        if isinstance(v, dict):
            if "dir" not in v and "dir" not in spec:
                raise ValueError(f"data.real.{part}: needs `dir`")
            refs[part] = SplitRef(_resolve(base, v.get("dir", spec.get("dir"))), v.get("split"))
        else:
            if "dir" not in spec:
                raise ValueError(f"data.real: needs `dir` for split {part!r}")
            refs[part] = SplitRef(_resolve(base, spec["dir"]), str(v))
    if refs["val"] == refs["test"] and not spec.get("val_from_train"):
        raise ValueError(
            f"data.real: the test set is the validation set ({refs['test'].label()}); they must differ"
        )
    return refs


def group_split(df: pd.DataFrame, fractions: list[float], seed: int, key: str) -> np.ndarray:
    """Split index per row (0, 1, 2, ...) by ``fractions``, whole patients at a time (images when no ids)."""
    f = np.asarray(fractions, dtype=float)
    if f.ndim != 1 or (f < 0).any() or not np.isclose(f.sum(), 1.0):
        raise ValueError(f"split fractions must be non-negative and sum to 1, got {fractions}")
    pid = df["patient_id"] if "patient_id" in df.columns else pd.Series(pd.NA, index=df.index)
    pid = pid.astype("string").fillna("").to_numpy()
    groups = np.where(pid == "", "img:" + df["image_id"].astype(str).to_numpy(), "pat:" + pid)
    uniq = np.unique(groups)
    order = rng(seed, "group-split", key).permutation(len(uniq))
    edges = np.round(np.cumsum(f)[:-1] * len(uniq)).astype(int)
    part_of_group = np.searchsorted(edges, np.arange(len(uniq)), side="right")
    which = dict(zip(uniq[order], part_of_group, strict=True))
    return np.array([which[g] for g in groups])


def load_real_parts(spec, base: Path, seed: int) -> dict[str, pd.DataFrame]:
    """The real train / val / test rows described by ``data.real``.

    ``assign_splits: [train, val, test]`` splits a dataset without a split column by patient;
    ``val_from_train: F`` carves the validation set (a share F of patients) out of the train split,
    e.g. ISIC 2017: train on part of ``train``, choose on the rest, report on the official ``val``.
    """
    spec = {"dir": spec} if isinstance(spec, str) else dict(spec)
    if spec.get("assign_splits") is not None:
        d = _resolve(base, spec["dir"])
        df = load_dataset(d, source="real")
        which = group_split(df, list(spec["assign_splits"]), seed, "assign")
        return {k: df[which == i].reset_index(drop=True) for i, k in enumerate(("train", "val", "test"))}
    refs = real_split_refs(spec, base)
    parts = {k: load_dataset(r.dir, r.split, source="real") for k, r in refs.items() if k != "val"}
    if spec.get("val_from_train"):
        frac = float(spec["val_from_train"])
        which = group_split(parts["train"], [1 - frac, frac], seed, "val-from-train")
        parts["val"] = parts["train"][which == 1].reset_index(drop=True)
        parts["train"] = parts["train"][which == 0].reset_index(drop=True)
    else:
        parts["val"] = load_dataset(refs["val"].dir, refs["val"].split, source="real")
    return {k: parts[k] for k in ("train", "val", "test")}


def check_disjoint(parts: dict[str, pd.DataFrame]) -> None:
    """Raise ``ValueError`` when two splits share an image file or (when ids exist) a patient."""
    names = list(parts)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            shared = set(parts[a]["path"]) & set(parts[b]["path"])
            if shared:
                raise ValueError(f"splits {a} and {b} share {len(shared)} image(s), e.g. {sorted(shared)[0]}")
            pa, pb = _patients(parts[a]), _patients(parts[b])
            both = pa & pb
            if both:
                raise ValueError(
                    f"patient leak: splits {a} and {b} share {len(both)} patient(s), e.g. {sorted(both)[:3]}; "
                    "splits must be patient-disjoint"
                )


def _patients(df: pd.DataFrame) -> set[str]:
    if "patient_id" not in df.columns:
        return set()
    p = df["patient_id"].dropna().astype(str)
    return set(p[p.str.len() > 0])


def sample_per_class(df: pd.DataFrame, per_class: int | None, seed: int, key: str) -> pd.DataFrame:
    """At most ``per_class`` rows of each class, a seeded prefix of a fixed permutation per class."""
    out = []
    for c in (0, 1):
        sub = df[df["label"] == c]
        order = rng(seed, "sample", key, c).permutation(len(sub))
        k = len(sub) if per_class is None else min(per_class, len(sub))
        out.append(sub.iloc[np.sort(order[:k])])
    return pd.concat(out).reset_index(drop=True)


def balanced_val(df: pd.DataFrame, total: int, balanced: bool, seed: int) -> pd.DataFrame:
    """Validation set of ``total`` images, balanced when asked (scaled down with a warning)."""
    counts = df["label"].value_counts().reindex([0, 1], fill_value=0)
    if balanced:
        k = min(total // 2, int(counts.min()))
        if k < total // 2:
            warnings.warn(
                f"validation: {k} per class available, not {total // 2} (scaled down)", stacklevel=2
            )
        if k == 0:
            raise ValueError("validation set has no image of one class; cannot choose thresholds")
        return sample_per_class(df, k, seed, "val")
    if len(df) <= total:
        return df.reset_index(drop=True)
    idx = np.sort(rng(seed, "val-unbalanced").permutation(len(df))[:total])
    return df.iloc[idx].reset_index(drop=True)


def filter_artifacts(
    df: pd.DataFrame, artifacts: tuple[str, ...], detect_cache: Path | None = None
) -> pd.DataFrame:
    """Drop images showing any of ``artifacts`` (manifest columns, else ``dermsynth.bias.detect``)."""
    if not artifacts:
        return df
    missing = [a for a in artifacts if a not in df.columns]
    if missing:
        df = add_detected_artifacts(df, missing, detect_cache)
    flags = df[list(artifacts)].apply(pd.to_numeric, errors="coerce")
    unknown = int(flags.isna().any(axis=1).sum())
    if unknown:
        warnings.warn(f"{unknown} image(s) without artifact labels kept as artifact-free", stacklevel=2)
    keep = ~(flags.fillna(0) > 0).any(axis=1)
    return df[keep].reset_index(drop=True)


def add_detected_artifacts(df: pd.DataFrame, artifacts: list[str], cache: Path | None) -> pd.DataFrame:
    """Artifact flags from the bias stage's detectors, cached in ``cache`` (csv by image path)."""
    from dermsynth.bias import detect
    from dermsynth.core.io import atomic_path

    known = pd.read_csv(cache) if cache is not None and cache.is_file() else pd.DataFrame(columns=["path"])
    known = known.set_index("path")
    rows = []
    for p in df["path"]:
        if p in known.index and all(a in known.columns for a in artifacts):
            rows.append({a: known.at[p, a] for a in artifacts})
            continue
        img = read_or_warn(p, "its artifacts are treated as unknown")
        if img is None:
            rows.append(dict.fromkeys(artifacts, math.nan))
            continue
        res = detect(img, artifacts=list(artifacts))
        rows.append({a: int(bool(res[a].present)) if a in res else math.nan for a in artifacts})
    flags = pd.DataFrame(rows, index=df.index)
    if cache is not None:
        with atomic_path(cache) as tmp:
            pd.concat([df[["path"]], flags], axis=1).to_csv(tmp, index=False)
    return pd.concat([df.drop(columns=[a for a in artifacts if a in df.columns]), flags], axis=1)


def artifact_columns(df: pd.DataFrame) -> list[str]:
    return flag_artifacts(df)  # bias/columns.py
