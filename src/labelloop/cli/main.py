"""``labelloop``: every step of the loop from the shell."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from labelloop.cli.context import engine_for, open_project
from labelloop.cli.options import SharedOptionsGroup
from labelloop.config import load_config
from labelloop.errors import InputFileError, LabelloopError
from labelloop.tiers import TIERS

if TYPE_CHECKING:
    from labelloop.settings import Settings

console = Console()


class _Group(SharedOptionsGroup):
    """The one place that turns labelloop's errors into a clean message and exit code 2; the
    root's options are accepted after any command too (:mod:`labelloop.cli.options`)."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except InputFileError as exc:
            for reject in exc.rejects[:50]:
                console.print(f"[red]reject[/] {reject}", highlight=False)
            if len(exc.rejects) > 50:
                console.print(f"... and {len(exc.rejects) - 50} more rejects")
            hint = (
                "; nothing was imported (use --skip-invalid to import the rest)"
                if ctx.invoked_subcommand == "import"
                else ""
            )
            console.print(f"[red]error:[/] {len(exc.rejects)} bad records{hint}", highlight=False)
            raise SystemExit(2) from None
        except LabelloopError as exc:
            console.print(f"[red]error:[/] {exc}", highlight=False)
            raise SystemExit(2) from None


app = typer.Typer(
    cls=_Group,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="labelloop: the model does the routine, people do the judgment.",
)
db_app = typer.Typer(cls=_Group, no_args_is_help=True, help="Manage the store.")
audit_app = typer.Typer(cls=_Group, no_args_is_help=True, help="Check the audit trail.")
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")

ProjectArg = Annotated[str, typer.Argument(help="Project name.")]


@app.callback()
def _options(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Folder for the SQLite store, models and exports \\[env: LABELLOOP_DATA_DIR]."
        ),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(help="SQLAlchemy URL of the store \\[env: LABELLOOP_DATABASE_URL]."),
    ] = None,
) -> None:
    """Global options: they may also follow the command (``labelloop status NAME --db URL``)."""
    from labelloop.settings import Settings

    overrides: dict[str, Any] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if db is not None:
        overrides["database_url"] = db
    ctx.obj = Settings(**overrides)


@app.command()
def init(
    ctx: typer.Context,
    config: Annotated[Path, typer.Argument(help="Project config (.toml, .yaml or .json).")],
    actor: Annotated[str, typer.Option(help="Who creates it.")] = "admin",
) -> None:
    """Create a project from a config file."""
    from labelloop.loop.project import Project

    cfg = load_config(config)
    project = Project.create(cfg, engine=engine_for(ctx), settings=ctx.obj, actor=actor)
    console.print(
        f"created project [bold]{project.name}[/] ({len(cfg.labels)} labels, "
        f"target accuracy {cfg.routing.target_accuracy:.1%} at "
        f"{cfg.routing.confidence:.0%} confidence)"
    )


