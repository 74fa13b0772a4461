"""Tiny manifest-layout datasets and studies for the survey tests (no real data needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, PngImagePlugin


def make_dataset(
    root: Path,
    source: str,
    per_class: int,
    seed: int = 0,
    side: int = 64,
    odd_sizes: bool = True,
    quality: tuple[int, int] = (70, 95),
) -> Path:
    """A dataset dir of phantom lesions whose files differ by source in every file-level way: real ones
    are JPEGs of odd sizes (>= ``side`` px) with EXIF, synthetic ones ``side`` px PNGs with a text chunk
    naming the generator. The pixels come from one distribution, as a good generator's would."""
    from dermsynth.data.phantom import render_phantom

    g = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for label in (0, 1):
        for k in range(per_class):
            iid = f"{source[:3]}_{label}_{k:03d}"
            if source == "real":  # JPEG, odd sizes, EXIF
                h, w = (int(g.integers(side, side + side // 4)) for _ in "hw") if odd_sizes else (side, side)
                big = render_phantom(k + 1000 * label, seed, max(h, w), label=label).image
                arr = big[:h, :w]
                f = f"images/{iid}.jpg"
                exif = Image.Exif()
                exif[0x0110] = "DermLite camera"
                Image.fromarray(arr).save(root / f, quality=int(g.integers(*quality)), exif=exif)
            else:  # PNG with a text chunk naming the generator
                arr = render_phantom(k + 1000 * label, seed, side, label=label).image
                meta = PngImagePlugin.PngInfo()
                meta.add_text("Software", "stylegan2-ada")
                f = f"images/{iid}.png"
                Image.fromarray(arr).save(root / f, pnginfo=meta)
            rows.append(
                {
                    "image_id": iid,
                    "file": f,
                    "label": label,
                    "class_name": ["not_melanoma", "melanoma"][label],
                    "source": source,
                    "ruler": int(k % 5 == 4),
                }
            )
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    return root


def make_study(tmp: Path, n: int = 16, seed: int = 0, **kw) -> Path:
    from dermsynth.survey.build import BuildOptions, build_study

    size = kw.pop("size", 32)
    real = make_dataset(tmp / "real", "real", n // 4 + 4, seed=1, side=2 * size)
    syn = make_dataset(tmp / "syn", "synthetic", n // 4 + 4, seed=2, side=2 * size)
    kw.setdefault("allow_small_stimuli", size < 64)  # tiny studies keep the app tests fast
    opts = BuildOptions(n=n, seed=seed, size=size, **kw)
    return build_study(real, syn, tmp / "study", opts).study_dir


def tiny_generator(folder: Path, size: int = 64) -> Path:
    """A saved class-conditional (melanoma / not) StyleGAN2 generator of the ``tiny`` preset with random
    weights, ``folder/network-000000.safetensors``: public, like a shipped model, for the seed attack."""
    import torch

    from dermsynth.gan import build_networks, save_network

    torch.manual_seed(0)
    G, _ = build_networks("tiny", size, 2)
    folder.mkdir(parents=True, exist_ok=True)
    net, _ = save_network(
        folder / "network-000000", G_ema=G, meta={"class_names": ["not_melanoma", "melanoma"]}
    )
    return net


def copy_study(study: Path, dst: Path) -> Path:
    """A copy of a built study without its database or the record of it (``database.json``): each
    test that serves a study from its own database needs its own study folder."""
    import shutil

    shutil.copytree(study, dst, ignore=shutil.ignore_patterns("study.db*", "database.json"))
    return dst


# ------------------------------------------------------------------ driving the app over HTTP

import re  # noqa: E402

_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')


def hidden(html: str) -> dict[str, str]:
    """Hidden form fields of a page (nonce, image_id)."""
    return dict(_HIDDEN.findall(html))


def admin_login(client, password: str = "pw") -> str:
    """Log in; return the admin form nonce."""
    r = client.post("/admin/login", data={"password": password})
    assert r.status_code == 200, r.text
    return hidden(client.get("/admin").text)["nonce"]


def invite_tokens(client, count: int, note: str = "") -> list[str]:
    nonce = admin_login(client)
    r = client.post("/admin/invite", data={"count": str(count), "note": note, "nonce": nonce})
    assert r.status_code == 200, r.text
    return re.findall(r"/r/([A-Za-z0-9_\-]+)</code>", r.text)


READER_COOKIE = "dermsynth_reader"


def as_reader(client, token: str):
    """Open the invitation link in ``client`` unless its cookie already is this reader's."""
    if client.cookies.get(READER_COOKIE) != token:
        r = client.get(f"/r/{token}", follow_redirects=False)
        assert r.status_code == 303, r.text
        assert "/r/" not in r.headers["location"]  # token-free from here on
    return client


def consent(client, token: str, background: str = "dermatologist"):
    as_reader(client, token)
    page = client.get("/s/consent").text
    return client.post(
        "/s/consent",
        data={"consent": "yes", "background": background, "nonce": hidden(page)["nonce"]},
    )


def answer(client, token: str, pos: int, diagnosis="melanoma", synthetic="yes", certainty="3"):
    """GET question ``pos`` then submit it; returns (response, image_id, nonce)."""
    as_reader(client, token)
    page = client.get(f"/s/q/{pos}")
    h = hidden(page.text)
    r = client.post(
        f"/s/q/{pos}",
        data={
            "image_id": h["image_id"],
            "nonce": h["nonce"],
            "diagnosis": diagnosis,
            "synthetic": synthetic,
            "certainty": certainty,
        },
        follow_redirects=False,
    )
    return r, h["image_id"], h["nonce"]


# ------------------------------------------------------------------ a real server in a subprocess

import os as _os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``dermsynth survey serve`` on 127.0.0.1 in a subprocess (killable, restartable on one DB)."""

    def __init__(self, study: Path, password: str = "pw", port: int | None = None):
        self.study, self.password = study, password
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120.0) -> Server:  # generous: CI machines can be loaded
        import httpx

        env = {
            **_os.environ,
            "PYTHONPATH": str(Path(__file__).parents[1] / "src"),
            "DERMSYNTH_SURVEY_ADMIN_PASSWORD": self.password,
        }
        cmd = [
            sys.executable,
            "-m",
            "dermsynth.cli.main",
            "survey",
            "serve",
            str(self.study),
            "--port",
            str(self.port),
        ]
        import tempfile

        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        t0 = time.time()
        while time.time() - t0 < timeout:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"server exited: {self.log.read().decode()[-2000:]}")
            try:
                if httpx.get(self.url + "/admin/login", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not start")

    def output(self) -> str:
        """Everything the server printed so far (console and access log)."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, like a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# ------------------------------------------------------------------ a real PostgreSQL server

POSTGRES_HINT = "install Debian's postgresql (apt-get install -y postgresql; .ci/run does)"


def postgres_bin(name: str) -> str | None:
    """``initdb`` / ``pg_ctl`` from PATH or Debian's ``/usr/lib/postgresql/N/bin`` (newest N)."""
    import shutil

    found = shutil.which(name)
    if found:
        return found
    cands = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    return str(cands[-1]) if cands else None


class Postgres:
    """A throwaway PostgreSQL server: ``initdb`` in a temporary folder, listening on a unix socket in
    that folder only (no TCP), trust authentication for the local socket. Run as the ``postgres`` user
    when this process is root (initdb refuses root). ``url(db)`` gives a SQLAlchemy URL."""

    def __init__(self, root: Path):
        import os
        import pwd

        self.initdb, self.pg_ctl = postgres_bin("initdb"), postgres_bin("pg_ctl")
        if not (self.initdb and self.pg_ctl):
            raise FileNotFoundError(f"no initdb / pg_ctl found: {POSTGRES_HINT}")
        self.root = root
        self.data, self.sock = root / "data", root / "sock"
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self.prefix: list[str] = []
        if os.getuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise FileNotFoundError(
                    f"running as root and there is no postgres user: {POSTGRES_HINT}"
                ) from None
            self.user, self.prefix = "postgres", ["runuser", "-u", "postgres", "--"]
            root.mkdir(parents=True, exist_ok=True)
            os.chown(root, pw.pw_uid, pw.pw_gid)
            os.chmod(root, 0o700)
        else:
            root.mkdir(parents=True, exist_ok=True)

    def _run(self, *cmd: str) -> None:
        r = subprocess.run([*self.prefix, *cmd], capture_output=True, text=True, timeout=120)
        if r.returncode:
            raise RuntimeError(
                f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr[-2000:]}{r.stdout[-500:]}"
            )

    def start(self) -> Postgres:
        self._run(self.initdb, "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8")
        self._run("mkdir", "-m", "700", str(self.sock))
        opts = f"-k {self.sock} -c listen_addresses='' -c fsync=off -c max_connections=100"
        self._run(self.pg_ctl, "-D", str(self.data), "-o", opts, "-l", str(self.root / "log"), "-w", "start")
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def createdb(self, name: str) -> str:
        """A new, empty database; its SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(host=str(self.sock), user=self.user, dbname="postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def url(self, db: str) -> str:
        return f"postgresql+psycopg://{self.user}@/{db}?host={self.sock}"

    def connect(self, db: str):
        import psycopg

        return psycopg.connect(host=str(self.sock), user=self.user, dbname=db)
