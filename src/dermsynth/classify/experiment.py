"""The experiment file: one YAML that names the data, the setups, the model and the training.

Setups follow thesis Table 3.1 (sizes) and Table 4.5 (rows): ``real``, ``synthetic``,
``synthetic-nobias``, ``synthetic-noframes``, ``edited``, ``mixed`` (fraction real), plus any
user-defined list of sources. Example::

    name: phantom-demo
    preset: tiny                 # model/train defaults: tiny | cpu | thesis (default: default)
    seed: 0
    data:
      real: {dir: data/real, train: train, val: val, test: test}   # split column values
      synthetic: data/synth                                         # a generated dataset dir
      # synthetic: {network: network-final.safetensors, per_class: 10000, psi: 1.0}
      edited: data/edited
    sizes: {real_per_class: 4000, synthetic_per_class: 10000, val_total: 1500}
    model: {name: tf_efficientnet_lite2, weights: imagenet, image_size: 260}
    train: {epochs: 20, batch_size: 32, lr: 0.0001, patience: 4}
    eval: {target_sensitivity: 0.95, n_bootstrap: 2000}
    setups:
      - real
      - synthetic
      - {name: mixed, fraction_real: 0.4}
      - {name: real+nohair, sources: [{data: real, per_class: 2000},
                                      {data: synthetic, per_class: 2000, exclude_artifacts: [hair]}]}
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dermsynth.core.config import read_yaml_mapping, to_dict
from dermsynth.core.manifest import ARTIFACTS

BUILTIN_SETUPS = ["real", "synthetic", "synthetic-nobias", "synthetic-noframes", "edited", "mixed"]
FRAME_ARTIFACTS = ("dark_corner",)


@dataclass(frozen=True)
class ModelConfig:
    """The classifier network (``experiment.model``)."""

    name: str = "tf_efficientnet_lite2"  # registered model name (timm name or tiny-cnn)
    weights: str | None = "imagenet"  # imagenet | none | path to a state-dict checkpoint
    image_size: int = 260  # input side in pixels (EfficientNet-B2: 260, thesis Table 3.1)


@dataclass(frozen=True)
class ClassifierTrainConfig:
    """How each setup's classifier is trained (``experiment.train``)."""

    epochs: int = 20  # most epochs (early stopping may end sooner)
    batch_size: int = 32  # images per training step
    eval_batch_size: int = 64  # images per evaluation forward pass
    lr: float = 1e-4  # learning rate (AdamW)
    lr_schedule: str = "constant"  # constant | cosine (per epoch, from lr down to 0 at `epochs`)
    weight_decay: float = 1e-5  # AdamW weight decay
    patience: int = 4  # epochs without a better validation AUC before stopping
    samples_per_epoch: int | None = None  # None: the size of the training set
    balance: bool = True  # class-balanced weighted sampling
    augment: bool = True  # resized crops, flips, right-angle rotations, colour jitter (training only)
    freeze_backbone: bool = False  # train only the classifier head (a linear probe; CPU-sized runs)
    amp: bool = True  # bfloat16 autocast on CUDA
    workers: int = 2  # data-loading worker processes


@dataclass(frozen=True)
class SizesConfig:
    """How many images each setup draws (``experiment.sizes``; thesis Table 3.1)."""

    real_per_class: int = 4000  # real training images per class
    synthetic_per_class: int = 10000  # synthetic training images per class
    val_total: int = 1500  # validation images (real), for thresholds and early stopping
    val_balanced: bool = True  # equal classes in the validation set


@dataclass(frozen=True)
class EvalConfig:
    """How the test predictions are judged (``experiment.eval``)."""

    threshold_rule: str = "youden"  # threshold chosen on validation: youden or a target sensitivity
    target_sensitivity: float = 0.95  # also report TPR/TNR at this validation sensitivity
    n_bootstrap: int = 2000  # bootstrap resamples of the AUC confidence interval
    shortcut: bool = True  # frame shortcut test when the test manifest has dark_corner


@dataclass(frozen=True)
class SourceSpec:
    """Images drawn from one named data source for a setup."""

    data: str  # name of a source in ``experiment.data``
    per_class: int | None = None  # None: everything available (or by ``fraction``)
    fraction: float | None = None  # share of the setup's per-class total
    exclude_artifacts: tuple[str, ...] = ()  # leave out images flagged with these artifacts