@app.command("import")
def import_(
    ctx: typer.Context,
    project: ProjectArg,
    file: Annotated[Path, typer.Argument(help="JSONL, CSV or Parquet file of items.")],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="jsonl, csv or parquet (default: from the suffix)."),
    ] = None,
    skip_invalid: Annotated[
        bool, typer.Option(help="Import the valid records and write the rejects.")
    ] = False,
    rejects: Annotated[Path | None, typer.Option(help="Where to write rejects.")] = None,
    gold: Annotated[
        bool,
        typer.Option(help="Gold questions: each record carries its answer (and a gold_note)."),
    ] = False,
) -> None:
    """Import items (or gold questions); a bad file imports nothing unless --skip-invalid."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    proj = open_project(ctx, project)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,.0f} records"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(f"importing {file.name}", total=None)
        report = proj.import_file(
            file,
            fmt=fmt,
            skip_invalid=skip_invalid,
            rejects_path=rejects,
            progress=lambda n: bar.update(task, completed=n),
            gold=gold,
        )
    if gold:
        console.print(f"added {report.added:,} gold questions ({report.unchanged:,} already there)")
        return
    console.print(
        f"added {report.added:,} items ({report.unchanged:,} already there, "
        f"{report.with_labels:,} with labels); holdout +{report.holdout_added}"
    )
    if report.rejected:
        console.print(f"[yellow]{report.rejected:,} rejects[/] written to {report.rejects_path}")


@app.command()
def train(ctx: typer.Context, project: ProjectArg) -> None:
    """Train a model version now; promote it only if the holdout says it is not worse."""
    proj = open_project(ctx, project, retrain="off")
    info = proj.train(actor="cli")
    if info is None:
        console.print(
            "not enough labels to train yet "
            f"(need {proj.config.retrain.min_labels} and two classes)"
        )
        return
    verdict = "[green]promoted[/]" if info.promoted else "[yellow]kept the previous model[/]"
    console.print(f"model v{info.version}: {verdict} {json.dumps(info.metrics)}")


@app.command()
def route(ctx: typer.Context, project: ProjectArg) -> None:
    """Plan, start or decide an auto-accept round."""
    outcome = open_project(ctx, project).route()
    console.print(f"{outcome.action}: {outcome.reason}")
    if outcome.plan is not None and outcome.plan.n_candidates:
        p = outcome.plan
        console.print(
            f"plan: auto-accept {p.n_candidates:,} items with confidence >= "
            f"{p.threshold:.4f} after auditing {p.sample_size:,}; "
            f"expected errors {p.expected_errors:.1f}, allowed {p.allowed_errors}"
        )


@app.command()
def queue(
    ctx: typer.Context,
    project: ProjectArg,
    n: Annotated[int, typer.Option("-n", help="How many.")] = 10,
    tier: Annotated[str, typer.Option(help=f"One of {', '.join(TIERS)}.")] = "annotator",
) -> None:
    """Show the next items waiting for people, most valuable first."""
    from labelloop.loop.queue import peek

    table = Table("item", "key", "kind", "priority")
    for row in peek(open_project(ctx, project).context, n, tier=tier):
        table.add_row(str(row["item_id"]), row["key"], row["kind"], f"{row['priority']:.4g}")
    console.print(table)


@app.command()
def label(
    ctx: typer.Context,
    project: ProjectArg,
    key: Annotated[str, typer.Argument(help="Item key, e.g. id:123.")],
    labels: Annotated[list[str], typer.Argument(help="The label (several: multi-label).")],
    annotator: Annotated[str, typer.Option(help="Who labels.")] = "cli",
) -> None:
    """Record a human label for one item."""
    from labelloop.kinds import kind_for

    proj = open_project(ctx, project, retrain="sync")
    item_id = _item_id(proj, key)
    answer = kind_for(proj.config).read(labels if len(labels) > 1 else labels[0])
    result = proj.annotate(item_id, answer, annotator=annotator)
    console.print(f"annotation {result.annotation_id} stored for {key}")


@app.command()
def answers(
    ctx: typer.Context,
    project: ProjectArg,
    file: Annotated[Path, typer.Argument(help="CSV of item key, annotator, label.")],
    item_col: str = "item",
    annotator_col: str = "annotator",
    label_col: str = "label",
) -> None:
    """Record many human labels from a long file (item, annotator, label)."""
    from labelloop.kinds import kind_for
    from labelloop.simulation.annotators import CrowdReplay

    proj = open_project(ctx, project, retrain="sync")
    kind = kind_for(proj.config)
    crowd = CrowdReplay.from_file(
        file, item_col=item_col, annotator_col=annotator_col, label_col=label_col
    )
    stored = 0
    for item, votes in crowd.answers.items():
        item_id = _item_id(proj, item if ":" in item else f"id:{item}")
        for who, value in votes:
            proj.annotate(
                item_id,
                kind.read(value),
                annotator=who,
                client_key=f"{file.name}:{item}:{who}",
            )
            stored += 1
    console.print(f"stored {stored:,} answers")


def _item_id(proj: Any, key: str) -> int:
    from labelloop.errors import NotFoundError
    from labelloop.store.lookups import item_id_by_key

    with proj.engine.connect() as conn:
        found = item_id_by_key(conn, proj.id, key)
    if found is None:
        raise NotFoundError(f"no item with key {key!r} in project {proj.name!r}")
    return found


@app.command()
def status(
    ctx: typer.Context,
    project: ProjectArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Items by state, the queue per tier, models and auto-accept rounds."""
    info = open_project(ctx, project).status()
    if as_json:
        print(json.dumps(info, indent=2, default=str))
        return
    console.print(f"[bold]{info['project']}[/]: {info['items']:,} items {info['by_status']}")
    console.print(
        f"queue per tier: {info['queue']}; holdout {info['holdout']['labelled']}/"
        f"{info['holdout']['size']} labelled; label sources {info['label_sources']}"
    )
    models = Table("version", "status", "labels", "holdout accuracy", "lower bound")
    for m in info["models"]:
        models.add_row(
            str(m["version"]),
            m["status"],
            str(m["n_labels"]),
            f"{m.get('accuracy', float('nan')):.4f}",
            f"{m.get('accuracy_low', float('nan')):.4f}",
        )
    console.print(models)
    for r in info["rounds"]:
        console.print(
            f"round {r['id']} (attempt {r['attempt']}): {r['status']}, "
            f"{r['candidates']:,} candidates, audit {r['sample_size']}, "
            f"errors {r['sample_errors']}, bound {r['error_bound']} of "
            f"{r['allowed_errors']} allowed"
        )


