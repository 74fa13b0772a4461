"""A GPU round of the shipped generator's training: continue the same run on a lent GPU for a few minutes,
bring its training state back within the transfer limits, and fold it into ``training/isic2017-gen/``.

Getting there. A device call sends the working tree (tracked and not-ignored files, plus carried paths)
within 64 MiB, and not ``../shared``. The shipped weights (40 MB), the kept state (55.5 MB) and the
training images (19 MB of 256 px JPEGs) do not fit in one call, so a round is two calls on the same warm
machine (it stays warm 30 s after a call: make the second call at once), and ``travel`` here chooses
what goes in each (it takes paths out of git's index and ignores them; ``travel restore`` undoes it):

    python scripts/gpu_round.py travel data        # here: weights and state stay; .gpu-travel/ = the images
    # device call 1, carry [".gpu-travel"]:  python3 scripts/gpu_round.py stage
    python scripts/gpu_round.py travel state       # here: the state travels again (the weights stay)
    # device call 2:                         python3 scripts/gpu_round.py run --minutes 9 --out "$OUT"
    python scripts/gpu_round.py travel restore     # here: the index as before
    python scripts/gpu_round.py collect FILES_AT   # here: fold the round's state in, then commit

``travel`` prints what would travel and refuses when it is over 64 MiB. ``stage`` (on the device)
unpacks the images into ``runs/gpu-stage/`` (ignored, so kept for the next call of the same machine) and
ingests them at the run's resolution exactly as ``scripts/train_gen.py`` does; the dataset's fingerprint
(names, labels, resolution) is what the run checks, and ``stage`` also compares the pixels' sha256 with
the ingest made here. ``run`` uses the staged set when there is one.

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
#: What one device call may send: tracked and not-ignored files plus carried paths.
TRAVEL_LIMIT = 64 * 2**20
TRAVEL_DIR = ".gpu-travel"  # the carried folder of call 1 (ignored while a round travels)
STAGE_DIR = Path("runs") / "gpu-stage"  # on the device: the unpacked, ingested images (ignored: runs/)
PACK = "isic2017-256-train.tar"
WEIGHTS = Path("src") / "dermsynth" / "models" / "weights"
MARK = "# gpu_round travel"  # the lines travel adds to .git/info/exclude


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def newest_state(folder: Path) -> tuple[int, Path] | None:
    from dermsynth.gan.train.state import list_states

    found = list_states(folder)
    return found[0] if found else None


def state_nimg(path: Path) -> int:
    """The exact image count a state file was written at (its name rounds it down to whole kimg)."""
    from dermsynth.gan.train.state import load_training_state

    return int(load_training_state(path)["counters"]["cur_nimg"])


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
    manifest = {**info, "state": state.name, "kimg": kimg, "bytes": len(data),
                "sha256": sha256(data), "parts": parts}  # fmt: skip
    (out / "round.json").write_text(json.dumps(manifest, indent=1))
    files = [p for p in out.iterdir() if p.is_file()]
    if len(files) > MAX_FILES or any(p.stat().st_size > 16 * 2**20 for p in files):
        raise SystemExit(f"{out}: {len(files)} files, the largest {max(p.stat().st_size for p in files)} bytes: "
                         f"over the transfer limits ({MAX_FILES} files of 16 MiB)")  # fmt: skip
    return manifest


# -- travelling: which paths a device call sends ---------------------------------------------------------
def _git(*args: str, root: Path = train_gen.ROOT) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def _exclude_file(root: Path) -> Path:
    p = Path(_git("rev-parse", "--git-path", "info/exclude", root=root).strip())
    return p if p.is_absolute() else root / p


def _split_excludes(root: Path) -> tuple[list[str], list[str]]:
    """(the exclude file's own lines, the paths between travel's begin and end marks)."""
    f = _exclude_file(root)
    own, mine, inside = [], [], False
    for ln in f.read_text().splitlines() if f.exists() else []:
        if ln == MARK + ": begin":
            inside = True
        elif ln == MARK + ": end":
            inside = False
        elif inside:
            mine.append(ln.lstrip("/"))
        else:
            own.append(ln)
    return own, mine


def _set_travel_excludes(root: Path, paths: list[str]) -> None:
    """Make ``paths`` (repository-relative) the block travel keeps in the exclude file (gitignore has no
    trailing comments, so the block is marked by comment lines around it)."""
    own = _split_excludes(root)[0]
    block = [MARK + ": begin", *(f"/{p}" for p in paths), MARK + ": end"] if paths else []
    f = _exclude_file(root)
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text("\n".join(own + block) + "\n")


def _travel_excludes(root: Path) -> list[str]:
    return _split_excludes(root)[1]


def travelling_bytes(root: Path, carry: list[str] = ()) -> tuple[int, list[tuple[int, str]]]:
    """(bytes, [(size, path)] largest first) of what a device call from ``root`` sends with ``carry``."""
    names = _git("ls-files", "-z", "--cached", "--others", "--exclude-standard", root=root).split("\0")
    files = {n for n in names if n and (root / n).is_file()}
    for c in carry:
        cp = root / c
        files |= {str(q.relative_to(root)) for q in ([cp] if cp.is_file() else cp.rglob("*")) if q.is_file()}
    sizes = sorted(((root / n).stat().st_size, n) for n in files)[::-1]
    return sum(sz for sz, _ in sizes), sizes


def make_pack(root: Path, out: Path) -> dict:
    """``out``: a tar of the isic2017-256 ``train`` images and their labels, plus the here-ingested set's
    pixel sha256 when there is one (``stage`` compares)."""
    src, train = train_gen.train_split()
    files = [src / "images" / f"{i}.jpg" for i in train["image_id"]]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise SystemExit(f"{missing[0]}: not found ({len(missing)} train images missing)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    with tarfile.open(tmp, "w") as tar:
        buf = train.to_csv(index=False).encode()
        info = tarfile.TarInfo("isic2017-256/labels.csv")
        info.size = len(buf)
        tar.addfile(info, io.BytesIO(buf))
        for f in files:
            tar.add(f, arcname=f"isic2017-256/images/{f.name}")
    tmp.replace(out)
    here = root / "runs" / f"isic2017-train-{train_gen.RES}"
    meta = {"images": len(files), "bytes": out.stat().st_size,
            "ingested_sha256": dataset_sha256(here) if (here / "dataset.json").exists() else None}  # fmt: skip
    out.with_name("pack.json").write_text(json.dumps(meta, indent=1))
    return meta


def dataset_sha256(d: Path) -> str:
    """sha256 over an ingested set's images (sorted names, decoded pixels): equal sets, equal hash."""
    import numpy as np
    from PIL import Image

    h = hashlib.sha256()
    for f in sorted((d / "images").rglob("*.png")):
        h.update(f.name.encode())
        h.update(np.asarray(Image.open(f).convert("RGB")).tobytes())
    return h.hexdigest()