@dataclass(frozen=True)
class SetupSpec:
    """One training set of the experiment (thesis Table 3.1 row)."""

    name: str  # setup name (a built-in such as real, synthetic, mixed, or your own)
    sources: tuple[SourceSpec, ...]  # where its training images come from
    per_class: int | None = None  # total per class when sources use ``fraction``


@dataclass(frozen=True)
class Experiment:
    """A whole classifier experiment (one YAML file; written to the run's ``config.json``)."""

    name: str = "experiment"  # experiment name
    seed: int = 0  # seed of sampling, initialisation and training order
    data: dict[str, Any] = field(default_factory=dict)  # named data sources (``real`` is required)
    sizes: SizesConfig = SizesConfig()  # images per setup
    model: ModelConfig = ModelConfig()  # the network
    train: ClassifierTrainConfig = ClassifierTrainConfig()  # training of each setup
    eval: EvalConfig = EvalConfig()  # judging on the real test set
    setups: tuple[SetupSpec, ...] = ()  # the training sets compared
    base_dir: str = "."  # relative data paths are resolved against the experiment file's folder

    def as_dict(self) -> dict[str, Any]:
        return to_dict(self)


#: Named presets for model + training (docs/architecture.md R2).
PRESETS: dict[str, tuple[ModelConfig, ClassifierTrainConfig]] = {
    "default": (ModelConfig(), ClassifierTrainConfig()),
    "thesis": (ModelConfig("efficientnet_b2", "imagenet", 260), ClassifierTrainConfig(epochs=30, patience=5)),
    "cpu": (
        ModelConfig("tf_efficientnet_lite0", "imagenet", 128),
        ClassifierTrainConfig(epochs=4, batch_size=32, lr=3e-4, patience=2, workers=1),
    ),
    "tiny": (
        ModelConfig("tiny-cnn", "none", 32),
        ClassifierTrainConfig(epochs=6, batch_size=16, eval_batch_size=64, lr=3e-3, patience=3, workers=0),
    ),
}


def _sub(cls, base, data: dict | None, what: str):
    if data is None:
        return base
    if not isinstance(data, dict):
        raise ValueError(f"experiment: `{what}` must be a mapping, got {type(data).__name__}")
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - fields)
    if unknown:
        raise ValueError(f"experiment: unknown option(s) {unknown} in `{what}`; known: {sorted(fields)}")
    return dataclasses.replace(base, **data)


def _source(d: dict, where: str) -> SourceSpec:
    if "data" not in d:
        raise ValueError(f"experiment: {where}: each source needs `data: NAME` (a key of `data`)")
    excl = d.get("exclude_artifacts", ())
    if excl == "all":
        excl = ARTIFACTS
    bad = [a for a in excl if a not in ARTIFACTS]
    if bad:
        raise ValueError(f"experiment: {where}: unknown artifact(s) {bad}; known: {ARTIFACTS}")
    unknown = sorted(set(d) - {"data", "per_class", "fraction", "exclude_artifacts"})
    if unknown:
        raise ValueError(f"experiment: {where}: unknown source option(s) {unknown}")
    return SourceSpec(str(d["data"]), d.get("per_class"), d.get("fraction"), tuple(excl))


def builtin_setup(name: str, sizes: SizesConfig, fraction_real: float = 0.4) -> SetupSpec:
    """The thesis setups (Table 3.1) as lists of sources."""
    r, s = sizes.real_per_class, sizes.synthetic_per_class
    table = {
        "real": (SourceSpec("real", r),),
        "synthetic": (SourceSpec("synthetic", s),),
        "synthetic-nobias": (SourceSpec("synthetic", s, exclude_artifacts=tuple(ARTIFACTS)),),
        "synthetic-noframes": (SourceSpec("synthetic", s, exclude_artifacts=FRAME_ARTIFACTS),),
        "edited": (SourceSpec("edited", s),),
        "mixed": (
            SourceSpec("real", fraction=fraction_real),
            SourceSpec("synthetic", fraction=round(1 - fraction_real, 6)),
        ),
    }
    if name not in table:
        raise ValueError(f"unknown setup {name!r}; built in: {BUILTIN_SETUPS} (or give `sources`)")
    return SetupSpec(name, table[name], per_class=s if name == "mixed" else None)


