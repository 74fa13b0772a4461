"""SeFa against an independent eigendecomposition of the reference fixtures' affine weights."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import load_file

from dermsynth.edit import load_directions, save_directions, sefa, sefa_from_state_dict, style_affines
from dermsynth.edit.layers import parse_layers, style_affines_from_state_dict

C2 = "sg2ada_c2_res32.weights.safetensors"
UNCOND = "sg2ada_uncond_res16_orig.weights.safetensors"


def _reference_eig(state, names):
    """Independent SeFa: stack the named weights, unit rows, eigh of AᵀA, descending."""
    rows = np.concatenate([state[n].astype(np.float64) for n in names], axis=0)
    rows = rows / np.sqrt((rows**2).sum(axis=1))[:, None]
    vals, vecs = np.linalg.eigh(rows.T @ rows)
    return vals[::-1], vecs[:, ::-1].T


def _assert_same_up_to_sign(got, ref, atol=1e-4):
    signs = np.sign(np.sum(got * ref, axis=1))
    assert np.all(signs != 0)
    np.testing.assert_allclose(got, ref * signs[:, None], atol=atol)


def test_sefa_all_layers_matches_independent_eigh(sg2_fixtures):
    state = load_file(str(sg2_fixtures / C2))
    names = sorted(k for k in state if k.startswith("G.synthesis.") and k.endswith(".affine.weight"))
    assert len(names) == 11  # b4: conv1, torgb; b8-b32: conv0, conv1, torgb
    ref_vals, ref_vecs = _reference_eig(state, names)
    d = sefa_from_state_dict(state, "all")
    assert d.directions.shape == (512, 512)
    np.testing.assert_allclose(np.linalg.norm(d.directions, axis=1), 1, atol=1e-5)
    assert np.all(np.diff(d.values) <= 1e-9)
    np.testing.assert_allclose(d.values, ref_vals, rtol=1e-6, atol=1e-6)
    _assert_same_up_to_sign(d.directions, ref_vecs)
    assert sorted(d.meta["affines"]) == names
    assert d.layers.tolist() == list(range(8))


def test_sefa_layer_range_uses_the_affines_reading_those_ws(sg2_fixtures):
    state = load_file(str(sg2_fixtures / C2))
    names = [
        "G.synthesis.b4.conv1.affine.weight",
        "G.synthesis.b4.torgb.affine.weight",
        "G.synthesis.b8.conv0.affine.weight",
    ]
    d = sefa_from_state_dict(state, "0-1")
    assert sorted(d.meta["affines"]) == sorted(names)
    ref_vals, ref_vecs = _reference_eig(state, names)
    np.testing.assert_allclose(d.values[:20], ref_vals[:20], rtol=1e-6, atol=1e-6)
    _assert_same_up_to_sign(d.directions[:20], ref_vecs[:20])


def test_ws_allocation_of_orig_architecture_fixture(sg2_fixtures):
    state = load_file(str(sg2_fixtures / UNCOND))
    got = {a.name.removeprefix("G.synthesis."): a.ws_index for a in style_affines_from_state_dict(state)}
    # orig architecture: only the last block has a toRGB, reading the last ws index (num_ws = 6)
    assert got == {
        "b4.conv1.affine.weight": 0,
        "b8.conv0.affine.weight": 1,
        "b8.conv1.affine.weight": 2,
        "b16.conv0.affine.weight": 3,
        "b16.conv1.affine.weight": 4,
        "b16.torgb.affine.weight": 5,
    }
    d = sefa_from_state_dict(state, "5")
    assert d.meta["affines"] == ["G.synthesis.b16.torgb.affine.weight"]
    ref_vals, ref_vecs = _reference_eig(state, d.meta["affines"])
    _assert_same_up_to_sign(d.directions[:10], ref_vecs[:10])


def test_sefa_npz_roundtrip(tmp_path, sg2_fixtures):
    d = sefa_from_state_dict(load_file(str(sg2_fixtures / UNCOND)), "0-2", k=10)
    p = save_directions(d, tmp_path / "dirs.npz")
    e = load_directions(p)
    assert e.method == "sefa" and e.k == 10 and e.meta["layers"] == [0, 1, 2]
    np.testing.assert_array_equal(e.directions, d.directions)
    np.testing.assert_array_equal(e.values, d.values)
    with np.load(p, allow_pickle=False) as z:  # readable without pickle
        assert set(z.files) >= {"directions", "values", "layers", "method", "meta"}


def test_sefa_on_module_uses_its_affines():
    from test_edit_standin import TinyG

    G = TinyG(c_dim=2, res=16, w_dim=12)
    d = sefa(style_affines(G), "all")
    assert d.directions.shape == (12, 12)
    np.testing.assert_allclose(d.directions @ d.directions.T, np.eye(12), atol=1e-6)


def test_layer_spec_errors():
    assert parse_layers("all", 4) == [0, 1, 2, 3]
    assert parse_layers("0-1,3", 4) == [0, 1, 3]
    with pytest.raises(ValueError, match="out of range"):
        parse_layers("0-9", 4)
    with pytest.raises(ValueError, match="bad range"):
        parse_layers("a-b", 4)


def test_agrees_with_gan_style_affines_when_present():
    networks = pytest.importorskip("dermsynth.gan.networks")
    if not hasattr(networks, "style_affines"):
        pytest.skip("dermsynth.gan.networks.style_affines not provided")
    from test_edit_standin import make_generator

    G = make_generator(2, 32)

    def key(name):
        return name.removeprefix("G.").removeprefix("synthesis.").removesuffix(".weight")

    theirs = {key(name): (np.asarray(w.detach().cpu()), idx) for name, w, idx in networks.style_affines(G)}
    ours = {key(a.name): (a.weight, a.ws_index) for a in style_affines(G)}
    assert sorted(theirs) == sorted(ours)
    for k, (w, idx) in ours.items():
        assert theirs[k][1] == idx
        np.testing.assert_array_equal(theirs[k][0], w)
