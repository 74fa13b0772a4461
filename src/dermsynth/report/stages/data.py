"""The real data and its biases: images per class (thesis Fig. 3.3), artifact examples (Fig. 3.4) and
prevalence per class (Fig. 3.5), the audit against annotations where the set has them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import dermsynth.report.fmt as fmt
from dermsynth.bias.columns import SUMMARY_FILE, annotated_column, artifact_flags, read_audit_summary
from dermsynth.core.manifest import CLASS_NAMES, read_annotation_source
from dermsynth.report.context import Ctx, StageReport, kv_frame, read_json
from dermsynth.report.figures.bias_prevalence import bias_prevalence
from dermsynth.report.figures.class_distribution import class_distribution
from dermsynth.report.html import Block, Card, Details, Figure, Section, Table

ARTIFACT_NAMES = {
    "dark_corner": "frames (dark corners)",
    "hair": "hair",
    "ruler": "rulers",
    "ink": "ink marks",
    "gel_bubble": "gel bubbles",
    "gel_border": "gel borders",
}
SHORT = {"dark_corner": "frames", "gel_bubble": "gel bubbles", "gel_border": "gel borders"}
SYNTHETIC_SOURCES = {"synthetic", "edited"}


def manifest(folder: Path) -> pd.DataFrame:
    """The manifest with a readable ``class`` column (class names, 'unlabelled' where no label)."""
    df = pd.read_csv(folder / "manifest.csv", low_memory=False)
    if "class_name" in df.columns and df["class_name"].notna().any():
        pairs = df.dropna(subset=["class_name"]).drop_duplicates("label")
        names = {int(lbl): str(n) for lbl, n in zip(pairs["label"], pairs["class_name"], strict=True)}
    else:
        names = dict(enumerate(CLASS_NAMES))
    lab = pd.to_numeric(df.get("label", pd.Series(index=df.index, dtype=float)), errors="coerce")
    df["class"] = [names.get(int(v), str(int(v))) if pd.notna(v) else "unlabelled" for v in lab]
    return df


def is_synthetic(df: pd.DataFrame) -> bool:
    return "source" in df.columns and df["source"].astype(str).isin(SYNTHETIC_SOURCES).all()


def real_datasets(ctx: Ctx) -> list[Path]:
    """Datasets of real images (not generated, not edited), the pipeline's ``data/`` first."""
    out = []
    for d in ctx.found.datasets:
        head = pd.read_csv(d / "manifest.csv", nrows=200, low_memory=False)
        if not is_synthetic(head):
            out.append(d)
    return sorted(out, key=lambda d: (d.name != "data", len(d.parts), str(d)))


def prevalence(df: pd.DataFrame) -> pd.DataFrame:
    """Rows = artifacts the manifest has flags for (bias/columns.py), columns = classes, values = fraction
    of the images of that class flagged (among those with a flag)."""
    flags = artifact_flags(df, valued=True)
    classes = sorted(c for c in df["class"].unique() if c != "unlabelled")
    return pd.DataFrame(
        {c: [flags.loc[df["class"] == c, a].mean() for a in flags.columns] for c in classes},
        index=list(flags.columns),
    )


def audit_vs_truth(df: pd.DataFrame, arts: list[str]) -> pd.DataFrame | None:
    """Precision / recall / F1 of the audit columns against ``<artifact>_annotated`` truth columns."""
    rows = []
    flags = artifact_flags(df, arts)
    for a in arts:
        t = annotated_column(a)
        if t not in df.columns or a not in flags.columns:
            continue
        truth = pd.to_numeric(df[t], errors="coerce")
        m = truth.notna() & flags[a].notna()
        y, p = truth[m].astype(int), flags.loc[m, a].astype(int)
        tp, fp, fn = (
            int(((y == 1) & (p == 1)).sum()),
            int(((y == 0) & (p == 1)).sum()),
            int(((y == 1) & (p == 0)).sum()),
        )
        rows.append(
            {
                "artifact": ARTIFACT_NAMES.get(a, a),
                "annotated in": fmt.pct(y.mean()),
                "audit flags": fmt.pct(p.mean()),
                "precision": tp / (tp + fp) if tp + fp else float("nan"),
                "recall": tp / (tp + fn) if tp + fn else float("nan"),
                "F1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan"),
                "n": int(m.sum()),
            }
        )
    return pd.DataFrame(rows) if rows else None


