"""The study's stages for :func:`run_pipeline`: each builds its stage configs from study.yaml and calls
the same library functions the ``dermsynth`` commands call (no argv, no import of the CLI).

Every stage is two functions: ``configs(sec, study, out, inputs)`` turns its section into frozen
configs (pure: no file is read, so :func:`check_study` runs them all before any work and an unknown key
fails at once), and ``run(configs, out, inputs, log)`` does the work. ``sec`` is the stage's section,
``out`` its folder, ``inputs`` the folders of the stages it reads.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from dermsynth.core.config import check_keys, coerce_fields
from dermsynth.pipeline.runner import Stage, section_of
from dermsynth.pipeline.sections import check_section_keys, sub_config

Log = Callable[[str], None]
DEFAULT_METRICS = ("fid10k_effnetlite",)  # metric names (docs/metrics.md) when the study names none
DEFAULT_SOURCE = "sample:isic2017"  # the embedded real sample when a study names no data
Configs = dict[str, Any]


def latest_snapshot(gan_dir: Path) -> Path:
    from dermsynth.gan.checkpoint import latest_snapshot as latest

    return latest(gan_dir)


def _pick(device: str) -> str:
    from dermsynth.core.distributed import device as pick

    return str(pick(device))


# ----------------------------------------------------------------------------------------- data


def data_configs(sec: dict, study: dict, out: Path, inputs: dict) -> Configs:
    """``data: {source, workers, phantom: PhantomConfig, ingest: IngestConfig, split: SplitConfig}``."""
    from dermsynth.data.ingest import IngestConfig
    from dermsynth.data.labels import parse_label_map
    from dermsynth.data.phantom import PhantomConfig, normalise_rates, parse_rates
    from dermsynth.data.sample import SampleConfig
    from dermsynth.data.split import SplitConfig

    check_section_keys(sec, "data", {"source", "workers"}, {"phantom": PhantomConfig, "ingest": IngestConfig,
                                                             "split": SplitConfig, "sample": SampleConfig})  # fmt: skip
    seed = study.get("seed", 0)
    # 'sample:isic2017' (the embedded real sample, the default), 'phantom' (procedural) or a path
    source = str(sec.get("source", DEFAULT_SOURCE))
    workers = int(sec.get("workers", 1))  # worker processes of phantom / ingest
    cfgs: Configs = {"source": source, "workers": workers}
    if source.startswith("sample:"):
        for other in ("phantom", "ingest"):
            if sec.get(other):
                raise ValueError(f"data.{other} does not apply to source {source!r}")
        cfgs["sample"] = sub_config(SampleConfig, sec, "sample", "data.sample", name=source.partition(":")[2])
    elif source == "phantom":
        if sec.get("ingest"):
            raise ValueError("data.ingest applies to a real source; data.source is 'phantom'")
        ph = dict(sec.get("phantom") or {})
        if isinstance(ph.get("rates"), str):
            ph["rates"] = parse_rates(ph["rates"])
        cfg = sub_config(PhantomConfig, {"phantom": ph}, "phantom", "data.phantom", seed=seed)
        cfgs["phantom"] = dataclasses.replace(cfg, rates=normalise_rates(cfg.rates))
    else:
        if sec.get("phantom"):
            raise ValueError(f"data.phantom applies to source 'phantom'; data.source is {source!r}")
        ing = dict(sec.get("ingest") or {})
        if isinstance(ing.get("label_map"), str):
            ing["label_map"] = parse_label_map(ing["label_map"])
        src = os.path.expanduser(source)
        cfgs["ingest"] = sub_config(IngestConfig, {"ingest": {"workers": workers, **ing}}, "ingest", "data.ingest",
                                    src=src)  # fmt: skip
    cfgs["split"] = sub_config(SplitConfig, sec, "split", "data.split", seed=seed)
    return cfgs


def data_run(c: Configs, out: Path, inputs: dict, log: Log) -> None:
    from dermsynth.data.ingest import run_ingest
    from dermsynth.data.phantom import make_phantom
    from dermsynth.data.split import split_dataset
    from dermsynth.data.stats import write_stats

    if "sample" in c:
        from dermsynth.data.sample import write_sample

        res = write_sample(c["sample"].name, out, c["sample"].size)
        log(f"[data] embedded sample {c['sample'].name}: {res.summary()}")
    elif c["source"] == "phantom":
        make_phantom(c["phantom"], out, c["workers"])
    else:
        res = run_ingest(c["ingest"], out)
        log(f"[data] {res.summary()} (format {res.format})")
    summary = split_dataset(out, c["split"])
    log(
        f"[data] {summary['level']}-level split: "
        + ", ".join(f"{s} {summary[s]['images']}" for s in ("train", "val", "test"))
    )
    write_stats(out)


# ---------------------------------------------------------------------------------- audit, clean


def audit_configs(sec: dict, study: dict, out: Path, inputs: dict) -> Configs:
    from dermsynth.bias.audit import AuditConfig

    return {"audit": sub_config(AuditConfig, sec, None, "audit")}


def audit_run(c: Configs, out: Path, inputs: dict, log: Log) -> None:
    from dermsynth.bias.audit import audit_dataset, parse_method
    from dermsynth.bias.columns import SUMMARY_FILE

    a = c["audit"]
    data = inputs["data"]
    audit_dataset(data, parse_method(a.method, a.model), figures=a.figures, device=_pick(a.device))
    if (data / SUMMARY_FILE).exists():
        shutil.copy2(data / SUMMARY_FILE, out / SUMMARY_FILE)


def clean_configs(sec: dict, study: dict, out: Path, inputs: dict) -> Configs:
    from dermsynth.clean.dataset import CleanConfig

    return {"clean": sub_config(CleanConfig, sec, None, "clean", seed=study.get("seed", 0))}


def clean_run(c: Configs, out: Path, inputs: dict, log: Log) -> None:
    from dermsynth.clean.dataset import clean_dataset

    summary = clean_dataset(inputs["data"], out / "dataset", c["clean"])
    log(
        f"[clean] changed {summary['n_changed']} of {summary['n_images']} images, left {summary.get('n_skipped', 0)} as they were (too dense to clean safely)"
    )


# ------------------------------------------------------------------------------------------- gan

#: TrainConfig fields the pipeline fills from the dataset it hands to the GAN.
GAN_FILLED = ("data", "res", "c_dim", "gpus")


def gan_configs(sec: dict, study: dict, out: Path, inputs: dict) -> Configs:
    """``gan:`` holds :class:`~dermsynth.gan.train.config.TrainConfig` fields (official train.py names).

    The preset (``cfg``) is resolved at run time, when the resolution of the data is known.
    """
    from dermsynth.gan.train.config import TrainConfig

    user = {k: v for k, v in sec.items() if k not in ("enabled", "resolution", "train_on")}
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    pipeline_set = sorted(set(user) & set(GAN_FILLED))
    if pipeline_set:
        raise ValueError(f"gan: {pipeline_set} are set by the pipeline (from the data); leave them out")
    check_keys(user, names - set(GAN_FILLED), "gan")
    user.setdefault("seed", study.get("seed", 0))
    resolution = sec.get("resolution")  # train at this side (a resized copy of the train split); None: as is
    if resolution is not None and (int(resolution) < 4 or int(resolution) & (int(resolution) - 1)):
        raise ValueError(f"gan.resolution: {resolution} is not a power of two >= 4")
    train_on = sec.get(
        "train_on", "clean"
    )  # clean: the cleaned images when the clean stage ran; data: the audited ones
    if train_on not in ("clean", "data"):
        raise ValueError(f"gan.train_on: {train_on!r} is not one of clean, data")
    train = coerce_fields(TrainConfig, user)
    if train.get("metrics"):
        from dermsynth.gan.train.config import OWN_METRICS
        from dermsynth.metrics.registry import resolve_metrics

        resolve_metrics(
            [m for m in train["metrics"] if m not in OWN_METRICS]
        )  # names now, files in preflight
    return {"train": train, "resolution": resolution and int(resolution), "train_on": train_on}


def gan_reads(c: Configs, ran: set[str]) -> tuple[str, ...]:
    """The images the GAN trains on: the cleaned ones when ``train_on: clean`` and the clean stage ran,
    else the data stage's (whose audit columns it does not read)."""
    return ("clean",) if c["train_on"] == "clean" and "clean" in ran else ("data",)