def travel(a: argparse.Namespace) -> None:
    """Choose what the next device call sends: ``data`` (the images, no weights or state), ``state`` (the
    kept state, no weights), ``restore`` (the index as before); print its size, refuse over 64 MiB."""
    import fnmatch

    root = Path(a.root).resolve()
    states = os.path.relpath(Path(a.keep).resolve() / "training-state-*.pt", root)
    out = {"data": [str(WEIGHTS), states, TRAVEL_DIR], "state": [str(WEIGHTS), TRAVEL_DIR], "restore": []}
    out = out[a.what]
    for p in _travel_excludes(root):  # back into the index, from HEAD, what an earlier travel took out
        if p not in out and p != TRAVEL_DIR:
            _git("reset", "-q", "--", p, root=root)
    tracked = [t for t in _git("ls-files", "-z", root=root).split("\0") if t]
    for p in out:
        hit = [t for t in tracked if fnmatch.fnmatchcase(t, p) or t.startswith(p + "/")]
        if hit:
            _git("rm", "-r", "-q", "--cached", "--", *hit, root=root)
    _set_travel_excludes(root, out)
    if a.what == "restore":
        shutil.rmtree(root / TRAVEL_DIR, ignore_errors=True)
        print(f"{root}: index restored, {TRAVEL_DIR} removed (a state that came back is a change to commit)")
        return
    carry = []
    if a.what == "data":
        print(json.dumps(make_pack(root, root / TRAVEL_DIR / PACK)), flush=True)
        carry = [TRAVEL_DIR]
    total, sizes = travelling_bytes(root, carry)
    print(f"travels: {total / 2**20:.1f} MiB (limit {TRAVEL_LIMIT / 2**20:.0f} MiB); largest: "
          + ", ".join(f"{n} {sz / 2**20:.1f} MiB" for sz, n in sizes[:4]))  # fmt: skip
    if total > TRAVEL_LIMIT:
        raise SystemExit(f"{root}: {total / 2**20:.1f} MiB would travel, over the {TRAVEL_LIMIT / 2**20:.0f} MiB "
                         "of a device call")  # fmt: skip
    cmd = {
        "data": "python3 scripts/gpu_round.py stage",
        "state": 'python3 scripts/gpu_round.py run --out "$OUT"',
    }
    print(f"next device call: carry {carry}, command: {cmd[a.what]}\n"
          "(commit nothing until `travel restore`: the index lacks the paths that stay here)")  # fmt: skip


