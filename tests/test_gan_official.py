"""Official StyleGAN2-ADA import/export: restricted unpickling, persistent-object structure, round trips."""

from __future__ import annotations

import collections
import os
import pickle
import sys
import types

import numpy as np
import pytest
import torch

from dermsynth.gan import build_networks
from dermsynth.gan.official import export_official, import_official


class _FakePersistent:
    """Pickles exactly like an official persistent object: _reconstruct_persistent_obj(meta)."""

    def __init__(self, meta):
        self.meta = meta

    def __reduce__(self):
        return (sys.modules["torch_utils.persistence"]._reconstruct_persistent_obj, (self.meta,))


@pytest.fixture()
def official_modules(monkeypatch):
    """Register modules named like the official ones so the *test* can write their globals."""
    tu = types.ModuleType("torch_utils")
    pers = types.ModuleType("torch_utils.persistence")

    def _reconstruct_persistent_obj(meta):  # never called: we only pickle a reference to it
        raise AssertionError

    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    pers._reconstruct_persistent_obj = _reconstruct_persistent_obj
    dn = types.ModuleType("dnnlib")
    dnu = types.ModuleType("dnnlib.util")

    class EasyDict(dict):
        pass

    EasyDict.__module__ = "dnnlib.util"
    EasyDict.__qualname__ = "EasyDict"
    dnu.EasyDict = EasyDict
    for name, mod in [
        ("torch_utils", tu),
        ("torch_utils.persistence", pers),
        ("dnnlib", dn),
        ("dnnlib.util", dnu),
    ]:
        monkeypatch.setitem(sys.modules, name, mod)
    return EasyDict


def _official_obj(module, init_kwargs, easydict, src):
    """Our module -> an official-style persistent object, with EasyDict kwargs and numpy attrs."""
    state = {
        "training": False,
        "_parameters": collections.OrderedDict(
            (k, torch.nn.Parameter(v.detach().clone(), requires_grad=False))
            for k, v in module._parameters.items()
            if v is not None
        ),
        "_buffers": collections.OrderedDict((k, v.clone()) for k, v in module._buffers.items()),
        "_non_persistent_buffers_set": set(),
        "_forward_hooks": collections.OrderedDict(),
        "_modules": collections.OrderedDict(
            (k, _official_obj(m, {}, easydict, src)) for k, m in module._modules.items() if m is not None
        ),
        "_init_args": (),
        "_init_kwargs": easydict(
            {k: easydict(v) if isinstance(v, dict) else v for k, v in init_kwargs.items()}
        ),
        "weight_gain": np.float64(0.125),
    }
    meta = dict(type="class", version=6, module_src=src, class_name=type(module).__name__, state=state)
    return _FakePersistent(meta)


def _hand_built_pickle(path, G, D, G_ema, easydict, src="raise SystemExit('module_src must never run')"):
    data = {
        "G": _official_obj(G, G.init_kwargs, easydict, src),
        "D": _official_obj(D, D.init_kwargs, easydict, src),
        "G_ema": _official_obj(G_ema, G_ema.init_kwargs, easydict, src),
        "augment_pipe": None,
        "training_set_kwargs": easydict(path="data.zip", resolution=32, use_labels=True),
    }
    path.write_bytes(pickle.dumps(data, protocol=4))


def _assert_same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def test_import_hand_built_official_pickle(tmp_path, official_modules):
    torch.manual_seed(1)
    G, D = build_networks("tiny", 32, 2)
    G_ema, _ = build_networks("tiny", 32, 2)
    G.mapping.w_avg.normal_()
    marker = tmp_path / "ran"
    _hand_built_pickle(tmp_path / "net.pkl", G, D, G_ema, official_modules, src=f"open({str(marker)!r}, 'w')")
    G2, D2, Ge2, meta = import_official(tmp_path / "net.pkl")
    assert not marker.exists()  # the embedded module source was never executed
    _assert_same(G, G2)
    _assert_same(D, D2)
    _assert_same(G_ema, Ge2)
    assert meta["training_set_kwargs"]["resolution"] == 32 and meta["source_format"] == "official-pkl"
    z, c = torch.randn(2, G.z_dim), torch.eye(2)
    with torch.no_grad():
        torch.testing.assert_close(
            G2(z, c, noise_mode="const"), G.eval()(z, c, noise_mode="const"), atol=0, rtol=0
        )


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"G": _Evil(marker)}))
    with pytest.raises(ValueError, match=r"refused: this pickle wants to run (posix|nt)\.system"):
        import_official(tmp_path / "evil.pkl")
    assert not marker.exists()


def test_malicious_object_inside_network_state_is_refused(tmp_path, official_modules):
    G, D = build_networks("tiny", 32, 0)
    obj = _official_obj(G, G.init_kwargs, official_modules, "")
    marker = tmp_path / "pwned"
    obj.meta["state"]["payload"] = _Evil(marker)
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"G": obj}, protocol=4))
    with pytest.raises(ValueError, match="refused"):
        import_official(tmp_path / "evil.pkl")
    assert not marker.exists()


def test_not_a_network_pickle(tmp_path):
    (tmp_path / "list.pkl").write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(ValueError, match="expected a dict"):
        import_official(tmp_path / "list.pkl")
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle at all")
    with pytest.raises(ValueError, match="junk.pkl"):
        import_official(tmp_path / "junk.pkl")


def test_export_import_round_trip_safetensors_and_pkl(tmp_path):
    torch.manual_seed(2)
    G, D = build_networks("tiny", 32, 2, g_architecture="resnet")
    G_ema, _ = build_networks("tiny", 32, 2, g_architecture="resnet")
    (tmp_path / "networks.py").write_text("# the user's copy of the official training/networks.py\n")
    written = export_official(tmp_path / "out", G=G, D=D, G_ema=G_ema, module_src=tmp_path / "networks.py")
    assert [p.name for p in written] == ["out.weights.safetensors", "out.json", "out.pkl"]
    for src in ("out.weights.safetensors", "out.pkl"):
        G2, D2, Ge2, _ = import_official(tmp_path / src)
        _assert_same(G, G2)
        _assert_same(D, D2)
        _assert_same(G_ema, Ge2)
    # the pickle carries the official structure and names
    raw = (tmp_path / "out.pkl").read_bytes()
    assert (
        b"torch_utils.persistence" in raw
        and b"_reconstruct_persistent_obj" in raw
        and b"dermsynth" not in raw
    )


def test_export_pkl_needs_official_source(tmp_path):
    G, _ = build_networks("tiny", 32, 0)
    with pytest.raises(FileNotFoundError, match="networks.py"):
        export_official(tmp_path / "o", G=G, module_src=tmp_path / "networks.py")


@pytest.mark.realdata
def test_import_fixture_layout_matches_reference_outputs(sg2_fixtures):
    from safetensors.torch import load_file

    G, D, G_ema, meta = import_official(sg2_fixtures / "sg2ada_c2_res32.weights.safetensors")
    assert G_ema is None and meta["config"]["res"] == 32
    io = load_file(sg2_fixtures / "sg2ada_c2_res32.io.safetensors")
    with torch.no_grad():
        torch.testing.assert_close(
            G(io["z"], io["c"], noise_mode="const"), io["img_psi1_const"], atol=1e-4, rtol=0
        )
        torch.testing.assert_close(D(io["img_rand"], io["c"]), io["d_logits_rand"], atol=1e-4, rtol=0)
