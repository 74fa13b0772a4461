"""Load and crash safety against a real uvicorn server on 127.0.0.1 (subprocess): >= 50 readers
answering at once lose and duplicate nothing; a killed and restarted server keeps every answer it
acknowledged."""

from __future__ import annotations

import threading
import time

import httpx
import pandas as pd
import pytest

from dermsynth.survey.service import invite
from survey_helpers import Server, hidden, make_study

N_IMAGES = 8
N_READERS = 50


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return make_study(tmp_path_factory.mktemp("load"), n=N_IMAGES, examples_per_class=1)


def fresh_study(study, tmp_path):
    """A copy of the study without a database."""
    import shutil

    dst = tmp_path / "study"
    shutil.copytree(study, dst, ignore=shutil.ignore_patterns("study.db*", "database.json"))
    return dst


class Reader(threading.Thread):
    """One simulated reader: consent, then answer every image (GET page, POST form)."""

    def __init__(self, url: str, token: str, start: threading.Barrier | None, double_first: bool = False):
        super().__init__(daemon=True)
        self.url, self.token, self.barrier, self.double = url, token, start, double_first
        self.acked: dict[str, tuple[str, str, int]] = {}  # image_id -> values the server acknowledged
        self.errors: list[str] = []

    def run(self) -> None:
        try:
            with httpx.Client(base_url=self.url, timeout=60) as c:
                if self.barrier:
                    self.barrier.wait()
                self.session(c)
        except Exception as e:  # recorded, asserted by the test
            self.errors.append(repr(e))

    def session(self, c: httpx.Client) -> None:
        t = self.token
        page = c.get(f"/r/{t}", follow_redirects=True)  # the link sets the reader cookie
        if page.url.path.endswith("/consent"):
            c.post(
                "/s/consent",
                data={"consent": "yes", "background": "lay_person", "nonce": hidden(page.text)["nonce"]},
            )
        for pos in range(1, N_IMAGES + 1):
            h = hidden(c.get(f"/s/q/{pos}").text)
            values = ("melanoma" if pos % 2 else "not_melanoma", "yes" if pos % 3 else "no", 1 + pos % 5)
            data = {
                "image_id": h["image_id"],
                "nonce": h["nonce"],
                "diagnosis": values[0],
                "synthetic": values[1],
                "certainty": str(values[2]),
            }
            posts = 2 if (self.double and pos == 1) else 1
            results: list[int] = []

            def post(pos=pos, data=data, results=results):
                try:
                    results.append(c.post(f"/s/q/{pos}", data=data).status_code)
                except httpx.TransportError:  # the server died mid-request: not acknowledged
                    results.append(-1)

            threads = [threading.Thread(target=post) for _ in range(posts)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            if 303 in results:
                self.acked[h["image_id"]] = values
            elif h["image_id"] not in self.acked:
                self.errors.append(f"pos {pos}: {results}")


def exported(url: str) -> pd.DataFrame:
    from io import StringIO

    r = httpx.get(url + "/admin/export/responses.csv", auth=("admin", "pw"), timeout=30)
    r.raise_for_status()
    return pd.read_csv(StringIO(r.text), dtype={"image_id": str})


def check_export(df: pd.DataFrame, tokens_to_ids: dict[str, str], readers: list[Reader]) -> None:
    assert not df.duplicated(["reader_id", "image_id"]).any()
    stored = {
        (row.reader_id, row.image_id): (row.diagnosis, row.synthetic, int(row.certainty))
        for row in df.itertuples()
    }
    for r in readers:
        rid = tokens_to_ids[r.token]
        for image_id, values in r.acked.items():
            assert stored.get((rid, image_id)) == values, (rid, image_id)


@pytest.mark.slow
def test_fifty_concurrent_readers_nothing_lost_or_duplicated(study, tmp_path):
    s = fresh_study(study, tmp_path)
    links = invite(s, N_READERS)
    ids = {link.rsplit("/", 1)[1]: rid for rid, link in links}
    with Server(s) as server:
        barrier = threading.Barrier(N_READERS)
        readers = [Reader(server.url, t, barrier, double_first=i % 5 == 0) for i, t in enumerate(ids)]
        t0 = time.time()
        for r in readers:
            r.start()
        for r in readers:
            r.join(120)
        elapsed = time.time() - t0
        assert not [e for r in readers for e in r.errors]
        assert all(len(r.acked) == N_IMAGES for r in readers)
        df = exported(server.url)
    assert len(df) == N_READERS * N_IMAGES
    check_export(df, ids, readers)
    print(f"{N_READERS} readers x {N_IMAGES} answers in {elapsed:.1f} s")


@pytest.mark.slow
def test_server_killed_mid_study_keeps_acknowledged_answers(study, tmp_path):
    s = fresh_study(study, tmp_path)
    links = invite(s, 20)
    ids = {link.rsplit("/", 1)[1]: rid for rid, link in links}
    server = Server(s).start()
    try:
        readers = [Reader(server.url, t, None) for t in ids]
        for r in readers:
            r.start()
        t0 = time.time()
        while sum(len(r.acked) for r in readers) < 30 and time.time() - t0 < 30:
            time.sleep(0.01)  # wait until readers are mid-study
        server.kill()
        for r in readers:
            r.join(60)
        acked_before = sum(len(r.acked) for r in readers)
        assert 30 <= acked_before < 20 * N_IMAGES  # the crash really came mid-study
        server.start()  # same port, same database
        df = exported(server.url)
        check_export(df, ids, readers)  # every acknowledged answer survived the crash
        assert len(df) >= acked_before
        # everyone resumes and finishes: complete, nothing duplicated
        again = [Reader(server.url, t, None) for t in ids]
        for r in again:
            r.start()
        for r in again:
            r.join(60)
        assert not [e for r in again for e in r.errors]
        df = exported(server.url)
        assert len(df) == 20 * N_IMAGES
        check_export(df, ids, again)
    finally:
        server.stop()
