"""Cost of the ADA augmentation pipe against a training step, and its aliasing (issue 13 sec. 1).

Cost: in a step the pipe runs on the fakes (forward + backward, Gmain/Dmain) and on the reals
(forward); timed here as pipe(fakes) + pipe(reals) + backward through pipe(fakes), for the faithful
(official) and the fast (bicubic) implementations at several p, against the median real training step
of benchmarks/gan_step.py (``gan.train``'s ``training_step``, without augmentation: ``--aug noaug``)
at the same resolution and batch; ``step_phases`` says which phases the timed steps ran.

Aliasing: a horizontal cosine grating of frequency f (cycles/px) zoomed out by s (output(x) =
input(x / s)) has frequency f / s; above Nyquist (0.5) the ideal result is flat. The figure is the
energy left in the central half of the image over the input's energy (0 = no leak, 1 = all folded
back), averaged over f in (0.5 s, 0.5 s / 0.6) ... (0.5 s, min(0.5, 0.5 s * 2)) -- above-Nyquist after
zooming, below Nyquist before.

    PYTHONPATH=src python benchmarks/augment_speed.py --res 256 --batch 4 --iters 3

The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))


def time_pipe(pipe, fakes: torch.Tensor, reals: torch.Tensor, iters: int, seed: int = 0) -> float:
    times = []
    for i in range(iters + 1):
        torch.manual_seed(seed + i)
        x = fakes.detach().requires_grad_(True)
        t = time.perf_counter()
        out = pipe(x)
        with torch.no_grad():
            pipe(reals)
        out.square().mean().backward()
        if i:  # the first call warms up
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def aliasing(impl_resample, scales=(0.5, 0.6, 0.75, 0.9), size: int = 64, nfreq: int = 8) -> dict:
    """Mean energy fraction folded back below Nyquist when zooming out by s (see the docstring)."""
    from dermsynth.gan.augment import ops

    out = {}
    for s in scales:
        lo, hi = 0.5 * s, min(0.5, s)  # f in (lo, hi): f <= Nyquist before, f / s > Nyquist after
        fracs = []
        for k in range(nfreq):
            f = lo + (hi - lo) * (k + 0.5) / nfreq
            x = torch.cos(2 * math.pi * f * torch.arange(size, dtype=torch.float32)).view(1, 1, 1, size)
            x = x.expand(1, 3, size, size).contiguous()
            m = ops.scale2d(torch.tensor([1 / s]), torch.tensor([1 / s]))
            y = impl_resample(x, m)
            q = size // 4
            fracs.append(float(y[..., q:-q, q:-q].var() / x.var()))
        out[f"{s:g}"] = round(statistics.mean(fracs), 3)
    return out


def main() -> None:
    from dermsynth.gan.augment.fast import FastAugmentPipe
    from dermsynth.gan.augment.filters import geom_lowpass
    from dermsynth.gan.augment.pipe import AugmentPipe, wavelet_resample
    from gan_step import due_phases, make_run, make_step

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--res", type=int, default=256)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--cfg", default="auto")
    ap.add_argument("--augpipe", default="bgc")
    ap.add_argument("--ps", default="0.2,0.6,1.0", help="augmentation probabilities to time")
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--no-step", action="store_true", help="skip timing the training step")
    a = ap.parse_args()
    dev = torch.device(a.device)
    torch.manual_seed(0)
    fakes = torch.rand(a.batch, 3, a.res, a.res, device=dev) * 2 - 1
    reals = torch.rand(a.batch, 3, a.res, a.res, device=dev) * 2 - 1
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    pipe_s = {}
    for impl, cls in (("faithful", AugmentPipe), ("fast", FastAugmentPipe)):
        for p in (float(v) for v in a.ps.split(",")):
            pipe = cls.from_spec(a.augpipe, p=p).to(dev)
            sync()
            pipe_s[f"{impl}_p{p:g}"] = round(time_pipe(pipe, fakes, reals, a.iters), 4)
            print(f"{impl} p={p:g}: {pipe_s[f'{impl}_p{p:g}']:.3f} s", flush=True)

    step_s, step_phases = None, []
    if not a.no_step:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            run = make_run(a.cfg, a.res, a.batch, 2, dev, tmp, fp32=True, aug="noaug")
            step = make_step(run)
            times = []
            for i in range(a.iters + 1):
                ran = due_phases(run)
                sync()
                t = time.perf_counter()
                step()
                sync()
                if i:  # the first step (all four phases) warms up
                    times.append(time.perf_counter() - t)
                    step_phases.append("+".join(ran))
        step_s = round(statistics.median(times), 4)
        print(f"step: {step_s:.3f} s", flush=True)

    h = geom_lowpass()
    fast = FastAugmentPipe()
    out = {
        "res": a.res,
        "batch": a.batch,
        "augpipe": a.augpipe,
        "device": dev.type,
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "pipe_s": pipe_s,
        "step_s": step_s,
        "step_phases": step_phases,
        "pipe_over_step": {k: round(v / step_s, 4) for k, v in pipe_s.items()} if step_s else None,
        "alias_folded_energy": {
            "faithful": aliasing(lambda x, m: wavelet_resample(x, m, h)),
            "fast": aliasing(fast._resample),
        },
        "torch": torch.__version__,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
