"""``dermsynth survey``: build a blinded reader study, check it for leaks, serve it, invite readers,
export and analyse the answers (thesis Sec. 3.6 / 4.4)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import typer

from dermsynth.cli.common import console, progress, user_errors

app = typer.Typer(
    help="Reader study: real or synthetic? (build, leakcheck, serve, invite, export, analyze)",
    no_args_is_help=True,
)

PASSWORD_ENV = "DERMSYNTH_SURVEY_ADMIN_PASSWORD"


@app.command()
def build(
    real: Path = typer.Option(..., help="Real dataset dir (manifest.csv layout)."),
    synthetic: Path | None = typer.Option(
        None, help="Synthetic dataset dir (manifest.csv layout; its seeds must be secret, see --generator)."
    ),
    generator: str | None = typer.Option(
        None, help="Generator network (file or shipped name): synthetic stimuli from secret random seeds."
    ),
    device: str = typer.Option("cpu", help="Device for --generator and the build's audit (auto, cpu, cuda)."),
    audit: str = typer.Option(
        "best",
        help="How the build audits each candidate for --exclude at the source resolution: best, heuristic, "
        "model:PATH, or none (trust the manifest alone).",
    ),
    trunc: float = typer.Option(1.0, help="Truncation psi for --generator."),
    public_synthetic_seeds: bool = typer.Option(
        False, help="Accept a --synthetic dir whose seeds are public (readers could regenerate them)."
    ),
    out: Path = typer.Option(..., help="New study directory (must not exist or be empty)."),
    n: int = typer.Option(200, help="Number of stimuli (multiple of 4: real/synthetic x class)."),
    exclude: list[str] = typer.Option([], help="Artifact column to exclude (e.g. ruler); repeatable."),
    outliers: Path | None = typer.Option(
        None, help="Embeddings csv of `classify embed` for synthetic outliers."
    ),
    outlier_frac: float = typer.Option(0.0, help="Share of synthetic stimuli per class taken as outliers."),
    unknown: str = typer.Option(
        "drop", help="Images whose excluded artifact is not annotated (blank): drop or keep."
    ),
    seed: int = typer.Option(0, help="Selection seed (ids are secret and random at every build)."),
    size: int = typer.Option(256, help="Side of the square stimuli in pixels."),
    min_source_scale: float = typer.Option(
        2.0, help="Sources must be at least this many times --size (smaller ones are refused)."
    ),
    pixel_leaks: str = typer.Option(
        "fail", help="If pixel statistics tell the sources apart: fail, or warn and keep the study."
    ),
    examples_per_class: int = typer.Option(3, help="Real example images per class (not in the questions)."),
    allow_small_stimuli: bool = typer.Option(
        False, help="Build stimuli below 64 px anyway (too small for a dermatologist: demos and tests only)."
    ),
    study_id: str | None = typer.Option(None, help="Study id (default: random)."),
) -> None:
    """Select balanced stimuli, re-encode them identically under opaque ids, and leak-check the result."""
    from dermsynth.survey.build import BuildOptions, build_study, build_study_from_generator

    opts = BuildOptions(
        n=n,
        seed=seed,
        size=size,
        exclude=tuple(exclude),
        outlier_frac=outlier_frac,
        examples_per_class=examples_per_class,
        study_id=study_id,
        min_source_scale=min_source_scale,
        unknown=unknown,
        pixel_leaks=pixel_leaks,
        allow_small_stimuli=allow_small_stimuli,
        public_synthetic_seeds=public_synthetic_seeds,
        audit=audit,
        device=device,
    )
    if min_source_scale < 2.0:
        console.print(
            f"[bold red]WARNING:[/bold red] --min-source-scale {min_source_scale:g} is below 2: sources "
            "barely reduced (or upscaled, below 1) keep their processing history; the pixel leak check "
            "decides whether the study is kept"
        )
    with user_errors():
        if (synthetic is None) == (generator is None):
            raise ValueError("give exactly one of --synthetic DIR and --generator NETWORK")
    with user_errors(), progress() as bar:
        task = bar.add_task("encoding stimuli", total=n, info="")
        if generator is not None:
            if outliers is not None:
                raise ValueError(
                    "--outliers needs the embeddings of --synthetic images; not with --generator"
                )
            res = build_study_from_generator(
                real, generator, out, opts, truncation_psi=trunc,
                progress=lambda k: bar.advance(task, k),
            )  # fmt: skip
        else:
            res = build_study(real, synthetic, out, opts, outliers, progress=lambda k: bar.advance(task, k))
    leak = res.leak or {}
    for source, cols in res.exclusions.items():
        for col, c in cols.items():
            if col == "build_audit":
                console.print(
                    f"build audit ({c['method']}, {source}, at the source resolution): dropped "
                    f"{c['dropped']} {c['by_artifact'] or ''}"
                )
                continue
            console.print(
                f"--exclude {col} ({source}): {c['present']} with it, {c['unknown']} unknown, "
                f"{c['absent']} without; {c['removed']} dropped (unknown: {unknown})"
            )
    console.print(f"study written to [bold]{res.study_dir}[/bold]: {res.counts}")
    pix = leak.get("pixel", {}).get("classifier", {})
    console.print(
        f"leak check: file-level classifier accuracy {leak.get('accuracy', float('nan')):.3f} "
        f"(p={leak.get('p_value', float('nan')):.3g}), pixel-level {pix.get('accuracy', float('nan')):.3f} "
        f"(p={pix.get('p_value', float('nan')):.3g})"
    )
    if leak.get("pixel_failures"):
        console.print(
            f"[bold red]WARNING: PIXEL LEAK, study kept because --pixel-leaks warn:[/bold red] "
            f"{leak['pixel_failures']}"
        )
    if res.too_small:
        console.print(
            f"[bold yellow]WARNING: {len(res.too_small)} sources smaller than {min_source_scale:g} x "
            f"--size {size} were refused[/bold yellow] (listed in study.json)"
        )
    if res.skipped:
        console.print(f"[yellow]{len(res.skipped)} unreadable images skipped[/yellow] (listed in study.json)")
    for w in res.warnings:
        console.print(f"[bold yellow]WARNING:[/bold yellow] {w}")


@app.command()
def leakcheck(
    study: Path = typer.Argument(..., help="Study directory."),
    alpha: float = typer.Option(0.001, help="Significance level of the classifier test."),
    seed: int = typer.Option(0),
) -> None:
    """Prove that only pixels differ: hard file checks + a file-feature classifier at chance. Exit 1 if it leaks."""
    from dermsynth.survey.leakcheck import leakcheck as run

    with user_errors():
        report = run(study, alpha=alpha, seed=seed)
    typer.echo(json.dumps({k: v for k, v in report.items() if k != "features"}, indent=2))
    if not report["passed"]:
        console.print(f"[red]LEAK:[/red] {report['failures']}")
        raise typer.Exit(1)


@app.command()
def serve(
    study: Path = typer.Argument(..., help="Study directory."),
    db: str | None = typer.Option(None, help="Database URL; default: the one STUDY/database.json records."),
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    admin_password: str | None = typer.Option(
        None, envvar=PASSWORD_ENV, help=f"Admin password (or ${PASSWORD_ENV})."
    ),
    secure_cookies: bool = typer.Option(False, help="Mark cookies Secure (behind HTTPS)."),
    public_url: str | None = typer.Option(
        None,
        help="Base URL of invitation links, e.g. https://survey.example.org (required beyond localhost).",
    ),
    forwarded_allow_ips: str = typer.Option(
        "127.0.0.1", help="Proxies trusted for X-Forwarded-For/-Proto (the client address rate limits use)."
    ),
) -> None:
    """Serve the study (FastAPI + uvicorn); reader tokens never reach the access log."""
    import uvicorn

    from dermsynth.survey.app import Settings, check_public_url, create_app

    with user_errors():
        check_public_url(public_url, host)
    if not admin_password:
        admin_password = secrets.token_urlsafe(12)
        console.print(
            f"admin password for this run: [bold]{admin_password}[/bold] (set ${PASSWORD_ENV} to choose one)"
        )
    with user_errors():
        application = create_app(Settings(study, admin_password, db, None, secure_cookies, public_url))
    leak = application.state.study.root / "leakcheck.json"
    if not leak.exists() or not json.loads(leak.read_text()).get("passed"):
        console.print(f"[bold red]WARNING: the leak check of this study did not pass ({leak})[/bold red]")
    console.print(f"admin pages: {(public_url or f'http://{host}:{port}').rstrip('/')}/admin")
    uvicorn.run(
        application,
        host=host,
        port=port,
        log_level="info",
        log_config=redacted_log_config(),
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
    )


def redacted_log_config() -> dict:
    """uvicorn's logging config with :class:`~dermsynth.survey.app.RedactTokens` on every handler."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    cfg = copy.deepcopy(LOGGING_CONFIG)
    cfg.setdefault("filters", {})["redact"] = {"()": "dermsynth.survey.app.RedactTokens"}
    for handler in cfg["handlers"].values():
        handler["filters"] = [*handler.get("filters", []), "redact"]
    return cfg