def _same_method(a: str, b: str) -> bool:
    """Do two audit method specs (``best:isic2017-artifacts``, ``best:/x/isic2017-artifacts``) name one audit?"""
    (ka, _, pa), (kb, _, pb) = a.partition(":"), b.partition(":")
    return ka == kb and Path(pa).name == Path(pb).name


def audit_truth_item(folder: Path, truth: pd.DataFrame, src: str) -> Table | str:
    """The audit against the set's annotation columns, said for what it is (issue 26.5).

    Hand annotations (or annotations of unrecorded origin): an evaluation, precision / recall / F1.
    Labels an audit predicted (``annotations.json``, core/manifest.py): the same audit agrees with them
    by construction, so a sentence says so and no figure is shown; another audit's agreement with them
    is a comparison of two methods, titled as such."""

    prov = read_annotation_source(folder)
    if prov is None or not prov.get("predicted_by"):
        origin = (
            prov["source"] if prov else "the annotation columns of the source (their origin is not recorded)"
        )
        return Table(
            f"The audit against this set's annotations ({origin}): share of images annotated and flagged, "
            "and the audit's precision, recall and F1",
            truth,
            source=src,
        )
    used = read_audit_summary(folder).method
    if used and _same_method(used, str(prov["predicted_by"])):
        return (
            f"This set's artifact labels are {prov['source']}, and the audit above used that same method "
            f"({used}): it agrees with them by construction, so no precision, recall or F1 is shown. Its "
            "accuracy on held-out hand annotations is in the audit model's card (docs/models.md)."
        )
    return Table(
        f"Agreement of this audit ({used or 'method not recorded'}) with the set's artifact labels, which are "
        f"{prov['source']}: two automatic methods compared, not an evaluation against hand annotations",
        truth.rename(columns={"precision": "agreement on its flags", "recall": "labels it also flags",
                              "F1": "F1 agreement"}),
        source=src,
    )  # fmt: skip


def class_counts_table(df: pd.DataFrame) -> pd.DataFrame:
    """Images per class with their share, then per split when the manifest has splits."""
    counts = df["class"].value_counts().sort_index()
    t = pd.DataFrame({"class": [fmt.class_label(c) for c in counts.index], "images": counts.to_numpy()})
    t["share"] = [fmt.pct(v / max(len(df), 1)) for v in counts.to_numpy()]
    if "split" in df.columns and df["split"].notna().any():
        for s in [x for x in ("train", "val", "test") if (df["split"] == x).any()]:
            t[s] = [int(((df["split"] == s) & (df["class"] == c)).sum()) for c in counts.index]
    t["images"] = [fmt.count(v) for v in t["images"]]
    for s in ("train", "val", "test"):
        if s in t.columns:
            t[s] = [fmt.count(v) for v in t[s]]
    return t


def prevalence_table(prev: pd.DataFrame, short: bool = False) -> pd.DataFrame:
    names = SHORT if short else ARTIFACT_NAMES
    t = pd.DataFrame({"artifact": [names.get(a, a) for a in prev.index]})
    for c in prev.columns:
        t[fmt.class_label(c)] = [fmt.pct(v) for v in prev[c]]
    return t


def data_sentence(df: pd.DataFrame, prev: pd.DataFrame) -> str:
    n = len(df)
    counts = df["class"].value_counts()
    parts = ", ".join(f"{fmt.class_label(c)} {fmt.count(v)}" for c, v in counts.sort_index().items())
    s = f"{fmt.count(n)} real images ({parts}"
    if "melanoma" in counts.index:
        s += f"; {fmt.pct(counts['melanoma'] / n)} melanoma"
    s += ")."
    if len(prev) and len(prev.columns) >= 2:
        gap = (prev.max(axis=1) - prev.min(axis=1)).sort_values(ascending=False)
        a = gap.index[0]
        row = prev.loc[a]
        hi, lo = row.idxmax(), row.idxmin()
        s += (
            f" The largest bias: {ARTIFACT_NAMES.get(a, a)} in {fmt.pct(row[hi])} of {fmt.class_label(hi)}"
            f" vs {fmt.pct(row[lo])} of {fmt.class_label(lo)} images."
        )
    elif len(prev) == 0:
        s += " No artifact columns: the bias audit did not run on this set."
    return s


