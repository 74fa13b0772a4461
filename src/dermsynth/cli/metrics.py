"""``dermsynth metrics``: FID / KID / precision-recall / PPL / memorisation of synthetic images."""

from __future__ import annotations

from pathlib import Path

import typer


def metrics(
    real: Path = typer.Option(
        ..., "--real", help="Real image directory (manifest.csv layout or a folder of images)."
    ),
    fake: Path | None = typer.Option(None, "--fake", help="Synthetic image directory."),
    network: Path | None = typer.Option(
        None, "--network", help="Generator checkpoint / export (instead of --fake)."
    ),
    num: int | None = typer.Option(
        None, "--num", help="Synthetic images to use/generate (default: all / 50000)."
    ),
    metric_list: str = typer.Option("fid", "--metrics", help="Comma list of fid,kid,pr,ppl,memo."),
    features: str = typer.Option(
        "effnet-lite", "--features", help="inception | effnet-lite[:lite2] | dermo:PATH | torchscript:PATH."
    ),
    json_out: Path | None = typer.Option(
        None, "--json", help="Write every figure computed to this JSON file."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Directory for memorisation files (default: beside --json)."
    ),
    inception_weights: Path | None = typer.Option(
        None,
        "--inception-weights",
        help="pt_inception-2015-12-05-6726825d.pth (or $DERMSYNTH_INCEPTION_WEIGHTS).",
    ),
    feature_size: int | None = typer.Option(
        None, "--feature-size", help="Input size for effnet-lite / dermo."
    ),
    ppl_features: str = typer.Option(
        "lpips",
        "--ppl-features",
        help="PPL distance: lpips (LPIPS-VGG16, official) or an extractor spec (offline).",
    ),
    lpips_weights: Path | None = typer.Option(None, "--lpips-weights", help="vgg16-397923af.pth for LPIPS."),
    ppl_num: int | None = typer.Option(None, "--ppl-num", help="PPL samples (default --num, else 50000)."),
    truncation_psi: float = typer.Option(1.0, "--trunc", help="Truncation psi for generated images."),
    memo_holdout: Path | None = typer.Option(None, "--memo-holdout", help="Held-out real images for memo."),
    batch_size: int = typer.Option(64, "--batch", help="Batch size."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:1 ..."),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="Reference statistics cache directory."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Recompute the real features."),
    per_class: bool = typer.Option(True, "--per-class/--no-per-class", help="Also report each class."),
    seed: int = typer.Option(0, "--seed", help="Seed for labels, subsets, PPL latents."),
) -> None:
    """Measure synthetic images against real ones (offline weights only)."""
    from dermsynth.cli.common import console, progress, user_errors
    from dermsynth.metrics import compute_metrics, write_results

    out_dir = out or (json_out.parent if json_out else Path("dermsynth-metrics"))
    with user_errors(), progress() as bar:
        tasks: dict[str, int] = {}

        def on_progress(stage: str, n: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total, info="")
            bar.advance(tasks[stage], n)

        res = compute_metrics(
            real,
            fake_dir=fake,
            network=network,
            metrics=metric_list,
            features=features,
            num=num,
            batch_size=batch_size,
            device=device,
            cache_dir=cache_dir,
            per_class=per_class,
            inception_weights=inception_weights,
            feature_size=feature_size,
            ppl_features=ppl_features,
            lpips_weights=lpips_weights,
            ppl_num=ppl_num,
            truncation_psi=truncation_psi,
            memo_holdout_dir=memo_holdout,
            out_dir=out_dir,
            seed=seed,
            use_cache=not no_cache,
            progress=on_progress,
        )
    if json_out:
        write_results(json_out, res)
    _print(console, res)


def _print(console, res: dict) -> None:
    from rich.table import Table

    feats = res.get("features", {})
    if feats:
        console.print(
            f"features: {feats.get('extractor')} — weights {feats.get('weights')} ({feats.get('path')})"
        )
    if "real" in res and "cache" in res["real"]:
        console.print(f"real: {res['real'].get('num')} images, cache {res['real']['cache']}")
    t = Table("metric", "overall", *res.get("per_class", {}).keys())
    keys = list(res["results"])
    for k in keys:
        row = [k, _fmt(res["results"][k])]
        row += [_fmt(v.get(k, "")) for v in res.get("per_class", {}).values()]
        t.add_row(*row)
    from rich.console import Console

    Console().print(t)


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def register(app: typer.Typer) -> None:
    """Add ``dermsynth metrics`` as a top-level command."""
    app.command("metrics")(metrics)
