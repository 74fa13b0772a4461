"""``dermsynth gan train``: parse options, resolve the config, run the training loop with a progress bar.

Option names and defaults follow the official StyleGAN2-ADA ``train.py``; unset options keep the
``--cfg`` preset's value. Under ``torchrun`` every process runs this same command.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from dermsynth.cli.common import DEVICE_HELP, console, user_errors
from dermsynth.gan.presets import preset_defaults  # the preset table; imports no torch

# Choices as enums (shown in --help). Written out so that `--help` needs no torch; tests/test_gan_train.py
# checks them against the library's lists (presets.PRESET_NAMES, augment.AUGPIPE_SPECS ...).
Preset = StrEnum(
    "Preset", {n: n for n in ("auto", "stylegan2", "paper256", "paper512", "paper1024", "cifar", "tiny")}
)
Aug = StrEnum("Aug", {n: n for n in ("ada", "noaug", "fixed")})
AugPipe = StrEnum(
    "AugPipe",
    {
        n: n
        for n in (
            "blit",
            "geom",
            "color",
            "filter",
            "noise",
            "cutout",
            "bg",
            "bgc",
            "bgcf",
            "bgcfn",
            "bgcfnc",
        )
    },
)
AugmentImpl = StrEnum("AugmentImpl", {n: n for n in ("faithful", "fast")})
Precision = StrEnum("Precision", {n: n for n in ("fp16", "bf16", "fp32")})


def _progress_callback(bar, task, total_nimg: int):
    def update(run) -> None:
        c = run.counters
        p = run.augment_pipe.probability if run.augment_pipe is not None else 0.0
        info = f"kimg {c.cur_nimg / 1000:.1f}  p {p:.3f}  tick {c.cur_tick}"
        if run.last_row.get("sec_per_kimg") is not None:
            info += f"  sec/kimg {run.last_row['sec_per_kimg']:.2f}"
        bar.update(task, completed=min(c.cur_nimg, total_nimg), info=info)

    return update


def train_command(
    data: Path = typer.Option(..., "--data", help="Dataset directory (images/, dataset.json, manifest.csv)."),
    out: Path = typer.Option(
        ..., "--out", help="Parent directory of runs; the run directory is named from the config."
    ),
    cfg: Preset = typer.Option(
        Preset.auto, "--cfg", help="Official preset (auto: from resolution and GPUs)."
    ),
    cond: bool = typer.Option(False, "--cond", help="Condition on the class labels of dataset.json."),
    mirror: bool = typer.Option(False, "--mirror", help="Add x-flipped copies of the images."),
    kimg: float | None = typer.Option(
        None, "--kimg", help="Training length in thousands of real images (preset)."
    ),
    tick: float | None = typer.Option(
        None, "--tick", help=f"kimg per tick (default: the --cfg preset's, {preset_defaults('tick')})."
    ),
    snap: int | None = typer.Option(
        None,
        "--snap",
        help=f"Ticks per snapshot and training state (default: the --cfg preset's, {preset_defaults('snap')}).",
    ),
    batch: int | None = typer.Option(
        None,
        "--batch-size",
        "--batch",
        help="Total batch over all processes (preset; --batch: official spelling).",
    ),
    batch_gpu: int | None = typer.Option(
        None, "--batch-gpu", help="Micro-batch per process (gradient accumulation)."
    ),
    gamma: float | None = typer.Option(None, "--gamma", help="R1 weight (preset)."),
    glr: float | None = typer.Option(None, "--glr", help="G learning rate (preset)."),
    dlr: float | None = typer.Option(None, "--dlr", help="D learning rate (preset)."),
    map_: int | None = typer.Option(None, "--map", help="Mapping network depth (preset)."),
    cbase: int | None = typer.Option(None, "--cbase", help="Channel base (preset)."),
    cmax: int | None = typer.Option(None, "--cmax", help="Channel max (preset)."),
    aug: Aug = typer.Option(Aug.ada, "--aug", help="Augmentation mode: ADA-adjusted p, none, or fixed --p."),
    p: float | None = typer.Option(
        None, "--p", help="Augmentation probability (start value for ada, fixed value for fixed)."
    ),
    target: float | None = typer.Option(
        None, "--target", help="ADA target for the mean sign of D(real) (default 0.6)."
    ),
    p_max: float | None = typer.Option(
        None, "--p-max", help="Ceiling of the ADA probability (ours; default none, as the official)."
    ),
    augpipe: AugPipe = typer.Option(AugPipe.bgc, "--augpipe", help="Augmentation groups (official names)."),
    augment_impl: AugmentImpl = typer.Option(
        AugmentImpl.faithful,
        "--augment-impl",
        help="faithful: official wavelet resampling; fast: bicubic, leaks.",
    ),
    resume: str | None = typer.Option(
        None, "--resume", help="Start from an exported network (transfer learning)."
    ),
    freezed: int | None = typer.Option(None, "--freezed", help="Freeze the first N layers of D (Freeze-D)."),
    metrics: str | None = typer.Option(
        None, "--metrics", help="Comma-separated metrics at each snapshot, e.g. fd_simple,fid50k_full."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Random seed (default 0)."),
    precision: Precision | None = typer.Option(
        None,
        "--precision",
        help="fp16: official mixed precision (CUDA only) | bf16 | fp32 (default: the preset's).",
    ),
    fp32: bool = typer.Option(False, "--fp32", help="Same as --precision fp32 (official flag)."),
    channels_last: bool = typer.Option(
        False, "--nhwc/--no-nhwc", help="channels_last in every block, float32 ones too (speed only)."
    ),
    tf32: bool = typer.Option(
        False, "--allow-tf32/--no-allow-tf32", help="TF32 matmuls/convolutions on CUDA."
    ),
    compile_: bool = typer.Option(False, "--compile", help="torch.compile the non-regularisation passes."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    keep: Path | None = typer.Option(
        None,
        "--keep",
        help="Also keep the newest training state and the run's records in this folder (e.g. in git); "
        "a run directory without a newer state continues from it.",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the resolved config and exit."),
) -> None:
    """Train a (conditional) StyleGAN2-ADA; rerunning the same command resumes the run.

    Example (the shipped isic2017-gen, continued by rerunning with a larger --kimg):

      dermsynth gan train --data isic2017-train-64 --out runs --cond --mirror --cbase 2048 --cmax 128 --map 2 --precision fp32 --kimg 200

    Transfer learning from a shipped network: add --resume isic2017-gen. SIGTERM or Ctrl-C stops after
    the current step with the training state written; the same command continues exactly.
    """
    from dermsynth.core import distributed as dist
    from dermsynth.core.io import to_json
    from dermsynth.gan.train import config_dict, plan_training, setup, train
    from dermsynth.metrics import compute_for_training

    with user_errors():
        dist.init()
        tc, run_dir = plan_training(
            data, out, cfg.value, cond=cond,
            mirror=mirror, kimg=kimg, tick=tick, snap=snap, batch=batch, batch_gpu=batch_gpu, gamma=gamma,
            glr=glr, dlr=dlr, map=map_, cbase=cbase, cmax=cmax, aug=aug.value, p=p, target=target, p_max=p_max,
            augpipe=augpipe.value, augment_impl=augment_impl.value, resume=resume, freezed=freezed, seed=seed,
            metrics=tuple(m.strip() for m in metrics.split(",") if m.strip()) if metrics else None,
            precision="fp32" if fp32 else precision and precision.value, channels_last=channels_last or None, tf32=tf32 or None,
            compile=compile_ or None, device=device, keep=str(Path(keep).resolve()) if keep else None,
        )  # fmt: skip
        if dry_run:
            if dist.is_main():
                typer.echo(to_json({"run_dir": str(run_dir), **config_dict(tc)}))
            return
        run = setup(
            tc, run_dir, echo=console.print if dist.is_main() else None, evaluate=compute_for_training
        )
        total = int(tc.kimg * 1000)
        if not dist.is_main():
            train(run)
            return
        from dermsynth.cli.common import progress

        with progress() as bar:
            task = bar.add_task("train", total=total, completed=run.counters.cur_nimg, info="")
            train(run, progress=_progress_callback(bar, task, total))
        if run.stopped:
            console.print(
                f"stopped at kimg {run.counters.cur_nimg / 1000:.3f}, state written: rerun to continue"
            )
        else:
            console.print(f"done: {run_dir}")
