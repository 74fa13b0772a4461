"""Reader-study server under load: R simulated readers answer I images each, all at once, against a
real uvicorn server on 127.0.0.1 (in a thread); prints answers/s and request latency percentiles, and
checks that every acknowledged answer is in the export exactly once.

    PYTHONPATH=src python benchmarks/survey_load.py --readers 50 --images 16
"""

from __future__ import annotations

import argparse
import io
import socket
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import uvicorn
from PIL import Image

from dermsynth.survey.app import Settings, create_app
from dermsynth.survey.build import BuildOptions, build_study
from dermsynth.survey.service import invite

_HIDDEN = r'<input type="hidden" name="(\w+)" value="([^"]*)">'


def make_dataset(root: Path, source: str, per_class: int, seed: int) -> Path:
    from dermsynth.data.phantom import render_phantom

    (root / "images").mkdir(parents=True)
    rows = []
    for label in (0, 1):
        for k in range(per_class):
            f = f"images/{source}_{label}_{k}.png"
            Image.fromarray(render_phantom(1000 * label + k, seed, 512, label=label).image).save(root / f)
            rows.append({"image_id": f"{source}_{label}_{k}", "file": f, "label": label, "source": source})
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reader(url: str, token: str, n: int, barrier: threading.Barrier, lat: list[float], acked: list) -> None:
    import re

    with httpx.Client(base_url=url, timeout=60, follow_redirects=True) as c:
        barrier.wait()
        page = c.get(f"/r/{token}")  # swaps the link's token for the reader cookie
        c.post(
            "/s/consent",
            data={
                "consent": "yes",
                "background": "lay_person",
                "nonce": dict(re.findall(_HIDDEN, page.text))["nonce"],
            },
        )
        for pos in range(1, n + 1):
            t0 = time.perf_counter()
            h = dict(re.findall(_HIDDEN, c.get(f"/s/q/{pos}").text))
            r = c.post(
                f"/s/q/{pos}",
                data={**h, "diagnosis": "melanoma", "synthetic": "yes", "certainty": "3"},
                follow_redirects=False,
            )
            lat.append(time.perf_counter() - t0)
            if r.status_code == 303:
                acked.append((token, h["image_id"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--readers", type=int, default=50)
    ap.add_argument("--images", type=int, default=16)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="survey-bench-"))
    per = args.images // 4 + 1
    study = build_study(
        make_dataset(tmp / "real", "real", per, 0),
        make_dataset(tmp / "syn", "synthetic", per, 1),
        tmp / "study",
        BuildOptions(n=args.images, size=256, examples_per_class=0),
    ).study_dir
    tokens = [link.rsplit("/", 1)[1] for _, link in invite(study, args.readers)]
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(Settings(study, "pw")), host="127.0.0.1", port=port, log_level="warning")
    )
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    barrier, lat, acked = threading.Barrier(args.readers), [], []
    threads = [
        threading.Thread(target=reader, args=(url, t, args.images, barrier, lat, acked)) for t in tokens
    ]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    export = httpx.get(url + "/admin/export/responses.csv", auth=("admin", "pw")).text
    rows = pd.read_csv(io.StringIO(export))
    server.should_exit = True
    th.join(10)
    q = np.quantile(lat, [0.5, 0.95, 0.99]) * 1000
    print(
        f"readers={args.readers} images={args.images} answers={len(acked)} wall={wall:.2f}s "
        f"answers/s={len(acked) / wall:.1f} page+submit latency ms p50={q[0]:.0f} p95={q[1]:.0f} p99={q[2]:.0f}"
    )
    print(
        f"export rows={len(rows)} duplicates={int(rows.duplicated(['reader_id', 'image_id']).sum())} "
        f"lost={len(acked) - len(rows)}"
    )


if __name__ == "__main__":
    main()
