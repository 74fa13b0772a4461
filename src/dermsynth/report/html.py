"""Render report sections to one self-contained HTML page (images embedded as data URIs)."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2rem auto;padding:0 1rem;color:#1b1b1b;line-height:1.45}
h1{font-size:1.7rem}h2{border-bottom:2px solid #8a3b12;padding-bottom:.2rem;margin-top:2.5rem}
h3{margin-top:1.5rem}table{border-collapse:collapse;font-size:.85rem;margin:.6rem 0}
td,th{border:1px solid #ccc;padding:.2rem .45rem;text-align:right}th{background:#f3ece6}
td:first-child,th:first-child{text-align:left}figure{margin:.8rem 0}figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:.8rem;color:#555}.prov{font-size:.75rem;color:#666;font-family:monospace;word-break:break-all}
nav a{margin-right:.8rem}.note{background:#fff7e0;border-left:4px solid #e0a800;padding:.4rem .7rem}
"""


@dataclass
class Block:
    """One titled piece of a section: text, a table, figures and where they came from."""

    title: str
    text: list[str] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    figures: list[tuple[str, Path]] = field(default_factory=list)
    provenance: list[str] = field(default_factory=list)


@dataclass
class Section:
    key: str
    title: str
    blocks: list[Block] = field(default_factory=list)


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    mime = "image/png" if str(path).lower().endswith(".png") else "image/jpeg"
    return f'<img alt="{html.escape(alt)}" src="data:{mime};base64,{data}">'


def _table(df: pd.DataFrame) -> str:
    return df.to_html(index=False, border=0, float_format=lambda v: f"{v:.4g}", na_rep="")


def render(title: str, sections: list[Section], intro: list[str]) -> str:
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    out += [f"<p>{html.escape(t)}</p>" for t in intro]
    out.append(
        "<nav>" + "".join(f"<a href='#{s.key}'>{html.escape(s.title)}</a>" for s in sections) + "</nav>"
    )
    for s in sections:
        out.append(f"<section id='{s.key}'><h2>{html.escape(s.title)}</h2>")
        for b in s.blocks:
            out.append(f"<h3>{html.escape(b.title)}</h3>")
            out += [f"<p>{html.escape(t)}</p>" for t in b.text]
            for cap, df in b.tables:
                out.append(f"<p><b>{html.escape(cap)}</b></p>{_table(df)}")
            for cap, p in b.figures:
                out.append(f"<figure>{_img(p, cap)}<figcaption>{html.escape(cap)}</figcaption></figure>")
            if b.provenance:
                out.append("<p class='prov'>" + "<br>".join(html.escape(x) for x in b.provenance) + "</p>")
        out.append("</section>")
    out.append("</body></html>")
    return "\n".join(out)
