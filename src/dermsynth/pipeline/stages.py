"""The study's stages for :func:`run_pipeline`, each a call of the ``dermsynth`` command it stands for.

A stage runs the same command a user would type (in this process, through the Typer app), so the
pipeline and the CLI never drift apart. ``sec`` is the stage's section of the config, ``out`` its
folder, ``inputs`` the folders of the stages it reads.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from dermsynth.core.io import atomic_write_text
from dermsynth.pipeline.runner import Stage


def cli(*args: Any) -> None:
    """Run ``dermsynth ARGS`` in this process; raise if it fails. An option whose value is None is left out."""
    from dermsynth.cli.main import app

    argv: list[str] = []
    items = list(args)
    i = 0
    while i < len(items):
        a = items[i]
        if isinstance(a, str) and a.startswith("--") and i + 1 < len(items) and items[i + 1] is None:
            i += 2
            continue
        if a is not None:
            argv.append(str(a))
        i += 1
    try:
        code = app(argv, standalone_mode=False)
    except SystemExit as e:
        code = e.code
    if code not in (0, None):
        raise RuntimeError(f"`dermsynth {' '.join(argv)}` failed (exit code {code})")


def _opts(sec: dict, mapping: dict[str, str]) -> list[str]:
    """``{'kimg': 20}`` with ``{'kimg': '--kimg'}`` -> ``['--kimg', '20']``; booleans as flags."""
    out: list[str] = []
    for key, flag in mapping.items():
        if key not in sec or sec[key] is None:
            continue
        v = sec[key]
        if isinstance(v, bool):
            if v:
                out.append(flag)
        else:
            out += [flag, ",".join(map(str, v)) if isinstance(v, list | tuple) else str(v)]
    return out


def data_stage(sec: dict, out: Path, inputs: dict, cfg: dict) -> None:
    source = sec.get("source", "phantom")
    seed = cfg.get("seed", 0)
    if source == "phantom":
        cli(
            "data",
            "phantom",
            "--out",
            out,
            "--seed",
            seed,
            *_opts(
                sec,
                {
                    "n": "--n",
                    "size": "--size",
                    "rates": "--rates",
                    "melanoma_fraction": "--melanoma-fraction",
                    "workers": "--workers",
                },
            ),
        )
    else:
        cli(
            "data",
            "ingest",
            source,
            "--out",
            out,
            *_opts(
                sec,
                {
                    "format": "--format",
                    "size": "--size",
                    "resize_filter": "--resize-filter",
                    "crop": "--crop",
                    "workers": "--workers",
                },
            ),
        )
    cli("data", "split", out, "--seed", seed, *_opts(sec, {"val": "--val", "test": "--test"}))
    cli("data", "stats", out)


def audit_stage(sec: dict, out: Path, inputs: dict, cfg: dict) -> None:
    data = inputs["data"]
    cli("bias", "audit", data, "--method", sec.get("method", "heuristic"))
    for name in ("audit_summary.json",):
        if (data / name).exists():
            shutil.copy2(data / name, out / name)


def clean_stage(sec: dict, out: Path, inputs: dict, cfg: dict) -> None:
    cli(
        "clean",
        inputs["data"],
        "--out",
        out / "dataset",
        *_opts(sec, {"method": "--method", "also_hair": "--also-hair"}),
    )


def train_split_view(data: Path, out: Path) -> Path:
    """A dataset folder holding only the ``train`` split of ``data`` (images linked, not copied).

    The GAN must never see validation or test images: the classifier experiments test on them and
    the memorisation check uses them as the held-out reference.
    """
    import os

    from dermsynth.core.manifest import read_manifest, write_dataset_json, write_manifest

    df = read_manifest(data)
    if "split" in df.columns and df["split"].notna().any():
        df = df[df["split"] == "train"].reset_index(drop=True)
    if df.empty:
        raise ValueError(f"{data}: no images in the train split")
    for f in df["file"]:
        link = out / f
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            os.symlink(os.path.relpath((data / f).resolve(), link.parent.resolve()), link)
    write_manifest(df, out)
    write_dataset_json(df, out)
    return out


def gan_stage(sec: dict, out: Path, inputs: dict, cfg: dict) -> None:
    data = inputs.get("clean", inputs["data"])
    data = data / "dataset" if (data / "dataset" / "manifest.csv").exists() else data
    data = train_split_view(data, out / "train-data")
    cli(
        "gan",
        "train",
        "--data",
        data,
        "--out",
        out,
        "--seed",
        cfg.get("seed", 0),
        *_opts(
            sec,
            {
                "cfg": "--cfg",
                "cond": "--cond",
                "mirror": "--mirror",
                "kimg": "--kimg",
                "tick": "--tick",
                "snap": "--snap",
                "batch": "--batch",
                "gamma": "--gamma",
                "glr": "--glr",
                "dlr": "--dlr",
                "map": "--map",
                "cbase": "--cbase",
                "cmax": "--cmax",
                "aug": "--aug",
                "augpipe": "--augpipe",
                "target": "--target",
                "metrics": "--metrics",
                "device": "--device",
                "resume": "--resume",
                "freezed": "--freezed",
            },
        ),
    )


def latest_network(gan_dir: Path) -> Path:
    nets = sorted(p for p in gan_dir.rglob("network-*.safetensors") if "train-data" not in p.parts)
    if not nets:
        raise FileNotFoundError(f"{gan_dir}: no network-*.safetensors snapshot")
    return nets[-1]


def generate_stage(sec: dict, out: Path, inputs: dict, cfg: dict) -> None:
    n = int(sec.get("per_class", 100))
    cli(
        "gan",
        "generate",
        "--network",
        latest_network(inputs["gan"]),
        "--seeds",
        f"0-{n - 1}",
        "--class",
        "all",
        "--out",
        out,
        "--grid",
        out / "samples.png",
        *_opts(
            sec,
            {
                "trunc": "--trunc",
                "noise_mode": "--noise-mode",
                "batch": "--batch",
                "device": "--device",
                "class_aware": "--class-aware",
            },
        ),
    )


def metrics_stage(sec: dict, out: Path, inputs: dict, cfg: dict) -> None:
    cli(
        "metrics",
        "--real",
        inputs["data"],
        "--fake",
        inputs["generate"],
        "--json",
        out / "metrics.json",
        "--out",
        out,
        "--seed",
        cfg.get("seed", 0),
        *_opts(
            sec,
            {
                "metrics": "--metrics",
                "features": "--features",
                "num": "--num",
                "batch": "--batch",
                "device": "--device",
                "feature_size": "--feature-size",
            },
        ),
    )


def edit_stage(sec: dict, out: Path, inputs: dict, cfg: dict) -> None:
    net = latest_network(inputs["gan"])
    directions = out / "directions.npz"
    cli(
        "edit",
        "directions",
        "--network",
        net,
        "--method",
        sec.get("method", "sefa"),
        "--out",
        directions,
        *_opts(sec, {"layers": "--layers", "k": "--k", "num": "--num", "score": "--score"}),
    )
    cli(
        "edit",
        "evaluate",
        "--network",
        net,
        "--directions",
        directions,
        "--out",
        out,
        *_opts(
            sec, {"indices": "--indices", "alphas": "--alphas", "eval_num": "--num", "detector": "--detector"}
        ),
    )
    if sec.get("edited_per_class"):
        import json

        best = (
            json.loads((out / "table.json").read_text()).get("best")
            if (out / "table.json").exists()
            else None
        )
        index = int(best["index"]) if isinstance(best, dict) and "index" in best else 0
        n = int(sec["edited_per_class"])
        for k, cls in enumerate(sec.get("classes", ["not_melanoma", "melanoma"])):
            cli(
                "edit",
                "apply",
                "--network",
                net,
                "--directions",
                directions,
                "--index",
                index,
                "--seeds",
                f"{k * 100000}-{k * 100000 + n - 1}",
                "--class",
                cls,
                "--until-clean",
                "dark_corner",
                "--out",
                out / "edited",
                *(["--strip", out / f"strip_{cls}.png"] if k == 0 else []),
            )


def classify_stage(sec: dict, out: Path, inputs: dict, cfg: dict) -> None:
    exp = dict(sec.get("experiment", {}))
    data = dict(exp.get("data", {}))
    data.setdefault("real", {"dir": str(inputs["data"]), "train": "train", "val": "val", "test": "test"})
    data.setdefault("synthetic", str(inputs["generate"]))
    edited = inputs.get("edit")
    if edited is not None and (edited / "edited" / "manifest.csv").exists():
        data.setdefault("edited", str(edited / "edited"))
    elif "setups" in exp:  # no edited set was made: drop the setup that needs it
        exp["setups"] = [s for s in exp["setups"] if s != "edited"]
    exp["data"] = data
    exp.setdefault("seed", cfg.get("seed", 0))
    path = out / "experiment.yaml"
    atomic_write_text(path, yaml.safe_dump(exp, sort_keys=False))
    cli(
        "classify",
        "run",
        path,
        "--out",
        out,
        *_opts(sec, {"device": "--device", "target_sensitivity": "--target-sensitivity"}),
    )
    cli(
        "classify",
        "embed",
        "--out",
        out / "embed",
        "--real",
        inputs["data"],
        "--synthetic",
        inputs["generate"],
        "--run",
        out,
        "--setup",
        "real",
        *_opts(sec, {"embed_per_class": "--per-class"}),
    )


def survey_stage(sec: dict, out: Path, inputs: dict, cfg: dict) -> None:
    study = out / "study"
    if study.exists() and not (study / "stimuli.csv").exists():
        shutil.rmtree(study)
    if not study.exists():
        emb = inputs["classify"] / "embed" / "embeddings.csv"
        cli(
            "survey",
            "build",
            "--real",
            inputs["data"],
            "--synthetic",
            inputs["generate"],
            "--out",
            study,
            "--seed",
            cfg.get("seed", 0),
            "--outliers",
            emb if emb.exists() else None,
            *_opts(
                sec, {"n": "--n", "exclude": "--exclude", "size": "--size", "outlier_frac": "--outlier-frac"}
            ),
        )
    responses = sec.get("responses")
    if responses:
        cli(
            "survey",
            "analyze",
            "--responses",
            responses,
            "--stimuli",
            study / "stimuli.csv",
            "--out",
            out / "analysis",
        )


def report_stage(sec: dict, out: Path, inputs: dict, cfg: dict) -> None:
    cli("report", out.parent, "--out", out, "--title", sec.get("title", "dermsynth study"))


def _on(name: str):
    return lambda cfg: bool(cfg.get(name, {}).get("enabled", True))


STAGES = [
    Stage("data", data_stage),
    Stage("audit", audit_stage, needs=("data",), enabled=_on("audit")),
    Stage(
        "clean",
        clean_stage,
        needs=("data", "audit"),
        enabled=lambda c: bool(c.get("clean", {}).get("enabled", False)),
    ),
    Stage("gan", gan_stage, needs=("data",), optional=("audit", "clean"), enabled=_on("gan")),
    Stage("generate", generate_stage, needs=("gan",), enabled=_on("generate")),
    Stage("metrics", metrics_stage, needs=("data", "generate"), enabled=_on("metrics")),
    Stage("edit", edit_stage, needs=("gan",), enabled=_on("edit")),
    Stage(
        "classify",
        classify_stage,
        needs=("data", "generate"),
        optional=("audit", "edit"),
        enabled=_on("classify"),
    ),
    Stage("survey", survey_stage, needs=("data", "generate", "classify"), enabled=_on("survey")),
    Stage(
        "report",
        report_stage,
        needs=("data",),
        optional=("audit", "clean", "gan", "generate", "metrics", "edit", "classify", "survey"),
        enabled=_on("report"),
    ),
]
