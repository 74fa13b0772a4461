"""Load the best model of a finished (or interrupted) setup from a run directory."""

from __future__ import annotations

import json
from pathlib import Path

from dermsynth.classify.experiment import Experiment, experiment_from_json
from dermsynth.classify.models import Classifier, build_classifier
from dermsynth.core.pretrained import WeightsInfo


def load_run_experiment(run_dir: str | Path) -> Experiment:
    p = Path(run_dir) / "config.json"
    if not p.is_file():
        raise FileNotFoundError(f"{p}: not a classify run directory (no config.json)")
    return experiment_from_json(json.loads(p.read_text(encoding="utf-8")))


def load_trained(run_dir: str | Path, setup: str) -> tuple[Classifier, Experiment]:
    """The best-validation weights of ``setup`` (``state.pt``, loaded with ``weights_only=True``)."""
    import torch

    exp = load_run_experiment(run_dir)
    sdir = Path(run_dir) / "setups" / setup
    state = sdir / "state.pt"
    if not state.is_file():
        names = (
            sorted(p.name for p in (Path(run_dir) / "setups").glob("*"))
            if (Path(run_dir) / "setups").is_dir()
            else []
        )
        raise FileNotFoundError(f"{state}: setup {setup!r} has no trained model; setups in this run: {names}")
    clf = build_classifier(exp.model.name, None)  # architecture only; weights come from the state
    clf.model.load_state_dict(torch.load(state, map_location="cpu", weights_only=True)["best_model"])
    done = sdir / "done.json"
    if done.is_file():
        w = json.loads(done.read_text())["weights"]
        clf.weights = WeightsInfo(w["model"], w["weights"], w.get("path"))
    clf.note = ""
    return clf, exp