@app.command()
def export(
    ctx: typer.Context,
    project: ProjectArg,
    out: Annotated[Path, typer.Argument(help="File (or folder for hf) to write.")],
    fmt: Annotated[str, typer.Option("--format", help="jsonl, csv, parquet or hf.")] = "jsonl",
) -> None:
    """Export decided items as a content-hashed dataset version."""
    version = open_project(ctx, project).export(out, fmt=fmt, actor="cli")
    console.print(
        f"dataset version {version.id}: {version.n_items:,} items, "
        f"sha256 {version.content_hash[:16]}…, written to {out}"
    )
    if not version.provenance["certified"]:
        console.print(
            "[yellow]UNCERTIFIED[/]: the quality gates have not passed for this version "
            f"(see `labelloop certify {project}`); its provenance says certified: false"
        )


@app.command()
def certify(ctx: typer.Context, project: ProjectArg) -> None:
    """Check the quality gates and certify the dataset as it stands if they all pass."""
    from labelloop.errors import ConflictError

    proj = open_project(ctx, project)
    accuracy = proj.estimated_accuracy()
    table = Table("gate", "passed", "value", "threshold", "detail")
    for gate in proj.check_gates(accuracy=accuracy):
        mark = "[green]yes[/]" if gate.passed else "[red]no[/]"
        value = "" if gate.value is None else f"{gate.value:.4g}"
        threshold = "" if gate.threshold is None else f"{gate.threshold:.4g}"
        table.add_row(gate.name, mark, value, threshold, gate.detail)
    console.print(table)
    if accuracy["estimate"] is not None:
        console.print(
            f"estimated dataset accuracy {accuracy['estimate']:.4f} "
            f"[{accuracy['low']:.4f}, {accuracy['high']:.4f}] over {accuracy['n_items']:,} items"
        )
    for note in accuracy["notes"]:
        console.print(f"[yellow]note[/]: {note}")
    try:
        done = proj.certify(actor="cli")
    except ConflictError as exc:
        console.print(f"[red]not certified[/]: {exc}")
        raise typer.Exit(1) from None
    console.print(
        f"[green]certified[/] dataset version {done['version_id']} "
        f"(sha256 {done['content_hash'][:16]}…)"
    )