def gan_preflight(c: Configs) -> None:
    """Before the study's first stage: the snapshot metrics' names and weights, the network to start from."""
    from dermsynth.gan.checkpoint import network_paths, resolve_network
    from dermsynth.gan.train.config import OWN_METRICS
    from dermsynth.metrics.driver import check_metrics

    names = [m for m in c["train"].get("metrics") or () if m not in OWN_METRICS]
    if names:
        check_metrics(names, has_generator=True)
    if c["train"].get("resume"):
        weights, _ = network_paths(resolve_network(c["train"]["resume"]))
        if not weights.is_file():
            raise FileNotFoundError(
                f"gan.resume: {weights} not found (a network file or a shipped model name)"
            )


def gan_run(c: Configs, out: Path, inputs: dict, log: Log) -> None:
    from dermsynth.data import train_split_view
    from dermsynth.gan.train import plan_training, setup, train
    from dermsynth.metrics import compute_for_training

    over = dict(c["train"])
    data = inputs[gan_reads(c, set(inputs))[0]]
    data = data / "dataset" if (data / "dataset" / "manifest.csv").exists() else data
    data = train_split_view(data, out / "train-data", c.get("resolution"))
    tc, run_dir = plan_training(data, out, over.pop("cfg", "auto"), **over)
    train(setup(tc, run_dir, echo=log, evaluate=compute_for_training))