@app.command()
def close(
    study: Path = typer.Argument(..., help="Study directory."),
    db: str | None = typer.Option(None, help="Database URL; default: the one STUDY/database.json records."),
) -> None:
    """Close the study: no reader can answer and no invitation can be made until it is reopened."""
    from dermsynth.survey.service import set_closed

    with user_errors():
        set_closed(study, True, db)
    console.print(f"{study}: closed")


@app.command()
def reopen(
    study: Path = typer.Argument(..., help="Study directory."),
    db: str | None = typer.Option(None, help="Database URL; default: the one STUDY/database.json records."),
) -> None:
    """Reopen a closed study."""
    from dermsynth.survey.service import set_closed

    with user_errors():
        set_closed(study, False, db)
    console.print(f"{study}: open")


@app.command()
def revoke(
    study: Path = typer.Argument(..., help="Study directory."),
    reader_ids: list[str] = typer.Argument(..., help="Reader ids as in the exports, e.g. r0003."),
    db: str | None = typer.Option(None, help="Database URL; default: the one STUDY/database.json records."),
) -> None:
    """Revoke invitations: their links (and browsers that opened them) open nothing any more."""
    from dermsynth.survey.service import revoke as run

    with user_errors():
        run(study, reader_ids, db)
    console.print(f"revoked: {', '.join(reader_ids)}")