@app.command()
def annotators(
    ctx: typer.Context,
    project: ProjectArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Per annotator: answers, gold accuracy with its interval, Dawid-Skene accuracy, flags."""
    report = open_project(ctx, project).annotator_report()
    if as_json:
        print(json.dumps(report, indent=2, default=str))
        return
    table = Table("annotator", "answers", "gold", "gold accuracy", "DS accuracy", "flag")
    for row in report:
        gold = (
            f"{row['gold_accuracy']:.3f} [{row['gold_low']:.3f}, {row['gold_high']:.3f}]"
            if row["gold_answers"]
            else ""
        )
        ds = (
            ""
            if row["ds_accuracy"] is None
            else f"{row['ds_accuracy']:.3f} [{row['ds_low']:.3f}, {row['ds_high']:.3f}]"
        )
        table.add_row(
            row["annotator"],
            str(row["answers"]),
            str(row["gold_answers"]),
            gold,
            ds,
            row["flag_reason"] or "",
        )
    console.print(table)


@app.command()
def guidelines(
    ctx: typer.Context,
    project: ProjectArg,
    file: Annotated[Path | None, typer.Option(help="New guideline text (markdown).")] = None,
    author: str = "admin",
) -> None:
    """Show the guidelines, or store a new version from --file."""
    proj = open_project(ctx, project)
    if file is None:
        console.print(f"[bold]version {proj.guideline_version()}[/]\n{proj.guidelines()}")
        return
    version = proj.update_guidelines(file.read_text(encoding="utf-8"), author=author)
    console.print(f"guidelines version {version} stored")


@app.command()
def strategies() -> None:
    """List the query strategies."""
    from labelloop.learn.strategies import STRATEGIES

    for name, cls in sorted(STRATEGIES.items()):
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        console.print(f"[bold]{name}[/]  {doc}")


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply migrations to the store."""
    from labelloop.store.engine import current_revision

    engine = engine_for(ctx)
    console.print(f"store at revision {current_revision(engine)}")


def _anchor(head: str | None, count: int | None, file: Path | None) -> Any:
    """The anchor the options give, or None."""
    from labelloop.store.events import Anchor

    if file is not None:
        if head is not None or count is not None:
            raise LabelloopError("give --anchor or --expect-head/--expect-count, not both")
        from labelloop.loop.exporting import read_anchor

        return read_anchor(file)
    if head is None and count is None:
        return None
    if head is None or count is None:
        raise LabelloopError("--expect-head and --expect-count go together")
    if len(head) != 64 or any(c not in "0123456789abcdef" for c in head):
        raise LabelloopError(f"--expect-head must be 64 lowercase hex digits, got {head!r}")
    return Anchor(count, head)


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    expect_head: Annotated[
        str | None, typer.Option(help="Head hash of an earlier verify or export (an anchor).")
    ] = None,
    expect_count: Annotated[
        int | None, typer.Option(min=0, help="Number of events that head hash was taken at.")
    ] = None,
    anchor: Annotated[
        Path | None,
        typer.Option(help="An export, or its provenance file, whose audit anchor to check."),
    ] = None,
) -> None:
    """Check the event log's keyed hash chain, and against an anchor kept outside the database
    that no newest events were deleted; print the head to keep as the next anchor. Exit 1 if
    anything was edited, deleted or rewritten."""
    from labelloop.store.events import verify_chain

    expected = _anchor(expect_head, expect_count, anchor)
    with engine_for(ctx).connect() as conn:
        report = verify_chain(conn, anchor=expected)
    key = f"audit key {report.key_id}" if report.key_id else "no audit key"
    if not report.ok:
        for b in report.breaks[:20]:
            where = f"event {b.event_id}" if b.event_id is not None else "missing events"
            console.print(f"[red]{where}[/]: {b.reason}", highlight=False)
        console.print(
            f"[red]audit log broken[/]: {len(report.breaks):,} problems in {report.events:,} "
            f"events ({key})",
            highlight=False,
        )
        raise typer.Exit(1)
    checked = f"; the anchor (count {expected.events:,}) matches" if expected else ""
    console.print(
        f"[green]audit log intact[/]: {report.events:,} events verified ({key}){checked}\n"
        f"head {report.head}  count {report.events}  "
        "(keep both outside the database: --expect-head/--expect-count)",
        highlight=False,
    )


