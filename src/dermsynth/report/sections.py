"""One function per report section; each reads files under a runs directory and returns a Section.

Every block carries its provenance: the folder it was read from and a hash of that folder's
``config.json`` (plus a few of its settings), so each number in the report can be traced to a run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from dermsynth.core.io import sha256_file
from dermsynth.core.manifest import ARTIFACTS, CLASS_NAMES
from dermsynth.core.stats import read_jsonl
from dermsynth.report.discover import Found
from dermsynth.report.figures.bias_prevalence import bias_prevalence
from dermsynth.report.figures.class_distribution import class_distribution
from dermsynth.report.figures.training_curves import training_curves
from dermsynth.report.html import Block, Section

_PROV_KEYS = (
    "preset",
    "cfg",
    "seed",
    "n",
    "size",
    "kimg",
    "network",
    "model",
    "weights",
    "method",
    "features",
)


def provenance(folder: Path, root: Path) -> list[str]:
    rel = folder.relative_to(root) if folder.is_relative_to(root) else folder
    lines = [f"from: {rel}"]
    cfg = folder / "config.json"
    if cfg.is_file():
        lines.append(f"config.json sha256:{sha256_file(cfg)[:12]}")
        try:
            data = json.loads(cfg.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            data = {}
        if isinstance(data, dict):
            picked = {k: data[k] for k in _PROV_KEYS if k in data and not isinstance(data[k], dict | list)}
            if picked:
                lines.append("settings: " + ", ".join(f"{k}={v}" for k, v in picked.items()))
    return lines


def _pngs(folder: Path, exclude: tuple[str, ...] = ()) -> list[tuple[str, Path]]:
    return [
        (p.stem.replace("_", " "), p) for p in sorted(folder.glob("*.png")) if not p.name.startswith(exclude)
    ]


def _class_names(df: pd.DataFrame) -> dict[int, str]:
    if "class_name" in df.columns and df["class_name"].notna().any():
        pairs = df.dropna(subset=["class_name"]).drop_duplicates("label")
        return {int(lbl): str(n) for lbl, n in zip(pairs["label"], pairs["class_name"], strict=True)}
    return {i: n for i, n in enumerate(CLASS_NAMES)}


def dataset_block(folder: Path, root: Path, fig_dir: Path, idx: int) -> Block:
    df = pd.read_csv(folder / "manifest.csv", low_memory=False)
    names = _class_names(df)
    df["class"] = df["label"].map(lambda v: names.get(int(v), str(v)) if pd.notna(v) else "unlabelled")
    split = df["split"].astype(object).fillna("all") if "split" in df.columns else pd.Series("all", index=df.index)
    counts = pd.crosstab(split, df["class"])
    b = Block(title=f"Dataset {folder.relative_to(root) if folder.is_relative_to(root) else folder}")
    src = ", ".join(sorted(map(str, df["source"].dropna().unique()))) if "source" in df.columns else "?"
    b.text.append(f"{len(df)} images; source: {src}.")
    if "copyright_license" in df.columns or "license" in df.columns:
        col = "copyright_license" if "copyright_license" in df.columns else "license"
        lic = df[col].fillna("unknown").value_counts()
        b.text.append("Licences: " + ", ".join(f"{k} ({v})" for k, v in lic.items()))
    t = counts.reset_index().rename(columns={"split": "split"})
    t.columns = ["split"] + list(counts.columns)
    b.tables.append(("Images per split and class", t))
    if not (folder / "class_distribution.png").is_file():  # `data stats` draws it when it ran
        b.figures.append(
            (
                "Class distribution (thesis Fig. 3.3)",
                class_distribution(counts, fig_dir / f"classes_{idx}.png"),
            )
        )
    arts = [a for a in ARTIFACTS if a in df.columns and pd.to_numeric(df[a], errors="coerce").notna().any()]
    if arts:
        prev = pd.DataFrame(
            {
                c: [pd.to_numeric(df.loc[df["class"] == c, a], errors="coerce").mean() for a in arts]
                for c in sorted(df["class"].unique())
            },
            index=arts,
        )
        tp = prev.reset_index().rename(columns={"index": "artifact"})
        b.tables.append(("Artifact prevalence per class (fraction of images)", tp))
        b.figures.append(
            (
                "Artifact prevalence per class (thesis Fig. 3.5)",
                bias_prevalence(prev, fig_dir / f"bias_{idx}.png"),
            )
        )
        truth = audit_vs_truth(df, arts)
        if truth is not None:
            b.tables.append(("Audit against the ground truth / annotations of this set", truth))
    b.figures += _pngs(folder, exclude=("classes_", "bias_"))
    for sub in ("audit", "figures"):
        if (folder / sub).is_dir():
            b.figures += _pngs(folder / sub)
    b.provenance = provenance(folder, root)
    return b


def audit_vs_truth(df: pd.DataFrame, arts: list[str]) -> pd.DataFrame | None:
    """Precision / recall / F1 of the audit columns against ``<artifact>_annotated`` truth columns."""
    rows = []
    for a in arts:
        t = f"{a}_annotated"
        if t not in df.columns:
            continue
        m = pd.to_numeric(df[t], errors="coerce").notna() & pd.to_numeric(df[a], errors="coerce").notna()
        y, p = df.loc[m, t].astype(int), df.loc[m, a].astype(int)
        tp, fp, fn = (
            int(((y == 1) & (p == 1)).sum()),
            int(((y == 0) & (p == 1)).sum()),
            int(((y == 1) & (p == 0)).sum()),
        )
        prec = tp / (tp + fp) if tp + fp else float("nan")
        rec = tp / (tp + fn) if tp + fn else float("nan")
        f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
        rows.append(
            {
                "artifact": a,
                "truth prevalence": float(y.mean()),
                "audit prevalence": float(p.mean()),
                "precision": prec,
                "recall": rec,
                "F1": f1,
                "n": int(m.sum()),
            }
        )
    return pd.DataFrame(rows) if rows else None


def datasets_section(root: Path, found: Found, fig_dir: Path) -> Section | None:
    if not found.datasets:
        return None
    return Section(
        "data", "Data and biases", [dataset_block(d, root, fig_dir, i) for i, d in enumerate(found.datasets)]
    )


def cleaning_section(root: Path, found: Found, fig_dir: Path) -> Section | None:
    blocks = []
    for d in found.cleans:
        df = pd.read_csv(d / "manifest.csv", low_memory=False)
        b = Block(title=f"Cleaned set {d.relative_to(root)}")
        b.tables.append(
            (
                "Images per cleaning method",
                df["method"].fillna("unchanged").value_counts().rename_axis("method").reset_index(),
            )
        )
        b.figures += _pngs(d)
        for sub in ("figures", "quality"):
            if (d / sub).is_dir():
                b.figures += _pngs(d / sub)
        for q in sorted(d.glob("*quality*.csv")):
            b.tables.append((q.stem, pd.read_csv(q)))
        b.provenance = provenance(d, root)
        blocks.append(b)
    return Section("clean", "Cleaning (thesis Figs. 4.2-4.3)", blocks) if blocks else None


def gan_section(root: Path, found: Found, fig_dir: Path) -> Section | None:
    blocks = []
    for i, d in enumerate(found.gan_runs):
        rows = read_jsonl(d / "stats.jsonl")
        b = Block(title=f"GAN run {d.relative_to(root)}")
        nets = sorted(d.glob("network-*.json"))
        b.text.append(
            f"{len(rows)} ticks logged; {len(nets)} network snapshots; latest {nets[-1].stem if nets else '-'}."
        )
        if rows:
            last = {k: v for k, v in rows[-1].items() if isinstance(v, int | float)}
            b.tables.append(("Last tick", pd.DataFrame([last])))
        fig = training_curves(rows, fig_dir / f"train_{i}.png")
        if fig:
            b.figures.append(("Training curves", fig))
        fakes = sorted(d.glob("fakes*.png"))
        if (d / "reals.png").is_file():
            b.figures.append(("Real images", d / "reals.png"))
        if fakes:
            b.figures.append(
                (f"Generated samples per class ({fakes[-1].stem}; thesis Figs. 4.4-4.7)", fakes[-1])
            )
        for m in sorted(d.glob("metric-*.jsonl")):
            mrows = read_jsonl(m)
            if mrows:
                b.tables.append((m.stem, pd.json_normalize(mrows[-5:])))
        b.provenance = provenance(d, root)
        blocks.append(b)
    return Section("gan", "GAN training", blocks) if blocks else None


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        elif isinstance(v, int | float | str | bool) or v is None:
            out[key] = v
    return out


def metrics_section(root: Path, found: Found, fig_dir: Path) -> Section | None:
    blocks = []
    for m in found.metrics:
        data = json.loads(m.read_text(encoding="utf-8"))
        flat = _flatten(data)
        b = Block(title=f"Metrics {m.parent.relative_to(root)}")
        b.tables.append(
            (
                "Figures (thesis Table 4.2: FID, KID, precision/recall, PPL, memorisation)",
                pd.DataFrame({"metric": list(flat), "value": list(flat.values())}),
            )
        )
        b.figures += _pngs(m.parent)
        b.provenance = provenance(m.parent, root)
        blocks.append(b)
    return Section("metrics", "Metrics of the synthetic data", blocks) if blocks else None


def edit_section(root: Path, found: Found, fig_dir: Path) -> Section | None:
    blocks = []
    for d in found.edits:
        b = Block(title=f"Latent editing {d.relative_to(root)}")
        b.tables.append(
            (
                "Edit evaluation: frames removed / induced, SSIM outside the frame, lesion IoU, class kept",
                pd.read_csv(d / "table.csv"),
            )
        )
        if (d / "table.json").is_file():
            ev = json.loads((d / "table.json").read_text())
            if isinstance(ev, dict) and ev.get("best") is not None:
                b.text.append(f"Best direction by the measured rule: {json.dumps(ev['best'])}")
            if isinstance(ev, dict) and ev.get("rule"):
                b.text.append(f"Rule: {ev['rule']}")
        b.figures += _pngs(d)
        b.provenance = provenance(d, root)
        blocks.append(b)
    return Section("edit", "Latent editing (thesis Figs. 4.8-4.10)", blocks) if blocks else None


def classify_section(root: Path, found: Found, fig_dir: Path) -> Section | None:
    blocks = []
    for d in found.classify:
        b = Block(title=f"Classifier experiment {d.relative_to(root)}")
        b.tables.append(("Test set results (thesis Table 4.5)", pd.read_csv(d / "table.csv")))
        for extra in sorted(d.glob("shortcut*.csv")):
            b.tables.append(("Shortcut test: " + extra.stem, pd.read_csv(extra)))
        b.figures += _pngs(d)
        b.provenance = provenance(d, root)
        blocks.append(b)
    for d in found.embeds:
        b = Block(title=f"Embeddings {d.relative_to(root)} (thesis Fig. 3.7)")
        b.figures += _pngs(d)
        b.provenance = provenance(d, root)
        blocks.append(b)
    return (
        Section("classify", "Melanoma classifiers on real, synthetic and mixed data", blocks)
        if blocks
        else None
    )


def survey_section(root: Path, found: Found, fig_dir: Path) -> Section | None:
    blocks = []
    for d in found.studies:
        b = Block(title=f"Reader study built: {d.relative_to(root)}")
        st = pd.read_csv(d / "stimuli.csv")
        cols = [c for c in ("source", "label") if c in st.columns]
        if cols:
            b.tables.append(
                ("Stimuli per source and class", st.groupby(cols).size().rename("images").reset_index())
            )
        lc = json.loads((d / "leakcheck.json").read_text(encoding="utf-8"))
        b.text.append(
            f"Leak check {'passed' if lc.get('passed') else 'FAILED'}: a classifier on file-level features "
            f"only is {lc.get('accuracy', float('nan')):.3f} accurate (p = {lc.get('p_value', float('nan')):.3g}); "
            "serve it with `dermsynth survey serve` and analyse the exported responses."
        )
        b.provenance = provenance(d, root)
        blocks.append(b)
    for d in found.surveys:
        b = Block(title=f"Reader study {d.relative_to(root)}")
        b.tables.append(
            ("Per reader, positive class = synthetic (thesis Tables 4.3-4.4)", pd.read_csv(d / "readers.csv"))
        )
        for extra in sorted(d.glob("*.csv")):
            if extra.name != "readers.csv" and extra.stat().st_size < 200_000:
                b.tables.append((extra.stem, pd.read_csv(extra)))
        b.figures += _pngs(d)
        b.provenance = provenance(d, root)
        blocks.append(b)
    return Section("survey", "Reader study: real or synthetic?", blocks) if blocks else None


SECTIONS = [
    datasets_section,
    cleaning_section,
    gan_section,
    metrics_section,
    edit_section,
    classify_section,
    survey_section,
]
