"""The page: one self-contained HTML file (images as data URIs, CSS and a few lines of JS inline).

Order: title, the summary (the study's answer: one sentence per stage, then cards with its key
figures), the table of contents, an index of the thesis's figures and tables (where each one is, or
why it is not in this study), the stage sections, the data cards. Every raw key-value detail sits in
a collapsed ``<details>``; wide tables scroll inside their own box; images open enlarged on click.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dermsynth.report.fmt import format_frame
from dermsynth.report.images import Tile, file_uri, image_size

TILE_PX = 128  # smallest rendered side of any image on the page (the browser test holds it to this)

CSS = """
*,*::before,*::after{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1180px;margin:0 auto;
 padding:1rem 1.2rem 3rem;color:#1b1b1b;line-height:1.45;overflow-wrap:anywhere}
header h1{font-size:1.6rem;margin:.2rem 0 .1rem}header p{margin:.1rem 0;color:#555;font-size:.85rem}
h2{font-size:1.3rem;border-bottom:2px solid #8a3b12;padding-bottom:.15rem;margin:2.2rem 0 .7rem}
h3{font-size:1.05rem;margin:1.6rem 0 .4rem}
#summary h2{margin-top:.9rem}
ul.findings{margin:.3rem 0 .8rem;padding-left:1.1rem}ul.findings li{margin:.2rem 0}
ul.findings b{color:#8a3b12}
.notrun{color:#666;font-size:.9rem}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,340px),1fr));gap:.9rem}
.card{border:1px solid #ddd;border-radius:6px;padding:.6rem .75rem;background:#fcfaf8;min-width:0}
.card h3{margin:.1rem 0 .35rem;font-size:1rem}.card h3 a{color:inherit;text-decoration:none}
.card p{margin:.25rem 0;font-size:.9rem}
figure{margin:.7rem 0 1.1rem;min-width:0}
figcaption{font-size:.85rem;color:#333;margin-top:.3rem}
figcaption .src{color:#777;font-size:.78rem}
.num{font-weight:600;color:#8a3b12}
img.plot{display:block;max-width:100%;height:auto;border:1px solid #e3e3e3;background:#fff;cursor:zoom-in}
img.px{image-rendering:pixelated}
.tilerow{margin:.25rem 0 .5rem}.tilerow .lab{font-size:.8rem;color:#444;margin-bottom:.15rem}
.tilegrid{display:flex;flex-wrap:wrap;gap:6px}
img.tile{width:TILEpx;height:TILEpx;object-fit:cover;border:1px solid #ddd;cursor:zoom-in}
@media (min-width:900px){img.tile{width:TILEWpx;height:TILEWpx}}
.card img.tile{width:TILEpx;height:TILEpx}
.scroll{max-width:100%;overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;font-size:.84rem;margin:.2rem 0}
td,th{border:1px solid #d4d4d4;padding:.2rem .45rem;text-align:left;white-space:nowrap}td.r,th.r{text-align:right}
th{background:#f3ece6;font-weight:600}table.thesis td{white-space:normal;text-align:left}
.card table{font-size:.78rem}.card td,.card th{padding:.15rem .3rem}
p.absent{font-size:.88rem;color:#555;border-left:3px solid #ccc;padding:.1rem .6rem;margin:.4rem 0}
.note{background:#fff7e0;border-left:4px solid #e0a800;padding:.35rem .7rem;font-size:.9rem}
details{margin:.5rem 0;border:1px solid #e4e4e4;border-radius:4px;padding:.25rem .6rem;background:#fafafa}
details summary{cursor:pointer;font-size:.85rem;color:#444}
code{font-size:.85em;background:#f2f0ee;padding:0 .2em;border-radius:3px}
details .kv{font-size:.8rem}
.prov{font-size:.75rem;color:#666;font-family:ui-monospace,monospace;word-break:break-all}
nav.toc ol{columns:2 16rem;margin:.3rem 0;padding-left:1.3rem}nav.toc li{margin:.1rem 0}
#lb{position:fixed;inset:0;background:rgba(0,0,0,.88);display:flex;flex-direction:column;
 align-items:center;justify-content:center;z-index:10;cursor:zoom-out;padding:1rem}
#lb[hidden]{display:none}
#lb img{width:96vw;height:84vh;object-fit:contain;background:#fff}
#lb p{color:#eee;font-size:.9rem;max-width:90vw;text-align:center}
@media print{#lb,nav.toc{display:none}body{max-width:none;padding:0}
 figure,.card,table{break-inside:avoid}.scroll{overflow:visible}a{color:inherit;text-decoration:none}}
""".replace("TILEW", "160").replace("TILE", str(TILE_PX))

JS = """
(function(){
 var lb=document.getElementById('lb'),im=lb.querySelector('img'),cap=lb.querySelector('p');
 function open(t){im.src=t.src;im.className=t.classList.contains('px')?'px':'';cap.textContent=t.alt;lb.hidden=false;}
 document.addEventListener('click',function(e){
  var t=e.target.closest('img.zoom');
  if(t&&!t.closest('#lb')){open(t);return;}
  if(!lb.hidden&&e.target.closest('#lb'))lb.hidden=true;});
 document.addEventListener('keydown',function(e){
  if(e.key==='Escape')lb.hidden=true;
  else if(e.key==='Enter'&&document.activeElement&&document.activeElement.matches('img.zoom'))open(document.activeElement);});
})();
"""


@dataclass
class Figure:
    """A figure: one image file, or rows of image tiles (row label -> tiles)."""

    caption: str
    path: Path | None = None
    tiles: dict[str, list[Tile]] | None = None
    number: str = ""
    source: str = ""


@dataclass
class Table:
    caption: str
    df: pd.DataFrame
    number: str = ""
    source: str = ""
    formatted: bool = False  # cells are display strings already


@dataclass
class Absent:
    """A thesis figure or table this study does not have, and why (one line)."""

    number: str
    caption: str
    why: str


@dataclass
class Details:
    """A collapsed box of raw detail: a table of key-value rows and/or lines of text."""

    summary: str
    df: pd.DataFrame | None = None
    lines: list[str] = field(default_factory=list)


Item = Figure | Table | Absent


@dataclass
class Block:
    title: str
    text: list[str] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    details: list[Details] = field(default_factory=list)
    provenance: list[str] = field(default_factory=list)


@dataclass
class Section:
    key: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    lead: str = ""  # one line under the heading (e.g. "did not run")


@dataclass
class Card:
    """One stage in the summary: its plain sentence(s) and key figures, linking to its section."""

    key: str
    title: str
    sentences: list[str] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)


@dataclass
class Page:
    title: str
    intro: list[str]
    findings: list[tuple[str, str, str]]  # (stage label, sentence, section key)
    not_run: list[str]
    cards: list[Card]
    thesis_index: list[tuple[str, str, str]]  # (number, what it shows, html of where / why not)
    sections: list[Section]


def esc(s) -> str:
    return html.escape(str(s), quote=True)


def prose(s) -> str:
    """Escaped text with `command` spans set as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", esc(s))


def anchor(number: str) -> str:
    """``'Fig. 4.4-4.7' -> 'fig-4-4-4-7'``: the id of a numbered figure or table."""
    return re.sub(r"[^a-z0-9]+", "-", number.lower()).strip("-")


def _img(path: Path, alt: str) -> str:
    """A figure image: small mosaics enlarged pixel for pixel; any image shrinks with the page only
    down to the width at which it is ``TILE_PX`` high, and scrolls inside its box below that."""
    w, h = image_size(path)
    cls, width = "plot zoom", w
    if 0 < w < 480 or 0 < h < TILE_PX:
        scale = min(8, max(2, -(-480 // w), -(-TILE_PX // max(h, 1))))
        cls += " px"
        width = w * scale
    style = ""
    if w > 0 and h > 0:
        min_w = -(-TILE_PX * w // h)  # the width at which the image is TILE_PX high
        style = f" style='width:{width}px;max-width:max(100%,{min_w}px)'"
    img = f"<img class='{cls}' tabindex='0' alt='{esc(alt)}' src=\"{file_uri(path)}\"{style}>"
    return f"<div class='scroll'>{img}</div>"


def _tile(t: Tile, alt: str) -> str:
    cls = "tile zoom" + (" px" if max(t.width, t.height) < TILE_PX else "")
    return f"<img class='{cls}' tabindex='0' alt='{esc(alt)}' title='{esc(alt)}' src=\"{t.uri}\">"


def _caption(number: str, caption: str, source: str) -> str:
    num = f"<span class='num'>{esc(number)}.</span> " if number else ""
    src = f" <span class='src'>Read from {esc(source)}.</span>" if source else ""
    return f"<figcaption>{num}{prose(caption)}{src}</figcaption>"


_NUMERIC = re.compile(r"^[−+\-<>~]?\s*[\d.,]+\s*(%|×)?(\s*[\[(][\d.,\s\-−]+[\])])?$|^[–-]$")


def _numeric(cells: list[str]) -> bool:
    vals = [c for c in cells if c]
    return bool(vals) and all(_NUMERIC.match(c) for c in vals)


def table_html(df: pd.DataFrame, formatted: bool = False) -> str:
    """A table of display strings in its own horizontal scroll box; numeric columns right-aligned."""
    shown = df if formatted else format_frame(df)
    cols = [str(c) for c in shown.columns]
    cells = [
        ["" if v is None or (isinstance(v, float) and v != v) else str(v) for v in shown[c]]
        for c in shown.columns
    ]
    right = [_numeric(col) for col in cells]
    head = "".join(f"<th{' class=r' if r else ''}>{esc(c)}</th>" for c, r in zip(cols, right, strict=True))
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=r' if r else ''}>{esc(col[i])}</td>" for col, r in zip(cells, right, strict=True)
        )
        + "</tr>"
        for i in range(len(shown))
    )
    return f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def item_html(it: Item) -> str:
    ident = f" id='{anchor(it.number)}'" if getattr(it, "number", "") else ""
    if isinstance(it, Absent):
        return f"<p class='absent'{ident}><span class='num'>{esc(it.number)}</span> {esc(it.caption)} — {prose(it.why)}</p>"
    if isinstance(it, Table):
        return (
            f"<figure class='table'{ident}>{_caption(it.number, it.caption, it.source)}"
            f"{table_html(it.df, it.formatted)}</figure>"
        )
    inner = ""
    if it.path is not None:
        inner = _img(it.path, f"{it.number} {it.caption}".strip())
    for lab, tiles in (it.tiles or {}).items():
        imgs = "".join(_tile(t, f"{lab}: {t.label}" if t.label else lab) for t in tiles)
        inner += (
            f"<div class='tilerow'><div class='lab'>{esc(lab)}</div><div class='tilegrid'>{imgs}</div></div>"
        )
    return f"<figure{ident}>{inner}{_caption(it.number, it.caption, it.source)}</figure>"


def details_html(d: Details) -> str:
    inner = "".join(f"<p class='kv'>{esc(x)}</p>" for x in d.lines)
    if d.df is not None and len(d.df):
        inner += table_html(d.df, formatted=True)
    return f"<details><summary>{esc(d.summary)}</summary>{inner}</details>"


def block_html(b: Block) -> str:
    out = [f"<h3>{esc(b.title)}</h3>"]
    out += [f"<p>{prose(t)}</p>" for t in b.text]
    out += [item_html(i) for i in b.items]
    out += [details_html(d) for d in b.details]
    if b.provenance:
        out.append(
            details_html(Details("Where this was read from", lines=b.provenance)).replace(
                "class='kv'", "class='prov'"
            )
        )
    return "\n".join(out)


def render(page: Page) -> str:
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>{esc(page.title)}</title><style>{CSS}</style></head><body>",
        f"<header><h1>{esc(page.title)}</h1>",
        *(f"<p>{esc(t)}</p>" for t in page.intro),
        "</header>",
        "<section id='summary'><h2>Summary: what this study found</h2>",
    ]
    if page.findings:
        out.append("<ul class='findings'>")
        out += [
            f"<li><b><a href='#{k}'>{esc(lab)}</a>:</b> {prose(sentence)}</li>"
            for lab, sentence, k in page.findings
        ]
        out.append("</ul>")
    else:
        out.append("<p class='note'>No stage outputs were found under this directory.</p>")
    if page.not_run:
        out.append("<p class='notrun'>" + " ".join(prose(x) for x in page.not_run) + "</p>")
    if page.cards:
        out.append("<div class='cards'>")
        for c in page.cards:
            out.append(f"<div class='card' id='card-{c.key}'><h3><a href='#{c.key}'>{esc(c.title)}</a></h3>")
            out += [f"<p>{prose(s)}</p>" for s in c.sentences]
            out += [item_html(i).replace(" id='", " data-ref='") for i in c.items]
            out.append("</div>")
        out.append("</div>")
    out.append("</section>")
    toc = [("summary", "Summary"), ("thesis", "The thesis's figures and tables")]
    toc += [(s.key, s.title) for s in page.sections]
    out.append("<nav class='toc' id='contents'><h2>Contents</h2><ol>")
    out += [f"<li><a href='#{k}'>{esc(t)}</a></li>" for k, t in toc]
    out.append("</ol></nav>")
    out.append("<section id='thesis'><h2>The thesis's figures and tables</h2>")
    out.append(
        "<p>Each figure and table of Rosén &amp; Zoubi (2022) that this toolkit reproduces, and where it is "
        "in this report (or why this study does not have it).</p>"
    )
    rows = "".join(
        f"<tr data-thesis='{esc(n)}'><td>{esc(n)}</td><td>{esc(what)}</td><td>{where}</td></tr>"
        for n, what, where in page.thesis_index
    )
    out.append(
        "<div class='scroll'><table class='thesis'><thead><tr><th>Number</th><th>What it shows</th>"
        f"<th>In this report</th></tr></thead><tbody>{rows}</tbody></table></div></section>"
    )
    for s in page.sections:
        out.append(f"<section id='{s.key}'><h2>{esc(s.title)}</h2>")
        if s.lead:
            out.append(f"<p class='notrun'>{prose(s.lead)}</p>")
        out += [block_html(b) for b in s.blocks]
        out.append("</section>")
    out.append("<div id='lb' hidden><img alt=''><p></p></div>")
    out.append(f"<script>{JS}</script></body></html>")
    return "\n".join(out)