user_app = typer.Typer(cls=_Group, no_args_is_help=True, help="Manage user accounts.")
token_app = typer.Typer(cls=_Group, no_args_is_help=True, help="Manage API tokens.")
member_app = typer.Typer(
    cls=_Group, no_args_is_help=True, help="Who is on each project: tiers and skills."
)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(member_app, name="member")


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the HTTP API (/api/v1) with uvicorn; several workers share one store and, through
    PROMETHEUS_MULTIPROC_DIR (default: DATA_DIR/metrics), their metrics."""
    import os

    import uvicorn

    from labelloop.server.logs import configure_logging

    settings: Settings = ctx.obj
    os.environ["LABELLOOP_DATA_DIR"] = str(settings.data_dir.resolve())
    if settings.database_url:
        os.environ["LABELLOOP_DATABASE_URL"] = settings.database_url
    if workers > 1:  # before any worker imports prometheus-client
        default = str(settings.data_dir.resolve() / "metrics")
        folder = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", default))
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):  # a previous run's counts
            stale.unlink()
    engine_for(ctx).dispose()  # migrate once, before the workers start
    configure_logging(settings)
    console.print(f"labelloop API on http://{host}:{port}/api/v1 (docs: /api/v1/docs)")
    uvicorn.run(
        "labelloop.server.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,  # the app logs each request itself
        log_config=None,
        log_level=settings.log_level.lower(),
        proxy_headers=False,  # the app trusts only LABELLOOP_TRUSTED_PROXIES (server/app.py)
    )


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option(help="annotator, reviewer, expert or admin.")],
    password: Annotated[
        str | None, typer.Option(help="Password (prompted for, hidden, when left out).")
    ] = None,
) -> None:
    """Create a user."""
    from labelloop.accounts.users import create_user

    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    user = create_user(engine_for(ctx), username, password, role, actor="cli")
    console.print(f"user [bold]{user.username}[/] created ({user.role})")


@user_app.command("list")
def user_list(
    ctx: typer.Context,
    all_users: Annotated[bool, typer.Option("--all", help="Deactivated users too.")] = False,
) -> None:
    """List the active users (all with --all)."""
    from labelloop.accounts.users import list_users

    for user in list_users(engine_for(ctx), include_inactive=all_users):
        state = "" if user.active else "\tdeactivated"
        console.print(f"{user.username}\t{user.role}{state}", highlight=False)


UsernameArg = Annotated[str, typer.Argument(help="Login name.")]


def _ended(ended: Any) -> None:
    console.print(
        f"{ended.username}: {ended.sessions} sessions ended, {ended.tokens} API tokens revoked"
    )


@user_app.command("deactivate")
def user_deactivate(ctx: typer.Context, username: UsernameArg) -> None:
    """Deactivate a user: no more logins; every session and API token of theirs ends."""
    from labelloop.accounts.credentials import set_active

    ended = set_active(engine_for(ctx), username, False, actor="cli")
    if ended is None:
        console.print(f"{username} was deactivated already")
    else:
        _ended(ended)


@user_app.command("activate")
def user_activate(ctx: typer.Context, username: UsernameArg) -> None:
    """Let a deactivated user log in again."""
    from labelloop.accounts.credentials import set_active

    set_active(engine_for(ctx), username, True, actor="cli")
    console.print(f"{username} is active")


@user_app.command("password")
def user_password(
    ctx: typer.Context,
    username: UsernameArg,
    password: Annotated[
        str | None, typer.Option(help="New password (prompted for, hidden, when left out).")
    ] = None,
) -> None:
    """Reset a user's password; every session and API token of theirs ends."""
    from labelloop.accounts.credentials import set_password
    from labelloop.accounts.users import hash_password

    if password is None:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    new_hash = hash_password(password)
    _ended(set_password(engine_for(ctx), username, new_hash, actor="cli", reason="reset"))


@user_app.command("logout")
def user_logout(ctx: typer.Context, username: UsernameArg) -> None:
    """Log a user out everywhere: every session and API token of theirs ends."""
    from labelloop.accounts.credentials import log_out_everywhere

    _ended(log_out_everywhere(engine_for(ctx), username, actor="cli"))


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Whose token.")],
    name: Annotated[str, typer.Option(help="What the token is for.")],
    days: Annotated[
        int | None,
        typer.Option(min=1, max=3650, help="Lifetime [default: LABELLOOP_TOKEN_DAYS]."),
    ] = None,
) -> None:
    """Create an API token; it is printed once and never stored."""
    from labelloop.accounts.users import create_token, list_users
    from labelloop.errors import NotFoundError

    engine = engine_for(ctx)
    user = next((u for u in list_users(engine) if u.username == username), None)
    if user is None:
        raise NotFoundError(f"no user called {username!r}")
    settings: Settings = ctx.obj
    print(
        create_token(
            engine,
            user,
            name,
            days=days or settings.token_days,
            max_tokens=settings.max_tokens_per_user,
            actor="cli",
        )
    )