def parse_setup(item: Any, sizes: SizesConfig) -> SetupSpec:
    if isinstance(item, str):
        return builtin_setup(item, sizes)
    if not isinstance(item, dict) or "name" not in item:
        raise ValueError(f"experiment: a setup is a name or a mapping with `name`, got {item!r}")
    name = str(item["name"])
    if "sources" not in item:
        unknown = sorted(set(item) - {"name", "fraction_real", "per_class"})
        if unknown:
            raise ValueError(f"experiment: setup {name}: unknown option(s) {unknown}")
        spec = builtin_setup(name, sizes, float(item.get("fraction_real", 0.4)))
        return dataclasses.replace(spec, per_class=item.get("per_class", spec.per_class))
    srcs = tuple(_source(d, f"setup {name}") for d in item["sources"])
    if any(s.fraction is not None for s in srcs) and item.get("per_class") is None:
        raise ValueError(f"experiment: setup {name}: sources with `fraction` need the setup's `per_class`")
    return SetupSpec(name, srcs, item.get("per_class"))


def experiment_from_dict(d: dict[str, Any], base_dir: str | os.PathLike = ".") -> Experiment:
    """Build an :class:`Experiment` from a parsed YAML mapping; unknown keys are errors."""
    known = {"name", "seed", "preset", "data", "sizes", "model", "train", "eval", "setups"}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"experiment: unknown top-level key(s) {unknown}; known: {sorted(known)}")
    preset = d.get("preset", "default")
    if preset not in PRESETS:
        raise ValueError(f"experiment: unknown preset {preset!r}; choose from {sorted(PRESETS)}")
    model0, train0 = PRESETS[preset]
    sizes = _sub(SizesConfig, SizesConfig(), d.get("sizes"), "sizes")
    model = _sub(ModelConfig, model0, d.get("model"), "model")
    if isinstance(model.weights, str) and model.weights.lower() in ("none", "random", "scratch"):
        model = dataclasses.replace(model, weights="none")
    setups = tuple(parse_setup(s, sizes) for s in d.get("setups", ["real"]))
    names = [s.name for s in setups]
    if len(set(names)) != len(names):
        raise ValueError(f"experiment: setup names repeat: {names}")
    data = d.get("data") or {}
    if "real" not in data:
        raise ValueError("experiment: `data.real` (the real train/val/test dataset) is required")
    return Experiment(
        name=str(d.get("name", "experiment")),
        seed=int(d.get("seed", 0)),
        data=dict(data),
        sizes=sizes,
        model=model,
        train=_sub(ClassifierTrainConfig, train0, d.get("train"), "train"),
        eval=_sub(EvalConfig, EvalConfig(), d.get("eval"), "eval"),
        setups=setups,
        base_dir=str(Path(base_dir).resolve()),
    )


def load_experiment(path: str | os.PathLike) -> Experiment:
    """Read an experiment YAML file; relative data paths are taken from the file's folder."""
    p = Path(path)
    d = read_yaml_mapping(p, "experiment file")
    try:
        return experiment_from_dict(d, p.parent)
    except ValueError as e:
        raise ValueError(f"{p}: {e}") from None


def experiment_from_json(d: dict[str, Any]) -> Experiment:
    """Inverse of :meth:`Experiment.as_dict` (for a run's ``config.json``)."""
    return Experiment(
        name=d["name"],
        seed=d["seed"],
        data=d["data"],
        sizes=SizesConfig(**d["sizes"]),
        model=ModelConfig(**d["model"]),
        train=ClassifierTrainConfig(**d["train"]),
        eval=EvalConfig(**d["eval"]),
        setups=tuple(
            SetupSpec(
                s["name"],
                tuple(
                    SourceSpec(**{**x, "exclude_artifacts": tuple(x["exclude_artifacts"])})
                    for x in s["sources"]
                ),
                s["per_class"],
            )
            for s in d["setups"]
        ),
        base_dir=d["base_dir"],
    )