def stage(a: argparse.Namespace) -> None:
    """On the device: unpack call 1's images into runs/gpu-stage and ingest them as train_gen does."""
    root = Path(a.root).resolve()
    pack = root / a.pack / PACK
    if not pack.is_file():
        raise SystemExit(f"{pack}: not found; make it with `gpu_round.py travel data` and carry {a.pack}")
    dest = root / STAGE_DIR
    with tarfile.open(pack) as tar:
        tar.extractall(dest, filter="data")
    os.environ["DERMSYNTH_SHARED_DATA"] = str(dest)
    data = train_gen.prepare_data(dest)
    meta_file = pack.with_name("pack.json")
    want = json.loads(meta_file.read_text()).get("ingested_sha256") if meta_file.is_file() else None
    got = dataset_sha256(data)
    same = None if want is None else got == want
    print(json.dumps({"staged": str(data.relative_to(root)), "images": len(list((data / "images").rglob("*.png"))),
                      "sha256": got, "same_pixels_as_here": same}))  # fmt: skip


def staged_data(root: Path) -> Path | None:
    d = root / STAGE_DIR / f"isic2017-train-{train_gen.RES}"
    return d if (d / "dataset.json").exists() else None


def run_round(a: argparse.Namespace) -> None:
    keep = Path(a.keep).resolve()
    before = newest_state(keep)
    work = Path(a.work or tempfile.mkdtemp(prefix="gpu-round-"))
    data = Path(a.data) if a.data else staged_data(train_gen.ROOT) or train_gen.prepare_data(work)
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
    from dermsynth.gan.train.state import list_states

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
    with tempfile.TemporaryDirectory() as tmp:
        joined = Path(tmp) / manifest["state"]
        joined.write_bytes(data)
        theirs = state_nimg(joined)  # refuses a file that does not load
        held = state_nimg(mine[1]) if mine else -1
        if held >= theirs and not a.force:
            raise SystemExit(f"{keep}: already holds kimg {held / 1000:.3f} >= the round's "
                             f"{theirs / 1000:.3f} (--force to replace)")  # fmt: skip
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
        f"{keep}: now at kimg {theirs / 1000:.3f} ({manifest['state']}, from a {manifest.get('device')} round)"
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
    t = sub.add_parser("travel", help="here: choose what the next device call sends (data, state, restore)")
    t.add_argument("what", choices=["data", "state", "restore"])
    t.add_argument("--root", default=str(train_gen.ROOT))
    t.add_argument("--keep", default=str(train_gen.KEEP))
    g = sub.add_parser("stage", help="on the device: unpack and ingest the images of the data call")
    g.add_argument("--pack", default=TRAVEL_DIR)
    g.add_argument("--root", default=str(train_gen.ROOT))
    c = sub.add_parser("collect", help="fold a round's files into the keep folder")
    c.add_argument("files")
    c.add_argument("--keep", default=str(train_gen.KEEP))
    c.add_argument("--force", action="store_true")
    a = ap.parse_args()
    {"run": run_round, "collect": collect, "travel": travel, "stage": stage}[a.cmd](a)


if __name__ == "__main__":
    main()