@token_app.command("list")
def token_list(
    ctx: typer.Context,
    username: Annotated[str | None, typer.Argument(help="Whose tokens (default: all).")] = None,
) -> None:
    """List API tokens (never the tokens themselves): id, owner, name, dates."""
    from labelloop.accounts.users import list_tokens

    table = Table("id", "user", "name", "created", "expires", "last used")
    for info in list_tokens(engine_for(ctx), username=username):
        expires = f"{info.expires_at:%Y-%m-%d %H:%M}" + (" (expired)" if info.expired else "")
        used = f"{info.last_used_at:%Y-%m-%d %H:%M}" if info.last_used_at else ""
        created = f"{info.created_at:%Y-%m-%d %H:%M}"
        table.add_row(str(info.id), info.username, info.name, created, expires, used)
    console.print(table)


@token_app.command("revoke")
def token_revoke(
    ctx: typer.Context,
    token_id: Annotated[int, typer.Argument(help="The token's id (see token list).")],
) -> None:
    """Revoke an API token: it stops working at once."""
    from labelloop.accounts.users import revoke_token

    info = revoke_token(engine_for(ctx), token_id=token_id, actor="cli")
    console.print(f"revoked token {info.id} ({info.name!r}) of {info.username}", highlight=False)


@member_app.command("set")
def member_set(
    ctx: typer.Context,
    project: ProjectArg,
    username: Annotated[str, typer.Argument(help="Whose membership.")],
    tier: Annotated[
        str | None, typer.Option(help="Highest tier on this project (default: the role's).")
    ] = None,
    skill: Annotated[
        list[str] | None, typer.Option(help="A skill that skill rules ask for (repeatable).")
    ] = None,
) -> None:
    """Add a user to a project or set their tier and skills there (and clear a low-accuracy
    flag); only admins and members see a project."""
    from labelloop.accounts.memberships import set_membership

    opened = open_project(ctx, project)
    member = set_membership(
        opened.engine,
        project_id=opened.id,
        username=username,
        tier=tier,
        skills=skill or (),
        actor="cli",
    )
    skills = ", ".join(member.skills) or "none"
    console.print(f"{member.username} on {project}: tier {member.tier}, skills {skills}")


@member_app.command("remove")
def member_remove(
    ctx: typer.Context,
    project: ProjectArg,
    username: Annotated[str, typer.Argument(help="Who leaves the project.")],
) -> None:
    """Take a user off a project: they no longer see it, and their leases go back."""
    open_project(ctx, project).remove_member(username, actor="cli")
    console.print(f"{username} removed from {project}")


@member_app.command("list")
def member_list(ctx: typer.Context, project: ProjectArg) -> None:
    """List a project's memberships, flagged people first."""
    from labelloop.accounts.memberships import list_memberships

    opened = open_project(ctx, project)
    table = Table("user", "role", "tier", "skills", "flagged")
    members = list_memberships(opened.engine, project_id=opened.id)
    for m in sorted(members, key=lambda m: m.flagged_at is None):
        flagged = f"{m.flagged_at:%Y-%m-%d %H:%M} {m.flag_reason}" if m.flagged_at else ""
        table.add_row(m.username, m.role, m.tier, ", ".join(m.skills), flagged)
    console.print(table)


from labelloop.cli.aggregate import aggregate  # noqa: E402
from labelloop.cli.demo import demo  # noqa: E402
from labelloop.cli.find_errors import find_errors  # noqa: E402
from labelloop.cli.jobs import jobs  # noqa: E402
from labelloop.cli.quality import quality  # noqa: E402
from labelloop.cli.simulate import simulate  # noqa: E402

app.command()(simulate)
app.command()(demo)
app.command("find-errors")(find_errors)
app.command()(aggregate)
app.command()(quality)
app.command()(jobs)