@app.command()
def invite(
    study: Path = typer.Argument(..., help="Study directory."),
    n: int = typer.Option(1, help="Number of invitations."),
    note: str = typer.Option("", help="Private note (e.g. the group)."),
    base_url: str = typer.Option("http://127.0.0.1:8000", help="Base URL of the server."),
    db: str | None = typer.Option(None, help="Database URL; default: the one STUDY/database.json records."),
) -> None:
    """Create invitation links (printed once; only token hashes are stored)."""
    from dermsynth.survey.service import invite as run

    with user_errors():
        for reader_id, link in run(study, n, note, base_url, db):
            typer.echo(f"{reader_id}\t{link}")


@app.command()
def export(
    study: Path = typer.Argument(..., help="Study directory."),
    out: Path = typer.Option(..., help="Directory for responses.csv and stimuli.csv."),
    db: str | None = typer.Option(None, help="Database URL; default: the one STUDY/database.json records."),
) -> None:
    """Export responses.csv (latest answers), revisions.csv (every revision) and stimuli.csv."""
    from dermsynth.survey.service import export as run

    with user_errors():
        for p in run(study, out, db):
            console.print(f"wrote {p}")


@app.command()
def analyze(
    responses: Path = typer.Option(..., help="responses.csv (app export or typed in, same columns)."),
    stimuli: Path = typer.Option(..., help="stimuli.csv (image_id, source, label, origin)."),
    out: Path = typer.Option(..., help="Output directory."),
    images: Path | None = typer.Option(None, help="Study dir (or its images/) for image grids."),
    n_boot: int = typer.Option(2000, help="Cluster-bootstrap resamples."),
    seed: int = typer.Option(0),
    min_complete: float = typer.Option(
        1.0, help="Share of the stimuli a reader must have answered to count as complete."
    ),
    keep_incomplete: bool = typer.Option(
        False, help="Keep incomplete readers in the tables (kappa always uses complete readers)."
    ),
) -> None:
    """Tables 4.3/4.4 (readers.csv), Figs. 4.11-4.16, chance tests, pooled CI, Fleiss' kappa."""
    from dermsynth.survey.analyze import analyze as run

    with user_errors():
        summary = run(responses, stimuli, out, images, n_boot, seed, min_complete, keep_incomplete)
    comp = summary["completeness"]
    if comp["incomplete_readers"]:
        listed = ", ".join(
            f"{r['reader_id']} ({r['answered']}/{r['of']})" for r in comp["incomplete_readers"]
        )
        verb = "kept in the tables" if keep_incomplete else "left out"
        console.print(f"[yellow]incomplete readers, {verb}:[/yellow] {listed}")
    pooled = summary["pooled_accuracy"]["mean_of_readers_t"]
    kappa = summary["fleiss_kappa"]["synthetic"]
    console.print(
        f"{summary['readers']} readers, {summary['images']} images; pooled accuracy {_f(pooled['mean'])} "
        f"[{_f(pooled['ci_low'])}, {_f(pooled['ci_high'])}]; Fleiss kappa (synthetic) {_f(kappa['kappa'])} "
        f"({kappa['readers']} complete readers, {kappa['images']} images); written to {out}"
    )
    for where, why in summary.get("undefined", {}).items():
        console.print(f"[yellow]{where} = null:[/yellow] {why}")


def _f(v: float | None) -> str:
    """A number of ``summary.json`` (None where undefined) for the console."""
    return "n/a" if v is None else f"{v:.3f}"
