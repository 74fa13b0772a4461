"""study.yaml against the stage configs: unknown keys refused with their names before any work, every
config field settable, pipeline-owned fields refused, the stage's own error reaching the user."""

from __future__ import annotations

import dataclasses
import json

import pytest
import yaml
from typer.testing import CliRunner

from dermsynth.cli.main import app
from dermsynth.pipeline.config import check_study, load_study_config
from dermsynth.pipeline.runner import run_pipeline
from dermsynth.pipeline.stages import STAGES

#: Where each stage config lives in its section (None: the section itself) and the fields the
#: pipeline fills (paths, the network it trained, the seeds and classes of the edited set).
LAYOUT = {
    "data": {"phantom": set(), "split": set()},
    "audit": {None: set()},
    "clean": {None: set()},
    "generate": {None: {"network", "out", "seeds", "classes", "grid"}},
    "metrics": {None: {"out_dir"}},
    "edit": {
        "directions": {"network", "out"},
        "evaluate": {"network", "directions", "out"},
        "apply": {"network", "directions", "seeds", "class_name", "strip", "out"},
    },
    "classify": {"embed": {"out", "real", "synthetic", "run"}},
    "survey": {"build": set(), "analyze": set()},
    "report": {None: set()},
}


def _demo() -> dict:
    return load_study_config(preset_name="demo-phantom")


def _config_of(resolved: dict, stage: str, key: str | None):
    c = resolved[stage]
    return c[key] if key is not None else next(v for v in c.values() if dataclasses.is_dataclass(v))


def _section_with(cfg: dict, stage: str, key: str | None, field: str, value) -> dict:
    cfg = json.loads(json.dumps(cfg))
    sec = cfg.setdefault(stage, {})
    (sec if key is None else sec.setdefault(key, {}))[field] = value
    return cfg


def test_every_stage_config_field_is_settable_and_pipeline_fields_are_refused():
    base = _demo()
    resolved = check_study(base)
    n_checked = 0
    for stage, layout in LAYOUT.items():
        for key, filled in layout.items():
            cfg_obj = _config_of(resolved, stage, key)
            for f in dataclasses.fields(cfg_obj):
                value = getattr(cfg_obj, f.name)
                value = list(value) if isinstance(value, tuple) else value
                cfg = _section_with(base, stage, key, f.name, value)
                if f.name in filled:
                    with pytest.raises(ValueError, match="set by the pipeline"):
                        check_study(cfg)
                    continue
                got = getattr(_config_of(check_study(cfg), stage, key), f.name)
                assert (list(got) if isinstance(got, tuple) else got) == value, (stage, key, f.name)
                n_checked += 1
    assert n_checked > 80


def test_ingest_fields_reach_the_ingest_config():
    from dermsynth.data.ingest import IngestConfig

    cfg = _demo()
    cfg["data"] = {"source": "/data/isic", "workers": 3, "ingest": {"format": "folder", "crop": "pad",
                   "label_map": "mel=1,nv=0", "max_pixels": 1000, "reduced_decode": False}}  # fmt: skip
    ing = check_study(cfg)["data"]["ingest"]
    assert ing == IngestConfig(
        "/data/isic", "folder", 256, "pad", "lanczos", 1000, None, {"mel": 1, "nv": 0}, 3, False
    )
    cfg["data"]["ingest"]["src"] = "/elsewhere"
    with pytest.raises(ValueError, match="set by the pipeline"):
        check_study(cfg)


def test_shared_keys_and_seed_reach_every_config():
    cfg = _demo()
    cfg["seed"] = 7
    cfg["edit"]["device"] = "cuda:1"
    cfg["edit"]["batch_size"] = 5
    cfg["edit"]["evaluate"]["batch_size"] = 9  # the sub-section wins
    r = check_study(cfg)
    assert {r["edit"][k].device for k in ("directions", "evaluate", "apply")} == {"cuda:1"}
    assert (r["edit"]["directions"].batch_size, r["edit"]["evaluate"].batch_size) == (5, 9)
    assert r["data"]["split"].seed == 7 and r["data"]["phantom"].seed == 7 and r["survey"]["build"].seed == 7
    assert r["gan"]["train"]["seed"] == 7 and r["classify"]["embed"].seed == 7


def test_generated_images_are_audited_like_the_data_unless_switched_off():
    cfg = _demo()
    cfg["audit"] = {"method": "best", "device": "cpu"}
    a = check_study(cfg)["generate"]["audit"]
    assert (a.method, a.device, a.figures) == ("best", "cpu", True)  # the audit section's own config
    cfg["generate"]["audit"] = False
    assert check_study(cfg)["generate"]["audit"] is None
    cfg["generate"]["audit"], cfg["audit"]["enabled"] = True, False
    assert check_study(cfg)["generate"]["audit"] is None  # no audit of the data, none of the generated


