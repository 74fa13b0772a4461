"""Style affines of a StyleGAN2 synthesis network and the ws index each one reads.

In StyleGAN2(-ADA) every modulated layer turns one entry of ``ws`` [N, num_ws, w_dim] into styles
through an affine ``A`` (weight [out_features, w_dim]). Blocks take ws entries in order: block
``b{R}`` starts at offset ``o`` and its layers ``conv0, conv1, torgb`` (those present) read ``o, o+1,
o+2``; the next block starts at ``o + num_conv``, so a block's toRGB shares the index of the next
block's first convolution (NVlabs stylegan2-ada-pytorch ``SynthesisNetwork.forward``). ``b4`` has
only ``conv1`` and ``torgb``; with the ``orig``/``resnet`` architectures only the last block has a toRGB.

The rule is computed from parameter names alone, so it works on a live module, a state dict or a
safetensors file in the official key layout (``G.synthesis.b8.conv0.affine.weight``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from dermsynth.core.ranges import parse_int_ranges

_AFFINE = re.compile(
    r"^(?P<prefix>.*?)synthesis\.b(?P<res>\d+)\.(?P<layer>conv0|conv1|torgb)\.affine\.weight$"
)
_ORDER = {"conv0": 0, "conv1": 1, "torgb": 2}


@dataclass(frozen=True)
class StyleAffine:
    """One style affine: its parameter name, stored weight [out_features, w_dim] and ws index."""

    name: str
    weight: np.ndarray
    ws_index: int


def _to_numpy(t) -> np.ndarray:
    if isinstance(t, np.ndarray):
        return t
    return t.detach().float().cpu().numpy()


def style_affines_from_state_dict(
    state: Mapping[str, object], prefix: str | None = None
) -> list[StyleAffine]:
    """Every ``synthesis.b{R}.{conv0,conv1,torgb}.affine.weight`` in ``state`` with its ws index.

    ``prefix`` selects one network when a file holds several (``"G_ema."``, ``"G."``, ``""``); by
    default ``G_ema.`` is preferred over ``G.`` over no prefix.
    """
    found: dict[str, list[tuple[int, str, str]]] = {}
    for key in state:
        m = _AFFINE.match(key)
        if m:
            found.setdefault(m["prefix"], []).append((int(m["res"]), m["layer"], key))
    if not found:
        raise ValueError("no synthesis style affines (synthesis.b*.conv*/torgb.affine.weight) found")
    if prefix is None:
        prefix = next((p for p in ("G_ema.", "G.", "") if p in found), sorted(found)[0])
    if prefix not in found:
        raise ValueError(f"no style affines under prefix {prefix!r}; found prefixes {sorted(found)}")
    entries = sorted(found[prefix], key=lambda e: (e[0], _ORDER[e[1]]))
    out: list[StyleAffine] = []
    offset = 0
    for res in sorted({e[0] for e in entries}):
        block = [e for e in entries if e[0] == res]
        for pos, (_, _layer, key) in enumerate(block):
            out.append(StyleAffine(key, _to_numpy(state[key]), offset + pos))
        offset += sum(1 for e in block if e[1] != "torgb")
    return out


def style_affines(G) -> list[StyleAffine]:
    """Style affines of a generator module (its stored weights, without the runtime gain)."""
    return style_affines_from_state_dict(dict(G.named_parameters()), prefix="")


def num_ws_of(affines: list[StyleAffine]) -> int:
    """Number of ws entries the affines read (max index + 1)."""
    return max(a.ws_index for a in affines) + 1


def parse_layers(spec: str | list[int] | None, num_ws: int) -> list[int]:
    """``"all"``/None -> every ws index; ``"0-5"``/``"0-3,7"`` -> those indices (checked against num_ws)."""
    if spec is None or (isinstance(spec, str) and spec.strip().lower() in ("", "all")):
        return list(range(num_ws))
    if isinstance(spec, str):
        idx = parse_int_ranges(spec)
    else:
        idx = [int(i) for i in spec]
    bad = [i for i in idx if not 0 <= i < num_ws]
    if bad:
        raise ValueError(f"layer index(es) {bad} out of range: the network has ws indices 0-{num_ws - 1}")
    if not idx:
        raise ValueError(f"empty layer selection {spec!r}")
    return sorted(set(idx))
