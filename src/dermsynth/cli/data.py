"""``dermsynth data``: ingest datasets, make the phantom dataset, split and describe datasets."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from dermsynth.cli.common import console, progress, user_errors

app = typer.Typer(help="Ingest, generate (phantom), split and describe image datasets.", no_args_is_help=True)


class Format(StrEnum):
    auto = "auto"
    isic2020 = "isic2020"
    isic_archive = "isic-archive"
    isic_challenge = "isic-challenge"
    folder = "folder"
    stylegan = "stylegan"


class Crop(StrEnum):
    center = "center"
    pad = "pad"
    stretch = "stretch"


class ResizeFilter(StrEnum):
    lanczos = "lanczos"
    area = "area"
    box = "box"


class FlagSource(StrEnum):
    auto = "auto"
    audit = "audit"
    annotation = "annotation"


@app.command(epilog="Example: dermsynth data phantom --out phantom --n 1200 --size 64 --rates hair=0.4")
def phantom(
    out: Path = typer.Option(..., "--out", help="Output dataset directory."),
    n: int = typer.Option(1000, "--n", help="Number of images."),
    size: int = typer.Option(256, "--size", help="Image side in pixels."),
    seed: int = typer.Option(0, "--seed", help="Dataset seed (image i depends only on seed and i)."),
    twins: bool = typer.Option(False, "--twins", help="Also write artifact-free twins and masks."),
    rates: str = typer.Option(
        "",
        "--rates",
        help="Artifact rates, e.g. 'dark_corner=0.02:0.38,hair=0.4' (P or P_BENIGN:P_MELANOMA). "
        "Defaults mimic SIIM-ISIC: dark_corner 0.02:0.38, hair 0.4, ruler 0.2, ink 0.1, gel_bubble 0.1.",
    ),
    melanoma_fraction: float = typer.Option(
        0.5, "--melanoma-fraction", help="Share of melanoma-like lesions."
    ),
    workers: int = typer.Option(1, "--workers", help="Worker processes."),
) -> None:
    """Write a procedural dermoscopy dataset with exact ground truth (no download needed)."""
    from dermsynth.data.phantom import PhantomConfig, make_phantom, parse_rates

    with user_errors():
        cfg = PhantomConfig(n, size, seed, twins, melanoma_fraction, parse_rates(rates))
        with progress() as bar:
            task = bar.add_task("phantom", total=n, info="")
            make_phantom(cfg, out, workers, lambda done, total: bar.update(task, completed=done))
    console.print(f"wrote {n} phantom images to {out}")


@app.command(
    epilog="Examples: dermsynth data ingest ISIC2020/ --out data --format isic2020 --workers 8; "
    "dermsynth data ingest my_images/ --out data (one folder per class: melanoma/, benign/ ...)"
)
def ingest(
    src: Path = typer.Argument(..., help="Source: a folder, a csv, or a StyleGAN2-ADA zip."),
    out: Path = typer.Option(..., "--out", help="Output dataset directory."),
    fmt: Format = typer.Option(Format.auto, "--format", help="Source layout (auto detects it)."),
    size: int = typer.Option(256, "--size", help="Output side N (images are N x N PNG)."),
    resize_filter: ResizeFilter = typer.Option(ResizeFilter.lanczos, "--resize-filter", help="Resampling."),
    crop: Crop = typer.Option(Crop.center, "--crop", help="How a non-square image becomes square."),
    workers: int = typer.Option(1, "--workers", help="Worker processes."),
    images: Path = typer.Option(
        None, "--images", help="Image folder for csv sources (default: found beside it)."
    ),
    label_map: str = typer.Option("", "--label-map", help="Extra label names, e.g. 'mel=1,nv=0,bkl=0'."),
    max_pixels: int = typer.Option(89_478_485, "--max-pixels", help="Larger images are rejected as bombs."),
) -> None:
    """Ingest a dataset: images/*.png, manifest.csv, dataset.json, rejects.csv, config.json."""
    from dermsynth.data.ingest import IngestConfig, run_ingest
    from dermsynth.data.labels import parse_label_map

    with user_errors():
        cfg = IngestConfig(str(src), fmt.value, size, crop.value, resize_filter.value, max_pixels,
                           None if images is None else str(images), parse_label_map(label_map), workers)  # fmt: skip
        with progress() as bar:
            task = bar.add_task("ingest", total=None, info="")
            res = run_ingest(cfg, out, lambda done, total: bar.update(task, completed=done, total=total))
    console.print(f"format: {res.format}; already done and skipped: {res.skipped}")
    for reason, count in res.reasons.most_common():
        console.print(f"  rejected {count:6d}  {reason}")
    if res.ignored:
        console.print(f"  ignored {len(res.ignored)} non-image file(s), e.g. {res.ignored[0]}")
    console.print(f"[bold]{res.summary()}[/bold] -> {out} (rejects in {out / 'rejects.csv'})")


@app.command(epilog="Example: dermsynth data sample isic2017 --out data/isic-sample")
def sample(
    name: str = typer.Argument("isic2017", help="Embedded sample: isic2017."),
    out: Path = typer.Option(..., "--out", help="Output dataset directory."),
    size: int = typer.Option(None, "--size", help="Output side N (default: the stored 128)."),
) -> None:
    """Write an embedded real sample (CC-0 ISIC images shipped in the package) in the ingest layout,
    e.g. `dermsynth data sample isic2017 --out data/isic-sample`."""
    from dermsynth.data.sample import sample_info, write_sample

    with user_errors():
        info = sample_info(name)
        res = write_sample(name, out, size)
    console.print(
        f"wrote {res.ingested} images of sample {name} ({info['counts']}) to {out}; "
        f"licence and attribution in {out}/LICENSE.txt"
    )


@app.command(epilog="Example: dermsynth data split data --val 0.1 --test 0.1 --seed 0")
def split(
    directory: Path = typer.Argument(..., help="Dataset directory (with manifest.csv)."),
    val: float = typer.Option(0.1, "--val", help="Validation fraction of all images."),
    test: float = typer.Option(0.1, "--test", help="Test fraction of all images."),
    seed: int = typer.Option(0, "--seed", help="Split seed."),
    image_level: bool = typer.Option(False, "--image-level", help="Ignore patient ids (not recommended)."),
    resplit_source: bool = typer.Option(
        False, "--resplit-source", help="Ignore a source's own val/test split (e.g. ISIC challenge)."
    ),
) -> None:
    """Write the split column: patient-level where patient ids exist, stratified by class."""
    from dermsynth.data.split import SPLITS, SplitConfig, split_dataset

    with user_errors():
        cfg = SplitConfig(val, test, seed, not image_level, not resplit_source)
        summary = split_dataset(directory, cfg)
    for s in SPLITS:
        d = summary[s]
        console.print(
            f"  {s:5s} {d['images']:7d} images  {d['melanoma']:6d} melanoma  {d['patients']:6d} patients"
        )
    leak = summary.get("patients_in_several_splits", 0)
    console.print(
        f"{summary['level']}-level split written to {directory / 'manifest.csv'}; patients in several splits: {leak}"
    )


@app.command(epilog="Example: dermsynth data stats data")
def stats(directory: Path = typer.Argument(..., help="Dataset directory (with manifest.csv).")) -> None:
    """Class counts (stats.json) and the class-distribution figure (class_distribution.png)."""
    from dermsynth.data.stats import write_stats

    with user_errors():
        st = write_stats(directory)
    for name, n in st["classes"].items():
        console.print(f"  {name:14s} {n:7d}  ({n / max(st['images'], 1):.1%})")
    console.print(f"wrote {directory / 'stats.json'} and {directory / 'class_distribution.png'}")


@app.command("filter", epilog="Example: dermsynth data filter data --exclude frame,ruler --out data-nobias")
def filter_(
    directory: Path = typer.Argument(..., help="Dataset directory (with manifest.csv)."),
    exclude: str = typer.Option(
        ..., "--exclude", help="Comma list of artifacts to leave out, e.g. frame,ruler."
    ),
    out: Path = typer.Option(..., "--out", help="New dataset directory."),
    by: FlagSource = typer.Option(
        FlagSource.auto, "--by", help="Which columns decide (auto: audit's first)."
    ),
) -> None:
    """Subsets without biased images (thesis Table 3.1 "no bias" / "no frames"); 'frame' = dark_corner."""
    from dermsynth.core.manifest import read_manifest
    from dermsynth.data.filter import filter_dataset

    with user_errors():
        path = filter_dataset(
            directory, out, [e.strip() for e in exclude.split(",") if e.strip()], by=by.value
        )
        kept = len(read_manifest(path))
    console.print(f"wrote {path}: {kept} images kept")