def test_gan_section_takes_every_training_option():
    from dermsynth.gan.train.config import TrainConfig

    cfg = _demo()
    cfg["gan"].update(
        batch_gpu=8, p=0.2, p_max=0.5, precision="bf16", compile=True, metrics="fd_simple,kid1k_effnetlite"
    )
    train = check_study(cfg)["gan"]["train"]
    assert {k: train[k] for k in ("batch_gpu", "p", "p_max", "precision", "compile")} == {
        "batch_gpu": 8, "p": 0.2, "p_max": 0.5, "precision": "bf16", "compile": True}  # fmt: skip
    assert train["metrics"] == ("fd_simple", "kid1k_effnetlite")
    with pytest.raises(ValueError, match="unknown metric 'kid'"):  # a snapshot metric's name, before any work
        check_study(_section_with(cfg, "gan", None, "metrics", "fd_simple,kid"))
    for f in dataclasses.fields(TrainConfig):
        if f.name not in ("data", "res", "c_dim", "gpus"):
            check_study(_section_with(cfg, "gan", None, f.name, cfg["gan"].get(f.name, f.default)))
    with pytest.raises(ValueError, match="set by the pipeline"):
        check_study(_section_with(cfg, "gan", None, "res", 64))


def test_gan_options_arrive_in_the_training_run(tmp_path, monkeypatch):
    """The training stage hands every gan option to the library's TrainConfig (setup/train stubbed)."""
    from dermsynth.data.phantom import make_phantom_dataset
    from dermsynth.data.split import split_dataset
    from dermsynth.gan import train as tl
    from dermsynth.pipeline.stages import gan_configs, gan_run

    make_phantom_dataset(tmp_path / "data", 12, size=16)
    split_dataset(tmp_path / "data", val=0.2, test=0.2)
    seen = {}
    monkeypatch.setattr(tl, "setup", lambda tc, run_dir, echo=None, evaluate=None: seen.setdefault("tc", tc))
    monkeypatch.setattr(tl, "train", lambda run, progress=None: run)
    sec = {"cfg": "tiny", "cond": True, "batch": 8, "batch_gpu": 4, "p": 0.1, "p_max": 0.5,
           "precision": "fp32", "compile": True, "device": "cpu", "kimg": 0.1}  # fmt: skip
    out = tmp_path / "gan"
    out.mkdir()
    gan_run(gan_configs(sec, {"seed": 3}, out, {}), out, {"data": tmp_path / "data"}, lambda s: None)
    tc = seen["tc"]
    assert (tc.batch, tc.batch_gpu, tc.p, tc.p_max, tc.precision, tc.compile, tc.seed, tc.res, tc.c_dim) == (
        8, 4, 0.1, 0.5, "fp32", True, 3, 16, 2)  # fmt: skip


@pytest.mark.parametrize(
    "patch, name, hint",
    [
        ({"edit": {"devcie": "cpu"}}, "'devcie'", "did you mean 'device'"),
        ({"gan": {"gama": 1.0}}, "'gama'", "did you mean 'gamma'"),
        ({"data": {"phantom": {"nn": 5}}}, "'nn'", "data.phantom"),
        ({"classify": {"experiment": {"trian": {}}}}, "trian", "classify"),
        ({"survey": {"n": 10}}, "'n'", "build"),
        ({"genrate": {}}, "'genrate'", "did you mean 'generate'"),
        ({"data": {"device": "cpu"}}, "'device'", "data"),  # no data job has a device: it would go nowhere
        ({"classify": {"batch_size": 8}}, "'batch_size'", "classify"),
        ({"edit": {"apply": {"enabled": False}}}, "'enabled'", "edit.apply"),  # only a whole stage switches
    ],
)
def test_unknown_keys_are_refused_with_their_names_before_any_work(tmp_path, patch, name, hint):
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({"preset": "demo-phantom", **patch}))
    with pytest.raises(ValueError) as e:
        load_study_config(path)
    assert name in str(e.value) and hint in str(e.value) and "study.yaml" in str(e.value)
    res = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and name.strip("'") in res.output
    assert not (tmp_path / "out").exists()  # nothing was done


def test_run_pipeline_checks_every_section_before_the_first_stage(tmp_path):
    cfg = _demo()
    cfg["report"]["titel"] = "x"  # a typo in the last stage
    with pytest.raises(ValueError, match="titel"):
        run_pipeline(cfg, tmp_path / "out", STAGES, log=lambda s: None)
    assert not (tmp_path / "out" / "data").exists()
    with pytest.raises(ValueError, match="unknown stage"):
        run_pipeline(_demo(), tmp_path / "out", STAGES, only=["gan", "clasify"], log=lambda s: None)


def test_the_stages_own_error_reaches_the_user(tmp_path):
    cfg = _demo()
    cfg["data"] = {"source": str(tmp_path / "no-such-folder")}
    with pytest.raises(FileNotFoundError, match="no-such-folder"):
        run_pipeline(cfg, tmp_path / "out", STAGES, log=lambda s: None)
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out2")])
    assert res.exit_code == 2 and "no-such-folder: source not found" in " ".join(res.output.split())
    assert "exit code" not in res.output


def test_dry_run_prints_every_resolved_stage_config(tmp_path):
    res = CliRunner().invoke(app, ["run", "--preset", "demo-cpu", "--dry-run", "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["stages"]["edit"]["evaluate"]["device"] == "cpu"
    assert doc["stages"]["generate"]["generate"]["batch_size"] == 64
    assert doc["stages"]["edit"]["apply"]["out"] == str((tmp_path / "o" / "edit" / "edited").resolve())
    assert not (tmp_path / "o").exists()