# -------------------------------------------------------------------------------------- generate


def generate_configs(sec: dict, study: dict, out: Path, inputs: dict) -> Configs:
    """``generate: {per_class, audit, <GenerateConfig fields>}``: seeds ``0 .. per_class-1`` for every class
    of the GAN's latest snapshot (:class:`dermsynth.gan.generate_job.GenerateConfig`). With ``audit``
    (default) and an enabled audit stage, the generated images are audited by the audit section's method,
    so that the report can set their artifact prevalence beside the real images' (the thesis found its
    GAN kept the frame bias of melanoma)."""
    from dermsynth.gan.generate_job import GenerateConfig

    own = {k: sec.pop(k) for k in ("per_class", "audit") if k in sec}
    per_class, audit_on = int(own.get("per_class", 100)), bool(own.get("audit", True))
    if per_class < 1:
        raise ValueError(f"generate.per_class must be at least 1, got {per_class}")
    g = sub_config(GenerateConfig, sec, None, "generate", network=str(inputs["gan"] / "network"),
                   out=str(out), seeds=f"0-{per_class - 1}", classes="all", grid=str(out / "samples.png"))  # fmt: skip
    audit = (
        audit_configs(section_of(study, "audit"), study, out, inputs)["audit"]
        if audit_on and _on("audit")(study)
        else None
    )
    return {"generate": g, "per_class": per_class, "audit": audit}


def generate_run(c: Configs, out: Path, inputs: dict, log: Log) -> None:
    from dermsynth.gan.generate_job import run_generate

    net = latest_snapshot(inputs["gan"])
    run_generate(dataclasses.replace(c["generate"], network=str(net)), log=log)
    log(f"[generate] {c['per_class']} images per class from {net.name}")
    a = c["audit"]
    if a is not None:
        from dermsynth.bias.audit import audit_dataset, parse_method

        audit_dataset(out, parse_method(a.method, a.model), figures=False, device=_pick(a.device))
        log(f"[generate] audited the generated images ({a.method}): artifact columns in manifest.csv")


# --------------------------------------------------------------------------------------- metrics


