"""Build the embedded real sample ``dermsynth/data/samples/isic2017`` (how the shipped one was made).

    PYTHONPATH=src python scripts/make_sample.py [--n-melanoma 160 --n-other 240 --size 128 --seed 0]

Draws a seeded, class-stratified sample of the ``train`` split of ../shared/data/isic2017-256 (CC-0,
ISIC 2017 challenge), resizes it to ``--size`` (Lanczos, from 256 px), stores JPEG quality 92, assigns
the sample's own stratified train / val / test split (60 / 20 / 20), and labels every image's artifacts
with the shipped ``isic2017-artifacts`` audit (Bissoto et al.'s hand labels may not be redistributed).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from dermsynth.bias.columns import audited_artifacts
from dermsynth.core.manifest import ARTIFACTS, CLASS_NAMES
from dermsynth.core.paths import shared_data_dir

OUT = Path(__file__).resolve().parents[1] / "src" / "dermsynth" / "data" / "samples" / "isic2017"
LICENSE = """Embedded sample of the ISIC 2017 challenge training images
==========================================================

Images: {n} images of the ISIC 2017: Skin Lesion Analysis Towards Melanoma Detection challenge,
training set (ISIC Archive), resized to {size} x {size} px. Licence: CC-0 (public domain dedication),
as published in the ISIC Archive (https://www.isic-archive.com).

Attribution: N. C. F. Codella, D. Gutman, M. E. Celebi, B. Helba, M. A. Marchetti, S. W. Dusza,
A. Kalloo, K. Liopyris, N. Mishra, H. Kittler, A. Halpern. "Skin Lesion Analysis Toward Melanoma
Detection: A Challenge at the 2017 International Symposium on Biomedical Imaging (ISBI), Hosted by the
International Skin Imaging Collaboration (ISIC)". arXiv:1710.05006, 2017.

Labels: `melanoma` is the challenge's ground truth. The artifact columns ({artifacts}) were written by
dermsynth's own shipped artifact model `isic2017-artifacts` (`dermsynth bias audit`), not by a person;
they are predictions with the error rates stated in that model's card (`dermsynth models show
isic2017-artifacts`). `split` is this sample's own seeded, class-stratified train / val / test split.
"""


def pick(lab: pd.DataFrame, n_mel: int, n_other: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for cls, n in ((1, n_mel), (0, n_other)):
        pool = lab[(lab["split"] == "train") & (lab["melanoma"] == cls)].sort_values("image_id")
        parts.append(pool.iloc[np.sort(rng.choice(len(pool), n, replace=False))])
    return pd.concat(parts).sort_values("image_id").reset_index(drop=True)


def assign_split(df: pd.DataFrame, seed: int) -> pd.Series:
    """The sample's own 60 / 20 / 20 split, stratified by class (a seeded permutation per class). Not
    ``data.split.assign_splits`` (a greedy group-stratified split): the shipped sample's split was made
    by this one, and rerunning the script must give the same sample."""
    rng = np.random.default_rng(seed + 1)
    split = pd.Series("train", index=df.index)
    for cls in (0, 1):
        idx = df.index[df["melanoma"] == cls].to_numpy()
        idx = idx[rng.permutation(len(idx))]
        k = len(idx) // 5
        split[idx[:k]] = "val"
        split[idx[k : 2 * k]] = "test"
    return split


def audit_labels(img_dir: Path, df: pd.DataFrame) -> pd.DataFrame:
    from dermsynth.bias.audit import audit_dataset
    from dermsynth.core.manifest import read_manifest, write_manifest

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        man = pd.DataFrame(
            {
                "image_id": df["image_id"],
                "file": [str(img_dir / f"{i}.jpg") for i in df["image_id"]],
                "label": df["melanoma"],
                "class_name": df["melanoma"].map(dict(enumerate(CLASS_NAMES))),
                "source": "real",
            }
        )
        write_manifest(man, d)
        summary = audit_dataset(d, "best", figures=False)
        audited = read_manifest(d).set_index("image_id")
    out = df.copy()
    for a in audited_artifacts(audited):  # a detector the audit leaves out (issue 27.4) labels nothing
        out[a] = audited.loc[out["image_id"], a].astype(int).to_numpy()
    return out, summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-melanoma", type=int, default=160)
    ap.add_argument("--n-other", type=int, default=240)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    src = shared_data_dir() / "isic2017-256"
    lab = pd.read_csv(src / "labels.csv", dtype={"image_id": str})
    df = pick(lab, args.n_melanoma, args.n_other, args.seed)[["image_id", "melanoma", "age_approx", "sex"]]
    df["split"] = assign_split(df, args.seed).to_numpy()
    df["license"] = "CC-0"
    df["attribution"] = "ISIC 2017 challenge training set (Codella et al. 2017), ISIC Archive"
    if OUT.exists():
        shutil.rmtree(OUT)
    (OUT / "images").mkdir(parents=True)
    for i in df["image_id"]:
        im = Image.open(src / "images" / f"{i}.jpg").convert("RGB")
        im = im.resize((args.size, args.size), Image.Resampling.LANCZOS)
        im.save(OUT / "images" / f"{i}.jpg", quality=92, optimize=True)
    df, summary = audit_labels(OUT / "images", df)
    df.to_csv(OUT / "labels.csv", index=False)
    counts = {"melanoma": int(df["melanoma"].sum()), "not_melanoma": int((df["melanoma"] == 0).sum())}
    info = {
        "name": "isic2017",
        "size": args.size,
        "n": len(df),
        "counts": counts,
        "splits": df["split"].value_counts().to_dict(),
        "artifacts_by_class": {
            a: {str(c): int(df.loc[df["melanoma"] == c, a].sum()) for c in (0, 1)}
            for a in ARTIFACTS
            if a in df.columns
        },
        "artifact_labels": "predictions of the shipped isic2017-artifacts audit (method best)",
        "audit_method": summary.get("method"),
        "source": "ISIC 2017 challenge training split, via isic2017-256 (256 px JPEG)",
        "licence": "CC-0",
        "command": "PYTHONPATH=src python scripts/make_sample.py "
        f"--n-melanoma {args.n_melanoma} --n-other {args.n_other} --size {args.size} --seed {args.seed}",
    }
    (OUT / "sample.json").write_text(json.dumps(info, indent=2) + "\n")
    (OUT / "LICENSE.txt").write_text(
        LICENSE.format(
            n=len(df), size=args.size, artifacts=", ".join(a for a in ARTIFACTS if a in df.columns)
        )
    )
    mb = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file()) / 2**20
    print(json.dumps(info, indent=2))
    print(f"wrote {OUT} ({mb:.1f} MB)")


if __name__ == "__main__":
    main()
