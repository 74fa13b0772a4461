"""One small distributed module (docs/architecture.md R7).

The same code path runs single-process on CPU and under ``torchrun`` (NCCL on CUDA, gloo on CPU).
Nothing is initialised at import: call :func:`init` from a command.
"""

from __future__ import annotations

import os


def _dist():
    import torch.distributed as dist

    return dist


def init(backend: str | None = None) -> None:
    """Initialise the process group when launched by torchrun (WORLD_SIZE > 1); no-op otherwise."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return
    dist = _dist()
    if dist.is_initialized():
        return
    import torch

    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend)


def is_initialized() -> bool:
    dist = _dist()
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return _dist().get_rank() if is_initialized() else 0


def world_size() -> int:
    return _dist().get_world_size() if is_initialized() else 1


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    if is_initialized():
        _dist().barrier()


def device(prefer: str = "auto"):
    """The device this rank should use: ``cuda:LOCAL_RANK`` when available (or asked), else cpu/mps."""
    import torch

    if prefer not in ("auto", None):
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def all_reduce_mean(t):
    """Average a tensor over ranks (in place for the caller's copy); identity single-process."""
    if not is_initialized():
        return t
    t = t.clone()
    _dist().all_reduce(t)
    return t / world_size()


def all_gather_cat(t):
    """Concatenate tensors of equal shape from every rank along dim 0; identity single-process."""
    if not is_initialized():
        return t
    import torch

    parts = [torch.empty_like(t) for _ in range(world_size())]
    _dist().all_gather(parts, t.contiguous())
    return torch.cat(parts, dim=0)


def print0(*args, **kwargs) -> None:
    if is_main():
        print(*args, **kwargs)
