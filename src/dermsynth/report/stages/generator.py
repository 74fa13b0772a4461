"""The generator: training runs, samples per class beside real ones (thesis Figs. 4.4-4.7), FID / KID /
precision-recall / PPL per network (Table 4.2) against the real floor, and the memorisation check."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import dermsynth.report.fmt as fmt
from dermsynth.core.stats import read_jsonl
from dermsynth.metrics.result import MetricsResult, read_metrics
from dermsynth.report.context import Ctx, StageReport, kv_frame, read_json
from dermsynth.report.figures.training_curves import training_curves
from dermsynth.report.html import Block, Card, Details, Figure, Section, Table
from dermsynth.report.images import tiles_per_class
from dermsynth.report.stages.data import (
    ARTIFACT_NAMES,
    SHORT,
    is_synthetic,
    manifest,
    prevalence,
    real_datasets,
)

GAN_TITLE = "Generator: training and samples"
METRICS_TITLE = "Generator: how close to real, and no copies (Table 4.2)"


def memo_min_p(memo: dict) -> float | None:
    """The smallest p-value of the tests that set the memorisation flag (tails in either space,
    Mann-Whitney in feature space), as :func:`dermsynth.metrics.memorisation.memorisation` does."""
    ps = [
        fmt.num(memo.get(s, {}).get(k))
        for s in ("feature", "pixel")
        for k in ("tail_p1_pvalue", "tail_p5_pvalue")
    ]
    ps.append(fmt.num(memo.get("feature", {}).get("mannwhitney_pvalue")))
    ps = [p for p in ps if p is not None]
    return min(ps) if ps else None


def memo_sentence(memo: dict, short: bool = False) -> str:
    if not memo:
        return "Memorisation was not checked (metrics without memo)."
    p, alpha = memo_min_p(memo), fmt.num(memo.get("alpha")) or 0.01
    if short:
        if memo.get("flag"):
            return f"possible memorisation: generated images sit closer to training images than held-out ones ({fmt.p_eq(p)} < α = {alpha:g})."
        return f"no sign of memorisation (smallest {fmt.p_eq(p)}, α = {alpha:g})."
    n = (
        f"{fmt.count(memo.get('num_fake'))} generated vs {fmt.count(memo.get('num_train'))} training and "
        f"{fmt.count(memo.get('num_holdout'))} held-out real images"
    )
    if memo.get("flag"):
        return (
            f"Possible memorisation: generated images sit closer to training images than held-out real images "
            f"do ({fmt.p_eq(p)} < α = {alpha:g}; {n}). Look at the closest pairs below."
        )
    return (
        "No sign of memorisation: generated images are no closer to training images than held-out real "
        f"images are (smallest {fmt.p_eq(p)}, α = {alpha:g}; {n})."
    )


def set_name(ctx: Ctx, m: MetricsResult, mfile: Path) -> str:
    src = m.source()
    if src:
        p = Path(src)
        return ctx.rel(p) if p.is_absolute() else str(p)
    return ctx.rel(mfile.parent)


def _space(m: MetricsResult) -> str:
    feats = m.features()
    return f" in {feats} features" if feats else ""


def fid_short(m: MetricsResult) -> str:
    """One FID, one comparison, named: against the held-out real images beside the real floor when the
    floor was computed (``FID 45.2 in effnet-lite:lite0@224 features, generated vs held-out real images,
    2.3× the real floor of 20``), else against the reference images of the metric."""
    floor, gen = m.floor_fid()
    if floor is not None and floor > 0 and gen is not None:
        return (
            f"FID {fmt.sig(gen)}{_space(m)}, generated vs held-out real images, "
            f"{gen / floor:.1f}× the real floor of {fmt.sig(floor)} (real train vs the same held-out images)"
        )
    fid = m.fid()
    if fid is None:
        return "no FID in metrics.json"
    return f"FID {fmt.sig(fid)}{_space(m)}, generated vs all real images of the dataset (no real floor in metrics.json to judge it against)"


def fid_sentence(m: MetricsResult) -> str:
    """The FID paragraph: which images each number compares, in which features, with which weights."""
    fid = m.fid()
    if fid is None:
        return "No FID in metrics.json."
    nf, nr = m.num_fake(), m.num_real()
    how = ", ".join(
        x
        for x in (
            f"{m.features()} features" if m.features() else "",
            f"weights {m.weights()}" if m.weights() else "",
            f"{fmt.count(nf)} generated vs all {fmt.count(nr)} real images of the dataset, every split"
            if nf and nr
            else "",
        )
        if x
    )
    s = f"FID {fmt.sig(fid)}" + (f" ({how})" if how else "")
    floor, gen = m.floor_fid()
    if floor is not None and floor > 0 and gen is not None:
        fl = m.floor() or {}
        s += (
            f". Against the {fmt.count(fl.get('num_reference'))} held-out real images only "
            f"({str(fl.get('reference', 'val+test')).replace('+', ' + ')}), "
            f"{fmt.count(fl.get('num'))} generated images reach FID {fmt.sig(gen)} and as many real train "
            f"images {fmt.sig(floor)} (the floor), so {gen / floor:.1f}× the floor."
        )
    else:
        s += (
            "; metrics.json has no real floor (FID of real train vs held-out real images), so this FID "
            "has nothing of the same data and features to be judged against."
        )
    return s


def table_42(ctx: Ctx, metrics: list[Path]) -> pd.DataFrame:
    """Thesis Table 4.2: one row per network / synthetic set and class."""
    rows = []
    for path in metrics:
        m = read_metrics(path)
        name = set_name(ctx, m, path)
        groups = [("all", None)] + [(c, c) for c in m.per_class()]
        for cls, key in groups:
            row = {"network / set": name, "class": "all" if key is None else fmt.class_label(cls)}
            row["features"] = m.features()
            row["FID"] = fmt.sig(m.fid(key))
            if key is None:
                fl = m.floor_fid()[0]
                row["real floor FID"] = fmt.sig(fl) if fl is not None else "not computed"
            else:
                row["real floor FID"] = ""
            kid = m.kid(key)
            row["KID ×10³"] = fmt.sig(None if kid is None else 1000 * kid)
            row["precision"] = fmt.rate(m.precision(key))
            row["recall"] = fmt.rate(m.recall(key))
            row["PPL"] = fmt.sig(m.ppl(key))
            acc, control = m.probe(key)
            row["linear probe (real vs real)"] = (
                "–"
                if acc is None
                else fmt.rate(acc) + (f" ({fmt.rate(control)})" if control is not None else "")
            )
            notes = [
                str(v) for k, v in (m.per_class().get(key, {}) if key else {}).items() if k.endswith("_note")
            ]
            row["note"] = "; ".join(notes)
            rows.append(row)
    t = pd.DataFrame(rows)
    return t[[c for c in t.columns if not (t[c].isin(["–", ""]).all())]]


def metrics_section(ctx: Ctx) -> tuple[Section, list[str], dict]:
    found = ctx.found.metrics
    if not found:
        line = ctx.why_not_run("metrics", "metrics.json")
        return Section("metrics", METRICS_TITLE, lead=line), [], {}
    b = Block(title="FID, KID, precision / recall, linear probe and PPL per network")
    b.items.append(
        Table(
            "Distance of the generated images from the real ones (lower FID / KID is closer; precision: "
            "share of generated images that look real, recall: share of real variety covered; linear probe: "
            "accuracy of a logistic regression telling generated from real images, 0.5 = indistinguishable, "
            "beside the same probe on two sets of real images)",
            table_42(ctx, found),
            number="Table 4.2",
            source=", ".join(ctx.rel(m.parent) for m in found),
            formatted=True,
        )
    )
    blocks = [b]
    main = read_metrics(found[0])
    b.text.append(fid_sentence(main))
    sentences = [fid_short(main) + "; " + memo_sentence(main.memorisation() or {}, short=True)]
    for m in found:
        data = read_json(m)
        mb = Block(title=f"Memorisation check {ctx.rel(m.parent)}")
        mb.text.append(memo_sentence(read_metrics(m).memorisation() or {}))
        for png, what in (
            ("memorisation_grid.png", "feature space"),
            ("memorisation_grid_pixel.png", "pixel space"),
        ):
            if (m.parent / png).is_file():
                mb.items.append(
                    Figure(
                        f"The generated images closest to a training image in {what}: each pair is "
                        "generated | nearest training image",
                        m.parent / png,
                        source=ctx.rel(m.parent),
                    )
                )
        mb.details.append(Details("All figures of metrics.json", kv_frame(data)))
        mb.provenance = ctx.provenance(m.parent)
        blocks.append(mb)
    return Section("metrics", METRICS_TITLE, blocks), sentences, main.data


def synthetic_sets(ctx: Ctx) -> list[Path]:
    out = []
    for d in ctx.found.datasets:
        head = pd.read_csv(d / "manifest.csv", nrows=200, low_memory=False)
        if is_synthetic(head) and "alpha" not in head.columns and "direction_index" not in head.columns:
            out.append(d)
    return out


def samples_figure(ctx: Ctx, synth: Path, reals: list[Path], per_class: int = 6) -> Figure | None:
    """Figs. 4.4-4.7: per class, a row of real training images (of ``reals[0]``) and a row of generated ones."""
    gen = tiles_per_class(synth, per_class)
    if not gen:
        return None
    real = tiles_per_class(reals[0], per_class, split="train") if reals else {}
    rows = {}
    for cls in gen:
        if cls in real:
            rows[f"{fmt.class_label(cls)}: real ({ctx.rel(reals[0])})"] = real[cls]
        rows[f"{fmt.class_label(cls)}: generated"] = gen[cls]
    return Figure(
        "Generated images per class, each under real training images of the same class",
        tiles=rows,
        number="Figs. 4.4-4.7",
        source=ctx.rel(synth),
    )


def biases_kept(gen: pd.DataFrame, real: pd.DataFrame) -> pd.DataFrame:
    """Artifact prevalence per class, generated beside real (rows: artifacts both sets were audited for)."""
    arts = [a for a in gen.index if a in real.index]
    t = pd.DataFrame({"artifact": [SHORT.get(a, a) for a in arts]})
    for c in gen.columns:
        t[f"{fmt.class_label(c)}: generated"] = [fmt.pct(gen.loc[a, c]) for a in arts]
        if c in real.columns:
            t[f"{fmt.class_label(c)}: real"] = [fmt.pct(real.loc[a, c]) for a in arts]
    return t


def biases_sentence(gen: pd.DataFrame, real: pd.DataFrame) -> str:
    """Frames (the thesis's bias) and the real data's largest class gap, generated vs real, in words."""
    arts = [a for a in gen.index if a in real.index]
    classes = [c for c in gen.columns if c in real.columns]
    if not arts or not classes:
        return ""
    picks = ["dark_corner"] if "dark_corner" in arts else []
    if len(classes) >= 2:
        gap = (real.loc[arts, classes].max(axis=1) - real.loc[arts, classes].min(axis=1)).sort_values(
            ascending=False
        )
        picks += [a for a in gap.index[:1] if a not in picks]
    parts = []
    for a in picks:
        g = " and ".join(f"{fmt.pct(gen.loc[a, c])} of generated {fmt.class_label(c)}" for c in classes)
        r = " and ".join(fmt.pct(real.loc[a, c]) for c in classes)
        parts.append(f"{ARTIFACT_NAMES.get(a, a)} in {g} images (real: {r})")
    return "By the same audit: " + "; ".join(parts) + "."


def gan_blocks(ctx: Ctx) -> list[Block]:
    blocks = []
    for i, d in enumerate(ctx.found.gan_runs):
        rows = read_jsonl(d / "stats.jsonl")
        nets = sorted(d.glob("network-*.json"))
        b = Block(title=f"Training run {ctx.rel(d)}")
        kimg = fmt.num(rows[-1].get("kimg")) if rows else None
        b.text.append(
            f"Trained for {fmt.sig(kimg)} kimg ({fmt.count(len(rows))} ticks logged); "
            f"{len(nets)} network snapshot(s), the latest {nets[-1].stem if nets else '–'}."
        )
        fig = training_curves(rows, ctx.fig_dir / f"train_{i}.png")
        if fig:
            b.items.append(
                Figure("Losses, augmentation strength and speed during training", fig, source=ctx.rel(d))
            )
        if (d / "reals.png").is_file():
            b.items.append(
                Figure(
                    "Real training images (rows alternate the classes)", d / "reals.png", source=ctx.rel(d)
                )
            )
        fakes = sorted(d.glob("fakes*.png"))
        if fakes:
            b.items.append(
                Figure(
                    f"Images of the latest snapshot ({fakes[-1].stem}; rows alternate the classes like the reals)",
                    fakes[-1],
                    source=ctx.rel(d),
                )
            )
        for m in sorted(d.glob("metric-*.jsonl")):
            mrows = read_jsonl(m)
            if mrows:
                t = pd.json_normalize(mrows[-5:])
                b.details.append(Details(f"Last values of {m.name}", t.astype(str)))
        if rows:
            b.details.append(Details("Last tick of stats.jsonl", kv_frame(rows[-1])))
        b.provenance = ctx.provenance(d)
        blocks.append(b)
    return blocks


def build(ctx: Ctx) -> list[StageReport]:
    reports = []
    synth = synthetic_sets(ctx)
    blocks = []
    sample_fig = None
    bias_line = ""
    reals = real_datasets(ctx)
    rprev = prevalence(manifest(reals[0])) if reals else pd.DataFrame()
    for s in synth:
        b = Block(title=f"Generated set {ctx.rel(s)}")
        df = manifest(s)
        per = (
            df.get("class_name", df.get("label", pd.Series(dtype=str)))
            .astype(str)
            .value_counts()
            .sort_index()
        )
        b.text.append(
            f"{fmt.count(len(df))} generated images: "
            + ", ".join(f"{fmt.class_label(c)} {fmt.count(v)}" for c, v in per.items())
            + "."
        )
        fig = samples_figure(ctx, s, reals)
        if fig is not None:
            b.items.append(fig)
            sample_fig = sample_fig or fig
        gprev = prevalence(df)
        if len(gprev) and len(rprev):
            line = biases_sentence(gprev, rprev)
            bias_line = bias_line or line
            b.text.append(line)
            b.items.append(
                Table(
                    "Does the generator keep the data's biases? Artifact prevalence per class by the audit, "
                    f"generated beside real ({ctx.rel(reals[0])})",
                    biases_kept(gprev, rprev),
                    source=ctx.rel(s),
                    formatted=True,
                )
            )
        if (s / "samples.png").is_file():
            b.items.append(Figure("Sample grid: one row per class", s / "samples.png", source=ctx.rel(s)))
        b.provenance = ctx.provenance(s)
        blocks.append(b)
    blocks += gan_blocks(ctx)
    if not synth and ctx.found.gan_runs:
        for b in blocks:
            for it in b.items:
                if isinstance(it, Figure) and it.path is not None and it.path.name.startswith("fakes"):
                    it.number = "Figs. 4.4-4.7"
                    break
    if not blocks:
        line = ctx.why_not_run("gan", "GAN run (stats.jsonl + network-*.json) or generated set")
        gan_sec = Section("gan", GAN_TITLE, lead=line)
        not_run = f"Generator: {line}"
    else:
        gan_sec, not_run = Section("gan", GAN_TITLE, blocks), ""
    msec, sentences, main = metrics_section(ctx)
    card = None
    findings = []
    if blocks or main:
        card = Card("gan", "Generator")
        if sample_fig is not None:
            gen_rows = {k: v[:2] for k, v in (sample_fig.tiles or {}).items() if k.endswith("generated")}
            card.items.append(Figure("Generated images per class", tiles=gen_rows, source=sample_fig.source))
        if not main:
            card.sentences.append("No metrics.json: FID and the memorisation check were not computed.")
        if bias_line:
            card.sentences.append(bias_line)
        if main:
            findings.append(("Generator", sentences[0][0].upper() + sentences[0][1:]))
        elif blocks:
            findings.append(
                ("Generator", "Trained and sampled; no metrics.json, so FID and memorisation are unknown.")
            )
    reports.append(StageReport(gan_sec, card, findings, not_run))
    reports.append(StageReport(msec, None, [], ""))
    return reports