def metrics_configs(sec: dict, study: dict, out: Path, inputs: dict) -> Configs:
    """``metrics: {metrics: [names], <MetricOptions fields>}``; names and options checked before any work."""
    from dermsynth.metrics.driver import MetricOptions
    from dermsynth.metrics.registry import resolve_metrics

    user = {k: v for k, v in sec.items() if k != "enabled"}
    if "out_dir" in user:
        raise ValueError("metrics: ['out_dir'] are set by the pipeline; leave them out")
    check_keys(
        user, {"metrics"} | {f.name for f in dataclasses.fields(MetricOptions)} - {"out_dir"}, "metrics"
    )
    names = user.pop("metrics", DEFAULT_METRICS)
    names = tuple([names] if isinstance(names, str) else names)
    user.setdefault("seed", study.get("seed", 0))
    user.setdefault("floor", True)  # every FID of the study is judged against its real floor
    opts = MetricOptions(**coerce_fields(MetricOptions, {**user, "out_dir": str(out)}))
    resolve_metrics(list(names))  # names checked here; weights files in metrics_preflight
    return {"metrics": names, "options": opts}


def metrics_preflight(c: Configs) -> None:
    """Every weights file the metrics need (Inception, VGG16, a dermo model), before the study's first stage."""
    from dermsynth.metrics.driver import check_metrics

    check_metrics(list(c["metrics"]), has_generator=True, opts=c["options"])


def metrics_run(c: Configs, out: Path, inputs: dict, log: Log) -> None:
    """The metrics of the generated folder, PPL on the network that made it, and the real floor of every
    FID: one call of the driver (metrics/driver.py), one metrics.json (metrics/result.py)."""
    from dermsynth.metrics import compute_metrics, write_results

    opts = dataclasses.replace(c["options"], device=_pick(c["options"].device))
    names = list(c["metrics"])
    net = latest_snapshot(inputs["gan"]) if any(x.startswith("ppl") for x in names) else None
    res = compute_metrics(
        inputs["data"], fake_dir=inputs["generate"], network=net, metrics=names, options=opts
    )
    floor = res.get("floor") or {}
    for k, v in floor.get("results", {}).items():
        log(
            f"[metrics] {k}: generated {floor['generated'][k]:.4g} vs real floor {v:.4g} (held-out {floor['reference']})"
        )
    write_results(out / "metrics.json", res)
    log("[metrics] " + ", ".join(f"{k} {v:.4g}" for k, v in res["results"].items() if isinstance(v, float)))


# ------------------------------------------------------------------------------------------ edit


def edit_configs(sec: dict, study: dict, out: Path, inputs: dict) -> Configs:
    """``edit: {directions: DirectionsConfig, evaluate: EvaluateConfig, apply: ApplyConfig,
    edited_per_class, classes}``; the network is the GAN's latest snapshot."""
    from dermsynth.edit.jobs import ApplyConfig, DirectionsConfig, EvaluateConfig

    check_section_keys(sec, "edit", {"edited_per_class", "classes"},
                       {"directions": DirectionsConfig, "evaluate": EvaluateConfig, "apply": ApplyConfig})  # fmt: skip
    net = str(inputs["gan"] / "network")  # the latest snapshot, found at run time
    directions = str(out / "directions.npz")
    apply = dict(sec.get("apply") or {})
    apply.setdefault("until_clean", "dark_corner")  # the edited set: frames edited away until clean
    return {
        "directions": sub_config(DirectionsConfig, sec, "directions", "edit.directions", network=net, out=directions),
        "evaluate": sub_config(EvaluateConfig, sec, "evaluate", "edit.evaluate", network=net, directions=directions,
                               out=str(out)),
        "apply": sub_config(ApplyConfig, {**sec, "apply": apply}, "apply", "edit.apply", network=net,
                            directions=directions, seeds="0", class_name=None, strip=None, out=str(out / "edited")),
        "index_given": "index" in apply,
        "edited_per_class": int(sec.get("edited_per_class", 0)),  # edited images per class (0: none)
        "classes": tuple(sec.get("classes", ("not_melanoma", "melanoma"))),  # classes of the edited set
    }  # fmt: skip


