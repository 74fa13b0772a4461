"""A GPU round of the shipped generator's training: continue the same run on a lent GPU for a few minutes,
bring its training state back within the transfer limits, and fold it into ``training/isic2017-gen/``.

On the GPU machine (repository root; ``$OUT`` comes back):

    python scripts/gpu_round.py run --minutes 9 --out "$OUT"

It continues the run kept in ``training/isic2017-gen/`` (the same options as ``scripts/train_gen.py``,
on ``cuda`` with TF32 on: speed options, not part of the run's identity), stops it by SIGTERM at the
deadline (the current step ends and the state is written), and writes to ``--out``: the state split into
parts of at most 15 MiB (``state.part-0..N``), ``records.tar.gz`` (config, stats, log, metrics) and
``round.json`` (sha256 of the whole state and of every part, kimg before and after, seconds). That is at
most 6 files of 15 MiB for the 55 MB state of the 128 px network: within 8 files, 16 MiB each, 64 MiB.

Back on this machine:

    python scripts/gpu_round.py collect FILES_AT

checks every sha256, joins the parts, checks that the state loads and is newer than the kept one, and
replaces ``training/isic2017-gen/``'s state and records (atomically); ``make train-gen`` then goes on from it.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_gen  # noqa: E402  (the run's options and data preparation: one definition)

PART_BYTES = 15 * 2**20
MAX_FILES = 8


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def newest_state(folder: Path) -> tuple[int, Path] | None:
    from dermsynth.gan.train.state import list_states

    found = list_states(folder)
    return found[0] if found else None


def pack(keep: Path, out: Path, info: dict) -> dict:
    """Split ``keep``'s newest state into parts, tar its records, write ``round.json``; return it."""
    from dermsynth.gan.train.state import KEPT_RECORDS

    kimg, state = newest_state(keep) or (None, None)
    if state is None:
        raise SystemExit(f"{keep}: no training state to bring back")
    out.mkdir(parents=True, exist_ok=True)
    data = state.read_bytes()
    parts = []
    for k in range(0, max(len(data), 1), PART_BYTES):
        name = f"state.part-{k // PART_BYTES}"
        (out / name).write_bytes(data[k : k + PART_BYTES])
        parts.append({"name": name, "sha256": sha256(data[k : k + PART_BYTES])})
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for p in [keep / n for n in KEPT_RECORDS] + sorted(keep.glob("metric-*.jsonl")):
            if p.is_file():
                tar.add(p, arcname=p.name)
    (out / "records.tar.gz").write_bytes(buf.getvalue())
    manifest = {**info, "state": state.name, "kimg": kimg, "bytes": len(data), "sha256": sha256(data),
                "parts": parts}  # fmt: skip
    (out / "round.json").write_text(json.dumps(manifest, indent=1))
    files = [p for p in out.iterdir() if p.is_file()]
    if len(files) > MAX_FILES or any(p.stat().st_size > 16 * 2**20 for p in files):
        raise SystemExit(f"{out}: {len(files)} files, the largest {max(p.stat().st_size for p in files)} bytes: "
                         f"over the transfer limits ({MAX_FILES} files of 16 MiB)")  # fmt: skip
    return manifest


def run_round(a: argparse.Namespace) -> None:
    keep = Path(a.keep).resolve()
    before = newest_state(keep)
    work = Path(a.work or tempfile.mkdtemp(prefix="gpu-round-"))
    data = Path(a.data) if a.data else train_gen.prepare_data(work)
    cmd = [*train_gen.dermsynth(), "gan", "train", "--data", str(data), "--out", str(work / "gan"),
           *(a.options or train_gen.OPTIONS), "--kimg", str(a.kimg), "--device", a.device,
           "--keep", str(keep)]  # fmt: skip
    if a.device.startswith("cuda"):
        cmd.append("--allow-tf32")
    print(" ".join(cmd), flush=True)
    t0 = time.time()
    proc = subprocess.Popen(cmd)
    deadline = t0 + a.minutes * 60
    while proc.poll() is None and time.time() < deadline:
        time.sleep(1)
    if proc.poll() is None:  # the current step ends, the state is written, the trainer exits
        proc.send_signal(signal.SIGTERM)
    rc = proc.wait()
    after = newest_state(keep)
    info = {"rc": rc, "seconds": round(time.time() - t0, 1), "device": a.device,
            "kimg_before": before[0] if before else None, "kimg_after": after[0] if after else None}  # fmt: skip
    print(json.dumps(pack(keep, Path(a.out), info)), flush=True)
    if rc:
        raise SystemExit(rc)


def collect(a: argparse.Namespace) -> None:
    """Join, check and fold a round's files into the keep folder."""
    from dermsynth.core.io import atomic_path
    from dermsynth.gan.train.state import list_states, load_training_state

    src, keep = Path(a.files), Path(a.keep)
    manifest = json.loads((src / "round.json").read_text())
    chunks = []
    for part in manifest["parts"]:
        blob = (src / part["name"]).read_bytes()
        if sha256(blob) != part["sha256"]:
            raise SystemExit(f"{src / part['name']}: sha256 differs from round.json (damaged in transfer)")
        chunks.append(blob)
    data = b"".join(chunks)
    if sha256(data) != manifest["sha256"]:
        raise SystemExit(f"{src}: the joined state's sha256 differs from round.json")
    mine = newest_state(keep)
    if mine and mine[0] >= manifest["kimg"] and not a.force:
        raise SystemExit(
            f"{keep}: already holds kimg {mine[0]} >= the round's {manifest['kimg']} (--force to replace)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        joined = Path(tmp) / manifest["state"]
        joined.write_bytes(data)
        load_training_state(joined)  # refuses a file that does not load
        with tarfile.open(src / "records.tar.gz") as tar:
            tar.extractall(Path(tmp) / "records", filter="data")
        keep.mkdir(parents=True, exist_ok=True)
        for p in sorted((Path(tmp) / "records").iterdir()):
            with atomic_path(keep / p.name) as t:
                shutil.copyfile(p, t)
        with atomic_path(keep / manifest["state"]) as t:
            shutil.copyfile(joined, t)
    for _, old in list_states(keep):
        if old.name != manifest["state"]:
            old.unlink()
    print(
        f"{keep}: now at kimg {manifest['kimg']} ({manifest['state']}, from a {manifest.get('device')} round)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="continue the kept run for --minutes, pack its state into --out")
    r.add_argument("--out", default=os.environ.get("OUT", "gpu-round"))
    r.add_argument("--minutes", type=float, default=9.0)
    r.add_argument("--device", default="cuda")
    r.add_argument("--kimg", type=float, default=100000)
    r.add_argument("--keep", default=str(train_gen.KEEP))
    r.add_argument("--data", default=None, help="an ingested dataset (default: ingest isic2017-256 train)")
    r.add_argument("--work", default=None, help="working folder (default: a new temporary one)")
    r.add_argument(
        "--options", nargs=argparse.REMAINDER, help="training options (default: train_gen.OPTIONS)"
    )
    c = sub.add_parser("collect", help="fold a round's files into the keep folder")
    c.add_argument("files")
    c.add_argument("--keep", default=str(train_gen.KEEP))
    c.add_argument("--force", action="store_true")
    a = ap.parse_args()
    (run_round if a.cmd == "run" else collect)(a)


if __name__ == "__main__":
    main()
