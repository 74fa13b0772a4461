"""``dermsynth edit``: latent directions (SeFa / PCA / SVM), applying them, and measuring them.

Each command builds one :mod:`dermsynth.edit.jobs` config from its options and calls the job.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from dermsynth.cli.common import DEVICE_HELP, console, progress, user_errors

app = typer.Typer(
    help="Latent editing: find directions in W, apply them, measure what they do.", no_args_is_help=True
)

NETWORK = typer.Option(
    ...,
    "--network",
    help="Network file (NAME.safetensors + NAME.json); sefa also reads official-layout safetensors.",
)
DEVICE = typer.Option("auto", "--device", help=DEVICE_HELP)
BATCH_SIZE_HELP = "Images per forward pass (does not change the results)."


class Method(StrEnum):
    sefa = "sefa"
    pca = "pca"
    svm = "svm"


class NoiseMode(StrEnum):
    const = "const"
    random = "random"
    none = "none"


class Sign(StrEnum):
    auto = "auto"
    plus = "+"
    minus = "-"


def _run(job, cfg, description: str):
    """``job(cfg, progress, log)`` under a progress bar; stage errors become one-line messages."""
    with user_errors(), progress() as bar:
        task = bar.add_task(description, total=None, info="")
        return job(cfg, lambda n, total: bar.update(task, total=total, advance=n), console.print)


@app.command(
    epilog="Example: dermsynth edit directions --network run/network-000040 --method sefa --layers 0-5"
)
def directions(
    network: str = NETWORK,
    method: Method = typer.Option(..., "--method", help="SeFa, PCA of w (GANSpace) or an SVM boundary."),
    out: Path = typer.Option(Path("directions.npz"), "--out", help="Output .npz"),
    layers: str = typer.Option(
        "all", "--layers", help="sefa: ws indices whose affines are used (all | 0-5 | 0-3,7)"
    ),
    k: int | None = typer.Option(None, "--k", help="Keep the first k directions (default all)"),
    num: int | None = typer.Option(None, "--num", help="Samples (pca: 100000, svm: 10000)"),
    class_name: str | None = typer.Option(
        None, "--class", help="Conditional nets: one class (name or index); default all classes in turn"
    ),
    score: str = typer.Option(
        "dark_corner",
        "--score",
        help="svm: scorer (dark_corner | bias:<artifact> | classifier:PATH | lesion_area ...)",
    ),
    fraction: float = typer.Option(0.25, "--fraction", help="svm: top and bottom fraction of scores used"),
    trunc: float = typer.Option(1.0, "--trunc", help="svm: truncation psi of the samples"),
    orthogonal_to: list[str] = typer.Option(
        [], "--orthogonal-to", help="svm: project out 'class' or FILE[:K] (repeatable)"
    ),
    batch_size: int = typer.Option(32, "--batch-size", help=BATCH_SIZE_HELP),
    device: str = DEVICE,
) -> None:
    """Find latent directions with SeFa, PCA (GANSpace) or an SVM boundary (InterFaceGAN)."""
    from dermsynth.edit.jobs import DirectionsConfig, find_directions

    cfg = DirectionsConfig(network=str(network), out=str(out), method=method.value, layers=layers, k=k, num=num,
                           class_name=class_name, score=score, fraction=fraction, trunc=trunc,
                           orthogonal_to=tuple(orthogonal_to), batch_size=batch_size, device=device)  # fmt: skip
    _run(find_directions, cfg, "sampling + scoring")


@app.command(
    epilog="Example: dermsynth edit apply --network NET --directions d.npz --index 0 --seeds 0-7 "
    "--class melanoma --strip strip.png"
)
def apply(
    network: str = NETWORK,
    directions_file: Path = typer.Option(..., "--directions", help="directions.npz"),
    index: int = typer.Option(0, "--index", help="Direction index K"),
    alphas: str = typer.Option("-3:3:7", "--alphas", help="START:STOP:COUNT or a comma list"),
    seeds: str = typer.Option("0-7", "--seeds", help="Seeds, e.g. 0-99,200"),
    class_name: str | None = typer.Option(
        None, "--class", help="Class (name or index) of conditional networks"
    ),
    layers: str | None = typer.Option(
        None, "--layers", help="ws indices to move (default: the file's layers; 'all')"
    ),
    trunc: float = typer.Option(1.0, "--trunc", help="Truncation psi"),
    noise_mode: NoiseMode = typer.Option(NoiseMode.const, "--noise-mode", help="Per-layer noise inputs."),
    strip: Path | None = typer.Option(
        None, "--strip", help="Write a strip mosaic (rows: seeds; columns: alphas; original framed)"
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Write an edited dataset (images/, manifest.csv, dataset.json)"
    ),
    until_clean: str | None = typer.Option(
        None, "--until-clean", help="Detector: step alpha until it stops firing (e.g. dark_corner)"
    ),
    alpha_step: float = typer.Option(0.5, "--alpha-step", help="until-clean: alpha step"),
    max_alpha: float = typer.Option(10.0, "--max-alpha", help="until-clean: largest |alpha| tried"),
    sign: Sign = typer.Option(Sign.auto, "--sign", help="until-clean direction"),
    batch_size: int = typer.Option(16, "--batch-size", help=BATCH_SIZE_HELP),
    device: str = DEVICE,
) -> None:
    """Apply direction K: strips, layer-range edits, edited datasets, frame removal until clean."""
    from dermsynth.edit.jobs import ApplyConfig, apply_direction

    cfg = ApplyConfig(network=str(network), directions=str(directions_file), index=index, alphas=alphas, seeds=seeds,
                      class_name=class_name, layers=layers, trunc=trunc, noise_mode=noise_mode.value,
                      strip=None if strip is None else str(strip), out=None if out is None else str(out),
                      until_clean=until_clean, alpha_step=alpha_step, max_alpha=max_alpha, sign=sign.value,
                      batch_size=batch_size, device=device)  # fmt: skip
    _run(apply_direction, cfg, "editing")


@app.command(
    epilog="Example: dermsynth edit evaluate --network NET --directions d.npz --indices 0-3 --out ev"
)
def evaluate(
    network: str = NETWORK,
    directions_file: Path = typer.Option(..., "--directions", help="directions.npz"),
    indices: str = typer.Option("0-9", "--indices", help="Direction indices (clipped to the file)"),
    alphas: str = typer.Option("-3,3", "--alphas", help="Alphas per direction (both signs by default)"),
    num: int = typer.Option(64, "--num", help="Samples (seeds seed-offset ..)"),
    seed_offset: int = typer.Option(0, "--seed-offset", help="First seed"),
    pool: int = typer.Option(
        0,
        "--pool",
        help="Also search the next POOL seeds for samples where the detector fires, adding them until "
        "half the samples have the artifact (a generator that rarely draws it still gets measured)",
    ),
    class_name: str | None = typer.Option(None, "--class", help="One class; default all classes in turn"),
    layers: str | None = typer.Option(
        None, "--layers", help="ws indices to move (default: the file's layers)"
    ),
    trunc: float = typer.Option(1.0, "--trunc", help="Truncation psi"),
    detector: str = typer.Option(
        "dark_corner", "--detector", help="Artifact scorer whose removal is measured"
    ),
    class_scorer: str = typer.Option(
        "auto",
        "--class-scorer",
        help="auto (D projection if the file has a conditional D) | none | d_projection | classifier:PATH",
    ),
    min_lesion_iou: float = typer.Option(0.5, "--min-lesion-iou", help="Eligibility: lesion IoU at least"),
    min_class_kept: float = typer.Option(0.9, "--min-class-kept", help="Eligibility: class kept at least"),
    out: Path = typer.Option(
        Path("edit-eval"), "--out", help="Output directory: table.csv, table.json, figure.png, best_strip.png"
    ),
    lpips: str = typer.Option(
        "auto",
        "--lpips",
        help="auto (LPIPS-VGG16 if its weights are found locally) | off | PATH to vgg16-397923af.pth",
    ),
    batch_size: int = typer.Option(16, "--batch-size", help=BATCH_SIZE_HELP),
    device: str = DEVICE,
) -> None:
    """Measure each direction: frames removed, change outside the frame, lesion overlap, class kept."""
    from dermsynth.edit.jobs import EvaluateConfig
    from dermsynth.edit.jobs import evaluate as run

    cfg = EvaluateConfig(network=str(network), directions=str(directions_file), out=str(out), indices=indices,
                         alphas=alphas, num=num,
                         seed_offset=seed_offset, pool=pool, class_name=class_name, layers=layers, trunc=trunc,
                         detector=detector, class_scorer=class_scorer, min_lesion_iou=min_lesion_iou,
                         min_class_kept=min_class_kept, lpips=lpips, batch_size=batch_size, device=device)  # fmt: skip
    table, _ = _run(run, cfg, "evaluating")
    cols = ["index", "alpha", "n_present", "removed_frac", "induced_frac", "ssim_outside", "lesion_iou",
            "class_kept", "eligible", "best"]  # fmt: skip
    console.print(table[cols].to_string(index=False))