def edit_run(c: Configs, out: Path, inputs: dict, log: Log) -> None:
    from dermsynth.edit.jobs import apply_direction, evaluate, find_directions

    net = str(latest_snapshot(inputs["gan"]))
    find_directions(dataclasses.replace(c["directions"], network=net), log=log)
    _, best = evaluate(dataclasses.replace(c["evaluate"], network=net), log=log)
    n = c["edited_per_class"]
    apply = dataclasses.replace(c["apply"], network=net)
    if not c["index_given"]:
        apply = dataclasses.replace(apply, index=int(best["index"]))
    for k, cls in enumerate(c["classes"] if n else ()):
        seeds = f"{k * 100000}-{k * 100000 + n - 1}"  # disjoint seeds per class
        strip = str(out / f"strip_{cls}.png") if k == 0 else None
        apply_direction(dataclasses.replace(apply, seeds=seeds, class_name=str(cls), strip=strip), log=log)


# -------------------------------------------------------------------------------------- classify


def classify_configs(sec: dict, study: dict, out: Path, inputs: dict) -> Configs:
    """``classify: {device, target_sensitivity, experiment: <experiment file>, embed: EmbedConfig}``.

    The experiment's ``data.real`` defaults to the data stage (train/val/test splits) and
    ``data.synthetic`` to the generated images; ``data.edited`` is added at run time when the edit
    stage wrote an edited set (setups named ``edited`` are dropped otherwise).
    """
    from dermsynth.classify.embed import EmbedConfig
    from dermsynth.classify.experiment import experiment_from_dict

    check_section_keys(
        sec, "classify", {"target_sensitivity", "device"}, {"embed": EmbedConfig, "experiment": dict}
    )
    seed = study.get("seed", 0)
    exp = dict(sec.get("experiment") or {})
    if not isinstance(exp.get("data", {}), Mapping):
        raise ValueError("classify.experiment.data must be a mapping")
    data = dict(exp.get("data") or {})
    data.setdefault("real", {"dir": str(inputs["data"]), "train": "train", "val": "val", "test": "test"})
    data.setdefault("synthetic", str(inputs["generate"]))
    exp["data"] = data
    exp.setdefault("seed", seed)
    if sec.get("target_sensitivity") is not None:
        exp["eval"] = {**(exp.get("eval") or {}), "target_sensitivity": float(sec["target_sensitivity"])}
    try:
        experiment = experiment_from_dict(exp, out)
    except ValueError as e:
        raise ValueError(f"classify.{e}") from None
    embed = sub_config(EmbedConfig, sec, "embed", "classify.embed", seed=seed, out=str(out / "embed"),
                       real=(str(inputs["data"]),), synthetic=(str(inputs["generate"]),), run=str(out))  # fmt: skip
    return {
        "experiment": exp,
        "checked": experiment,
        "embed": embed,
        "device": str(sec.get("device", "auto")),
    }


def classify_run(c: Configs, out: Path, inputs: dict, log: Log) -> None:
    from dermsynth.classify.embed import embed_datasets
    from dermsynth.classify.experiment import experiment_from_dict
    from dermsynth.classify.run import run_experiment

    exp = dict(c["experiment"])
    edited = inputs.get("edit")
    if edited is not None and (edited / "edited" / "manifest.csv").exists():
        exp["data"] = {"edited": str(edited / "edited"), **exp["data"]}
    elif "setups" in exp:  # no edited set was made: drop the setup that needs it
        exp["setups"] = [s for s in exp["setups"] if s != "edited"]
    run_experiment(experiment_from_dict(exp, out), out, c["device"], log=log)
    embed_datasets(c["embed"])


# ---------------------------------------------------------------------------------- survey, report


def survey_configs(sec: dict, study: dict, out: Path, inputs: dict) -> Configs:
    """``survey: {build: BuildOptions, analyze: {responses, n_boot}}``."""
    from dermsynth.survey.analyze import AnalyzeConfig
    from dermsynth.survey.build import BuildOptions

    check_section_keys(sec, "survey", set(), {"build": BuildOptions, "analyze": AnalyzeConfig})
    seed = study.get("seed", 0)
    return {
        "build": sub_config(BuildOptions, sec, "build", "survey.build", seed=seed),
        "analyze": sub_config(AnalyzeConfig, sec, "analyze", "survey.analyze"),
        "seed": seed,
    }