def dataset_block(ctx: Ctx, folder: Path, idx: int) -> tuple[Block, pd.DataFrame, pd.DataFrame]:
    df = manifest(folder)
    src = ctx.rel(folder)
    b = Block(title=f"Dataset {src}")
    sources = ", ".join(sorted(map(str, df["source"].dropna().unique()))) if "source" in df.columns else ""
    b.text.append(f"{fmt.count(len(df))} images" + (f" from {sources}." if sources else "."))
    lic_col = next((c for c in ("copyright_license", "license") if c in df.columns), None)
    if lic_col:
        lic = df[lic_col].fillna("unknown").value_counts()
        b.text.append("Licences: " + ", ".join(f"{k} ({fmt.count(v)} images)" for k, v in lic.items()) + ".")
    split = (
        df["split"].astype(object).fillna("all")
        if "split" in df.columns
        else pd.Series("all", index=df.index)
    )
    counts = pd.crosstab(split, df["class"])
    png = folder / "class_distribution.png"
    if not png.is_file():
        png = class_distribution(counts, ctx.fig_dir / f"classes_{idx}.png", title=f"Images per class: {src}")
    b.items.append(Figure("Images per class and split", png, number="Fig. 3.3", source=src))
    b.items.append(Table("Images per class and split", class_counts_table(df), source=src, formatted=True))
    prev = prevalence(df)
    if len(prev):
        # drawn here rather than taken from audit/prevalence.png: the same class colours as Fig. 3.3
        png = bias_prevalence(
            prev, ctx.fig_dir / f"bias_{idx}.png", title=f"Artifact prevalence: {src}", names=SHORT
        )
        b.items.append(
            Figure(
                "Share of images of each class in which the audit found each artifact",
                png,
                number="Fig. 3.5",
                source=src,
            )
        )
        b.items.append(
            Table(
                "Artifact prevalence per class (share of images)",
                prevalence_table(prev),
                source=src,
                formatted=True,
            )
        )
        truth = audit_vs_truth(df, list(prev.index))
        if truth is not None:
            item = audit_truth_item(folder, truth, src)
            if isinstance(item, str):
                b.text.append(item)
            else:
                b.items.append(item)
    if left_out := read_audit_summary(folder).excluded:
        b.text.append(
            "Not audited: "
            + "; ".join(f"{ARTIFACT_NAMES.get(a, a)} ({why})" for a, why in left_out.items())
            + ". A detector that misses this often would mislead more than inform; it returns when one passes."
        )
    for png in sorted((folder / "audit").glob("examples_*.png")):
        a = png.stem.removeprefix("examples_")
        b.items.append(
            Figure(
                f"The images the audit scored highest for {ARTIFACT_NAMES.get(a, a)}, with the detected region",
                png,
                number=f"Fig. 3.4 ({SHORT.get(a, a)})",
                source=ctx.rel(png.parent),
            )
        )
    for name in ("stats.json", SUMMARY_FILE):
        data = read_json(folder / name) if name != SUMMARY_FILE else dict(read_audit_summary(folder).data)
        data.pop("errors", None)
        data.pop("figures", None)
        if data:
            b.details.append(Details(f"All figures of {name}", kv_frame(data)))
    b.provenance = ctx.provenance(folder)
    return b, df, prev


def build(ctx: Ctx) -> StageReport:
    folders = real_datasets(ctx)
    if not folders:
        line = ctx.why_not_run("data", "dataset (manifest.csv + dataset.json)")
        return StageReport(section=Section("data", "Data and its biases", lead=line), not_run=f"Data: {line}")
    blocks, main = [], None
    for i, d in enumerate(folders):
        b, df, prev = dataset_block(ctx, d, i)
        blocks.append(b)
        if main is None:
            main = (d, df, prev)
    d, df, prev = main
    sentence = data_sentence(df, prev)
    card = Card(
        "data",
        "Data",
        [],
        [Table("Images per class", class_counts_table(df)[["class", "images", "share"]], formatted=True)],
    )
    if len(prev):
        card.items.append(
            Table("Artifact prevalence per class", prevalence_table(prev, short=True), formatted=True)
        )
    card.sentences.append(f"Real images in {ctx.rel(d)}.")
    return StageReport(Section("data", "Data and its biases", blocks), card, [("Data", sentence)])
