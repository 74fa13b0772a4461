"""Ingest: every source layout, every kind of bad file, accounting, idempotence and resume."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dermsynth.core.io import read_rgb
from dermsynth.core.manifest import MANIFEST_COLUMNS, read_manifest
from dermsynth.data.decode import ImageRejected, decode_image
from dermsynth.data.ingest import ingest
from dermsynth.data.journal import JOURNAL_NAME
from dermsynth.data.resize import resize_square
from dermsynth.data.sources import detect_format


def _smooth(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A lesion-like smooth RGB image with an asymmetric marker (to check orientation)."""
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((6, 6, 3)).astype(np.float32)
    img = cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC) * 40 + 128
    img[: h // 4, : w // 4] = (250, 20, 20)  # red top-left block
    return np.clip(img, 0, 255).astype(np.uint8)


def _save(path: Path, arr: np.ndarray, fmt: str | None = None, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, format=fmt, **kw)
    return path


def _png_bomb(path: Path, w: int = 100_000, h: int = 100_000) -> Path:
    """A tiny PNG whose header claims w x h pixels (never decoded by a correct reader)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1000)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


@pytest.fixture()
def messy_folder(tmp_path: Path) -> Path:
    """Folder-per-class source with every kind of odd file."""
    src = tmp_path / "src"
    mel, ben = src / "melanoma", src / "benign"
    _save(mel / "good.jpg", _smooth(200, 300, 1), quality=95)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    _save(mel / "exif6.jpg", _smooth(200, 300, 2), quality=95, exif=exif.tobytes())
    Image.fromarray(_smooth(120, 120, 3)).convert("CMYK").save(mel / "cmyk.jpg")
    _save(mel / "gray.png", _smooth(90, 90, 4)[..., 0])
    rgba = np.dstack([_smooth(80, 80, 5), np.full((80, 80), 128, np.uint8)])
    _save(mel / "rgba.png", rgba)
    Image.fromarray(_smooth(70, 70, 6)).convert("P").save(mel / "palette.png")
    _save(ben / "gray16.png", (_smooth(64, 64, 7)[..., 0].astype(np.uint16) * 257), "PNG")
    cv2.imwrite(str(ben / "rgb16.png"), _smooth(64, 64, 8).astype(np.uint16) * 257)
    _png_bomb(ben / "bomb.png")
    good = (mel / "good.jpg").read_bytes()
    (ben / "trunc.jpg").write_bytes(good[: len(good) // 2])
    (ben / "zero.jpg").write_bytes(b"")
    (ben / "text.jpg").write_text("this is not an image")
    _save(ben / "good.png", _smooth(50, 50, 9))  # same id as melanoma/good.jpg
    _save(ben / "fine.bmp", _smooth(40, 60, 10))
    (ben / "notes.txt").write_text("ignored")
    _save(src / "weird" / "x.png", _smooth(40, 40, 11))  # unknown class folder
    _save(src / "loose.png", _smooth(40, 40, 12))  # not in a class folder
    return src


def test_messy_folder_accounting_and_normalisation(messy_folder: Path, tmp_path: Path):
    out = tmp_path / "out"
    res = ingest(messy_folder, out, size=32)
    assert res.format == "folder"
    assert res.inputs == 16 and res.ingested + res.rejected == res.inputs
    df = read_manifest(out)
    rej = pd.read_csv(out / "rejects.csv")
    assert len(df) == res.ingested and len(rej) == res.rejected
    reasons = dict(zip(rej["source"], rej["reason"], strict=True))
    assert "decompression bomb" in reasons["benign/bomb.png"]
    assert "truncated" in reasons["benign/trunc.jpg"]
    assert "empty file" in reasons["benign/zero.jpg"]
    assert "not an image" in reasons["benign/text.jpg"]
    assert "duplicate id" in reasons["melanoma/good.jpg"]  # class folders are read in sorted order
    assert "unknown label" in reasons["weird/x.png"]
    assert "not inside a class folder" in reasons["loose.png"]
    assert any(p.endswith("notes.txt") for p in res.ignored)
    ok = set(df["image_id"])
    assert {"good", "exif6", "cmyk", "gray", "rgba", "palette", "gray16", "rgb16", "fine"} == ok
    notes = dict(zip(df["image_id"], df["ingest_notes"].fillna(""), strict=True))
    assert "cmyk->rgb" in notes["cmyk"] and "16-bit" in notes["gray16"] and "alpha" in notes["rgba"]
    assert "palette" in notes["palette"] and "exif-orientation-6" in notes["exif6"]
    for f in df["file"]:
        img = cv2.imread(str(out / f), cv2.IMREAD_UNCHANGED)
        assert img.shape == (32, 32, 3) and img.dtype == np.uint8
    assert list(df.columns[: len(MANIFEST_COLUMNS)]) == MANIFEST_COLUMNS
    assert set(df.loc[df.image_id == "good", "label"]) == {0} and set(
        df.loc[df.image_id == "cmyk", "label"]
    ) == {1}
    assert json.loads((out / "dataset.json").read_text())["labels"][0][0].startswith("images/")
    # 16-bit is scaled (not clipped): the 8-bit and 16-bit versions of one image agree
    g16 = read_rgb(out / "images" / "gray16.png").astype(int)
    ref = resize_square(np.repeat(_smooth(64, 64, 7)[..., :1], 3, 2), 32)
    assert np.abs(g16 - ref).max() <= 1


def test_exif_orientation_is_applied(messy_folder: Path):
    data = (messy_folder / "melanoma" / "exif6.jpg").read_bytes()
    dec = decode_image(data)
    assert dec.rgb.shape[:2] == (300, 200) and (dec.width, dec.height) == (200, 300)
    # orientation 6: the stored top-left red block is shown at the top-right
    assert dec.rgb[5, -5, 0] > 200 and dec.rgb[5, -5, 1] < 60
    pil = np.asarray(__import__("PIL.ImageOps", fromlist=["x"]).exif_transpose(Image.open(io.BytesIO(data))))
    assert np.abs(pil.astype(int) - dec.rgb).max() <= 2


@pytest.mark.parametrize("orientation", range(1, 9))
def test_all_exif_orientations_match_pillow(tmp_path: Path, orientation: int):
    from PIL import ImageOps

    exif = Image.Exif()
    exif[0x0112] = orientation
    p = _save(tmp_path / "o.jpg", _smooth(40, 56, 3), quality=95, exif=exif.tobytes())
    dec = decode_image(p.read_bytes())
    ref = np.asarray(ImageOps.exif_transpose(Image.open(p)).convert("RGB"))
    assert dec.rgb.shape == ref.shape and np.abs(dec.rgb.astype(int) - ref).max() <= 2


def test_jpeg_with_data_after_end_marker_is_kept(tmp_path: Path):
    p = _save(tmp_path / "a.jpg", _smooth(64, 64), quality=95)
    data = p.read_bytes()
    dec = decode_image(data + b"APPENDED-METADATA" * 10)
    assert np.abs(dec.rgb.astype(int) - decode_image(data).rgb).max() <= 2  # Pillow path vs OpenCV path
    with pytest.raises(ImageRejected, match="truncated"):
        decode_image(data[: len(data) * 2 // 3])


def test_pixel_limit_and_bad_bytes():
    img = _smooth(100, 100)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG")
    with pytest.raises(ImageRejected, match="decompression bomb"):
        decode_image(buf.getvalue(), max_pixels=5000)
    assert decode_image(buf.getvalue(), max_pixels=10_000).rgb.shape == (100, 100, 3)
    for data, msg in [(b"", "empty"), (b"GIF89a" + b"\x00" * 10, "unreadable|corrupt|not an image")]:
        with pytest.raises(ImageRejected, match=msg):
            decode_image(data)


def test_reduced_jpeg_decode_matches_full_decode(tmp_path: Path):
    big = cv2.resize(_smooth(300, 400, 5), (1600, 1200), interpolation=cv2.INTER_CUBIC)
    data = (p := _save(tmp_path / "big.jpg", big, quality=92)).read_bytes()
    assert p.exists()
    for size, scale in ((75, 8), (150, 4), (256, 2), (300, 2)):  # area factor 1200 // (2 size): 8, 4, 2, 2
        fast = decode_image(data, target=size)
        full = decode_image(data, target=size, reduce=False)
        assert fast.scale == scale and full.scale == 1
        assert any("jpeg-reduced" in n for n in fast.notes)
        a = resize_square(fast.rgb, size, box=fast.box).astype(float)
        b = resize_square(full.rgb, size, box=full.box).astype(float)
        psnr = 10 * np.log10(255**2 / np.mean((a - b) ** 2))
        assert psnr >= 40, (size, psnr)


def test_rerun_is_idempotent_and_resumes(messy_folder: Path, tmp_path: Path):
    out = tmp_path / "out"
    r1 = ingest(messy_folder, out, size=32, workers=2)
    files = {p: p.read_bytes() for p in [out / "manifest.csv", out / "rejects.csv", out / "dataset.json"]}
    images = {p.name: p.read_bytes() for p in (out / "images").iterdir()}
    r2 = ingest(messy_folder, out, size=32)
    assert r2.skipped == r1.ingested and (r2.ingested, r2.rejected) == (r1.ingested, r1.rejected)
    assert all(p.read_bytes() == b for p, b in files.items())
    # simulate an interrupted run: one output missing, one half-written, a torn journal line, a temp file
    (out / "images" / "good.png").unlink()
    (out / "images" / "cmyk.png").write_bytes(images["cmyk.png"][:100])
    with open(out / JOURNAL_NAME, "a") as f:
        f.write('{"file": "images/fine.png", "sha2')
    (out / "images" / ".gray.png.abc.tmp.png").write_bytes(b"partial")
    r3 = ingest(messy_folder, out, size=32)
    assert r3.skipped == r1.ingested - 2
    assert {p.name: p.read_bytes() for p in (out / "images").glob("[!.]*")} == images
    assert all(p.read_bytes() == b for p, b in files.items())
    # changed settings redo everything
    r4 = ingest(messy_folder, out, size=24)
    assert r4.skipped == 0 and read_rgb(out / "images" / "good.png").shape == (24, 24, 3)


def test_crop_modes_and_filters(tmp_path: Path):
    img = _smooth(60, 120)
    for crop in ("center", "pad", "stretch"):
        for filt in ("lanczos", "area", "box"):
            out = resize_square(img, 32, crop, filt)
            assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    padded = resize_square(img, 120, "pad", "area")
    assert padded[:30].mean() > 40  # mirrored, not black bars
    with pytest.raises(ValueError, match="crop"):
        resize_square(img, 32, "zoom")
    src = tmp_path / "s"
    _save(src / "melanoma" / "a.png", img)
    _save(src / "benign" / "b.png", img)
    with pytest.raises(ValueError, match="resize filter"):
        ingest(src, tmp_path / "o", resize_filter="cubic")


def _isic2020_csv(path: Path, rows: list[dict]) -> Path:
    cols = ["image_name", "patient_id", "sex", "age_approx", "anatom_site_general_challenge", "diagnosis",
            "benign_malignant", "target"]  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=cols).to_csv(path, index=False)
    return path


def test_isic2020_layout_with_synthetic_images(tmp_path: Path):
    src = tmp_path / "siim"
    rows = [
        {"image_name": f"ISIC_{i:07d}", "patient_id": f"IP_{i // 2}", "sex": "male", "age_approx": 40,
         "anatom_site_general_challenge": "torso", "diagnosis": "nevus", "benign_malignant": "benign", "target": 0}
        for i in range(6)
    ]  # fmt: skip
    rows[1].update(target=1, benign_malignant="malignant", diagnosis="melanoma")
    rows[2].update(target="", benign_malignant="malignant")  # label from benign_malignant
    rows[3].update(target=7, benign_malignant="")  # unknown label
    rows.append(dict(rows[0]))  # duplicate id
    rows.append({**rows[0], "image_name": "ISIC_9999999"})  # no image
    _isic2020_csv(src / "train.csv", rows)
    for i in range(6):
        _save(src / "jpeg" / "train" / f"ISIC_{i:07d}.jpg", _smooth(60, 80, i))
    _save(src / "jpeg" / "train" / "ISIC_5555555.jpg", _smooth(60, 80, 9))  # orphan
    assert detect_format(src) == "isic2020"
    res = ingest(src, tmp_path / "out", size=16)
    assert (res.inputs, res.ingested, res.rejected) == (9, 5, 4)
    df = read_manifest(tmp_path / "out").set_index("image_id")
    assert df.loc["ISIC_0000001", "label"] == 1 and df.loc["ISIC_0000002", "label"] == 1
    assert df.loc["ISIC_0000000", "patient_id"] == "IP_0" and df.loc["ISIC_0000000", "anatom_site"] == "torso"
    assert df.loc["ISIC_0000000", "license"] == "CC BY-NC 4.0"
    reasons = " ".join(pd.read_csv(tmp_path / "out" / "rejects.csv")["reason"])
    for what in ("unknown label", "duplicate id", "no image file", "no csv row"):
        assert what in reasons


def test_missing_required_column_fails_before_work(tmp_path: Path):
    src = tmp_path / "siim"
    src.mkdir()
    pd.DataFrame({"image_name": ["ISIC_1"], "patient_id": ["p"]}).to_csv(src / "train.csv", index=False)
    with pytest.raises(ValueError, match="cannot tell"):
        ingest(src, tmp_path / "out")
    with pytest.raises(
        ValueError, match=r"train.csv: missing required column\(s\): target or benign_malignant"
    ):
        ingest(src / "train.csv", tmp_path / "out", fmt="isic2020")
    assert not (tmp_path / "out").exists()


def test_ambiguous_source_is_a_clear_error(tmp_path: Path):
    src = tmp_path / "both"
    src.mkdir()
    (src / "dataset.json").write_text('{"labels": []}')
    pd.DataFrame({"isic_id": ["ISIC_1"], "diagnosis_1": ["Benign"]}).to_csv(src / "metadata.csv", index=False)
    with pytest.raises(
        ValueError, match="ambiguous.*isic-archive.*stylegan|ambiguous.*stylegan.*isic-archive"
    ):
        detect_format(src)


def test_challenge_layouts(tmp_path: Path):
    for i in range(4):
        _save(tmp_path / "imgs" / f"ISIC_{i:07d}.jpg", _smooth(40, 40, i))
    c16 = tmp_path / "c16"
    c16.mkdir()
    (c16 / "gt.csv").write_text("ISIC_0000000,benign\nISIC_0000001,malignant\nISIC_0000002,maybe\n")
    res = ingest(c16 / "gt.csv", tmp_path / "o16", size=16, images=tmp_path / "imgs")
    assert res.format == "isic-challenge" and (res.inputs, res.ingested) == (4, 2)
    c19 = tmp_path / "c19"
    c19.mkdir()
    pd.DataFrame({"image": [f"ISIC_{i:07d}" for i in range(4)], "MEL": [1.0, 0.0, 0.0, 0.0],
                  "NV": [0.0, 1.0, 0.0, 1.0], "BKL": [0.0, 0.0, 1.0, 0.0]}).to_csv(c19 / "gt.csv", index=False)  # fmt: skip
    res = ingest(c19, tmp_path / "o19", size=16, images=tmp_path / "imgs")
    df = read_manifest(tmp_path / "o19")
    assert (
        res.ingested == 4
        and list(df["label"]) == [1, 0, 0, 0]
        and list(df["diagnosis"]) == ["MEL", "NV", "BKL", "NV"]
    )


def test_stylegan_zip_and_folder(tmp_path: Path):
    zpath = tmp_path / "ds.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for i in range(4):
            buf = io.BytesIO()
            Image.fromarray(_smooth(32, 32, i)).save(buf, "PNG")
            zf.writestr(f"00000/img{i:08d}.png", buf.getvalue())
        labels = [[f"00000/img{i:08d}.png", i % 2] for i in range(3)] + [
            ["00000/missing.png", 0],
            ["00000/img00000003.png", 5],
        ]
        zf.writestr("dataset.json", json.dumps({"labels": labels}))
    assert detect_format(zpath) == "stylegan"
    res = ingest(zpath, tmp_path / "o", size=16, workers=2)
    assert (res.inputs, res.ingested, res.rejected) == (5, 3, 2)
    rej = " ".join(pd.read_csv(tmp_path / "o" / "rejects.csv")["reason"])
    assert "missing" in rej and "unknown label value 5" in rej
    # our own output is an official-layout dataset folder: re-ingesting it round-trips the labels
    res2 = ingest(tmp_path / "o", tmp_path / "o2", size=16)
    assert res2.format == "stylegan" and res2.ingested == 3
    a, b = read_manifest(tmp_path / "o"), read_manifest(tmp_path / "o2")
    assert list(a["label"]) == list(b["label"])


def test_cli_ingest_prints_accounting(messy_folder: Path, tmp_path: Path):
    from typer.testing import CliRunner

    from dermsynth.cli.main import app

    res = CliRunner().invoke(
        app, ["data", "ingest", str(messy_folder), "--out", str(tmp_path / "o"), "--size", "16"]
    )
    assert res.exit_code == 0, res.output
    assert "ingested 9 + rejected 7 = 16 inputs" in " ".join(res.output.split())
    res = CliRunner().invoke(app, ["data", "ingest", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "not found" in res.output


# ---- shared real samples --------------------------------------------------------------------------


@pytest.mark.realdata
def test_real_isic_archive(shared_data: Path, tmp_path: Path):
    src = shared_data / "isic-archive-fullres"
    res = ingest(src, tmp_path / "o", size=32, workers=2)
    assert (res.format, res.inputs, res.ingested, res.rejected) == ("isic-archive", 60, 60, 0)
    df = read_manifest(tmp_path / "o")
    assert df["label"].sum() == 30 and set(df["license"]) == {"CC-0"} and df["attribution"].notna().all()
    assert df["ingest_notes"].fillna("").str.contains("jpeg-reduced").any()


@pytest.mark.realdata
def test_real_isic2017_challenge_csv_subset_with_orphans(shared_data: Path, tmp_path: Path):
    labels = pd.read_csv(shared_data / "isic2017-256" / "labels.csv", dtype=str)
    labels = pd.concat(
        [labels[labels["split"] == "train"].head(20), labels[labels["split"] == "val"].head(10)]
    )
    sub = tmp_path / "labels.csv"
    labels.to_csv(sub, index=False)
    res = ingest(sub, tmp_path / "o", size=16, images=shared_data / "isic2017-256" / "images")
    assert res.format == "isic-challenge"
    assert (res.inputs, res.ingested, res.rejected) == (2150, 30, 2120)
    assert res.reasons == {"no csv row for this image": 2120}
    df = read_manifest(tmp_path / "o")
    assert list(df["label"]) == [int(v) for v in labels["melanoma"].astype(float)]
    assert "dark_corner" in df.columns and "source_split" in df.columns
    assert list(df["split"]) == list(labels["split"])  # the challenge's own split, not left empty


@pytest.mark.realdata
def test_real_isic2020_csv_without_images(shared_data: Path, tmp_path: Path):
    res = ingest(shared_data / "isic2020-groundtruth", tmp_path / "o")
    assert (res.format, res.inputs, res.ingested, res.rejected) == ("isic2020", 33126, 0, 33126)
    rej = pd.read_csv(tmp_path / "o" / "rejects.csv")
    assert rej["reason"].str.startswith("no image file").all()


@pytest.mark.realdata
def test_real_isic2020_csv_with_synthesised_images(shared_data: Path, tmp_path: Path):
    gt = pd.read_csv(shared_data / "isic2020-groundtruth" / "ISIC_2020_Training_GroundTruth.csv", dtype=str)
    picked = pd.concat([gt[gt.target == "1"].head(5), gt[gt.target == "0"].head(5)])
    for i, name in enumerate(picked["image_name"]):
        _save(tmp_path / "train" / f"{name}.jpg", _smooth(120, 160, i))
    csv = tmp_path / "train.csv"
    gt.to_csv(csv, index=False)
    res = ingest(csv, tmp_path / "o", size=16)
    assert (res.ingested, res.rejected) == (10, len(gt) - 10)
    df = read_manifest(tmp_path / "o").set_index("image_id")
    for _, row in picked.iterrows():
        assert df.loc[row.image_name, "label"] == int(row.target)
        assert df.loc[row.image_name, "patient_id"] == row.patient_id


def _real_2017(shared_data: Path, n: int) -> pd.DataFrame:
    labels = pd.read_csv(shared_data / "isic2017-256" / "labels.csv", dtype=str)
    return pd.concat([labels[labels.melanoma == "1"].head(n), labels[labels.melanoma == "0"].head(n)])


@pytest.mark.realdata
def test_real_images_as_folder_per_class(shared_data: Path, tmp_path: Path):
    picked = _real_2017(shared_data, 6)
    for _, row in picked.iterrows():
        cls = "melanoma" if row.melanoma == "1" else "nevus"
        (tmp_path / "src" / cls).mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / cls / f"{row.image_id}.jpg").symlink_to(
            shared_data / "isic2017-256" / "images" / f"{row.image_id}.jpg"
        )
    res = ingest(tmp_path / "src", tmp_path / "o", size=64)
    assert (res.format, res.ingested, res.rejected) == ("folder", 12, 0)
    df = read_manifest(tmp_path / "o").set_index("image_id")
    for _, row in picked.iterrows():
        assert df.loc[row.image_id, "label"] == int(row.melanoma)
    # the 256 px source needs no crop: ingest equals a plain OpenCV resize of the decoded image
    iid = picked.image_id.iloc[0]
    src = read_rgb(shared_data / "isic2017-256" / "images" / f"{iid}.jpg")
    ref = cv2.resize(src, (64, 64), interpolation=cv2.INTER_LANCZOS4)
    k2 = resize_square(src, 64).astype(float)  # full decode, area factor 2, then Lanczos
    got = read_rgb(tmp_path / "o" / "images" / f"{iid}.png")  # decoded at 1/2 scale
    assert 10 * np.log10(255**2 / np.mean((got - k2) ** 2)) > 40
    assert np.abs(k2 - ref).mean() < 6  # and close to the thesis' direct Lanczos


@pytest.mark.realdata
def test_real_images_as_stylegan_zip(shared_data: Path, tmp_path: Path):
    picked = _real_2017(shared_data, 4)
    zpath = tmp_path / "isic.zip"
    labels = []
    with zipfile.ZipFile(zpath, "w") as zf:
        for i, (_, row) in enumerate(picked.iterrows()):
            name = f"{i // 1000:05d}/img{i:08d}.png"
            rgb = read_rgb(shared_data / "isic2017-256" / "images" / f"{row.image_id}.jpg")
            zf.writestr(name, cv2.imencode(".png", rgb[..., ::-1])[1].tobytes())
            labels.append([name, int(row.melanoma)])
        zf.writestr("dataset.json", json.dumps({"labels": labels}))
    res = ingest(zpath, tmp_path / "o", size=256, workers=2)
    assert (res.format, res.ingested, res.rejected) == ("stylegan", 8, 0)
    df = read_manifest(tmp_path / "o")
    assert list(df["label"]) == [lbl for _, lbl in labels]
    first = read_rgb(tmp_path / "o" / df["file"].iloc[0])  # same size: pixels pass through unchanged
    assert np.array_equal(
        first, read_rgb(shared_data / "isic2017-256" / "images" / f"{picked.image_id.iloc[0]}.jpg")
    )