def survey_run(c: Configs, out: Path, inputs: dict, log: Log) -> None:
    """Build the reader study from the data and the trained generator. Its synthetic stimuli come
    from secret random seeds of the generator (not the generate stage's public seeds 0..N, which a
    reader with the generator could regenerate and match; issue 25.3); with outliers, the secret
    candidates are embedded with the classify stage's trained setup."""
    from dermsynth.survey.analyze import analyze
    from dermsynth.survey.build import build_study_from_generator
    from dermsynth.survey.responses import STIMULI_CSV

    study = out / "study"
    if study.exists() and not (study / STIMULI_CSV).exists():  # interrupted build: start again
        shutil.rmtree(study)
    if not study.exists():

        def embed(pool: Path) -> Path:
            from dermsynth.classify.embed import EmbedConfig, embed_datasets

            cfg = EmbedConfig(out=str(pool / "embed"), synthetic=(str(pool),), run=str(inputs["classify"]))
            embed_datasets(cfg)
            return pool / "embed" / "embeddings.csv"

        net = latest_snapshot(inputs["gan"])
        res = build_study_from_generator(
            inputs["data"], net, study, c["build"], device=str(_pick("auto")), embed=embed
        )
        log(
            f"[survey] study written to {res.study_dir}: {res.counts} (synthetic: secret seeds of {net.name})"
        )
        for w in res.warnings:
            log(f"[survey] WARNING: {w}")
    an = c["analyze"]
    if an.responses:
        analyze(an.responses, study / STIMULI_CSV, out / "analysis", None, an.n_boot, c["seed"])


def report_configs(sec: dict, study: dict, out: Path, inputs: dict) -> Configs:
    from dermsynth.report.build import ReportConfig

    return {"report": sub_config(ReportConfig, sec, None, "report")}


def report_run(c: Configs, out: Path, inputs: dict, log: Log) -> None:
    from dermsynth.report import build_report

    build_report(out.parent, out, title=c["report"].title)


# ---------------------------------------------------------------------------------------- wiring


def _on(name: str, default: bool = True) -> Callable[[dict], bool]:
    return lambda cfg: bool(section_of(cfg, name).get("enabled", default))


def _stage(name: str, configs, run, **kw) -> Stage:
    def fn(sec: dict, out: Path, inputs: dict, cfg: dict, log: Log) -> None:
        run(configs(sec, cfg, out, inputs), out, inputs, log)

    return Stage(name, fn, configs=configs, **kw)


STAGES = [
    _stage("data", data_configs, data_run),
    _stage("audit", audit_configs, audit_run, needs=("data",), enabled=_on("audit")),
    _stage("clean", clean_configs, clean_run, needs=("data", "audit"), enabled=_on("clean", False)),
    _stage("gan", gan_configs, gan_run, needs=("data",), optional=("audit", "clean"), enabled=_on("gan"),
           preflight=gan_preflight, reads=gan_reads),
    _stage("generate", generate_configs, generate_run, needs=("gan",), enabled=_on("generate")),
    _stage("metrics", metrics_configs, metrics_run, needs=("data", "generate", "gan"), enabled=_on("metrics"), preflight=metrics_preflight),
    _stage("edit", edit_configs, edit_run, needs=("gan",), enabled=_on("edit")),
    _stage("classify", classify_configs, classify_run, needs=("data", "generate"), optional=("audit", "edit"),
           enabled=_on("classify")),
    _stage("survey", survey_configs, survey_run, needs=("data", "gan", "classify"), enabled=_on("survey")),
    _stage("report", report_configs, report_run, needs=("data",),
           optional=("audit", "clean", "gan", "generate", "metrics", "edit", "classify", "survey"),
           enabled=_on("report")),
]  # fmt: skip

#: Keys of a study config: the stage sections, the study seed and the preset it overlays.
STUDY_KEYS = ("preset", "seed", *(s.name for s in STAGES))
