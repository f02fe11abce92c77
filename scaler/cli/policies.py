"""`scaler policies`: validate a policy repo, follow one in Git, and audit its history.

    scaler policies validate DIR                 check a bundle, as scaler would apply it
    scaler policies reconcile --source URL ...   fetch, validate and apply once, now
    scaler policies watch --source URL ...       keep reconciling every interval
    scaler policies status                       revisions, conditions, drift (or metrics)
    scaler policies suspend | resume             stop or restart following the source
    scaler policies log [--since DATE]           which commit changed which policy, how

The followed source and its status live in a state directory (`--state-dir`, default
`$SCALER_STATE_DIR` or `~/.local/state/scaler`), so `status`, `suspend` and `resume` work
from another shell while `watch` runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import re
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from scaler.cli.common import add_region, catalog_for
from scaler.errors import UserError
from scaler.gitops.credentials import Credentials, Redactor
from scaler.gitops.git import GitRef, normalize_subpath, normalize_url, open_repository
from scaler.gitops.status import READY, TRUE, SourceSpec, StateStore, default_state_dir
from scaler.output.json import render_json
from scaler.times import parse_rfc3339

DEFAULT_INTERVAL = "1m"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "policies",
        help="validate, follow (GitOps) and audit policy repositories",
        description=(
            "Validate a policy bundle; follow a Git repository of policies the way Flux "
            "does (fetch, validate the whole bundle, apply, keep the last good revision); "
            "show its status; list which commit changed which policy."
        ),
    )
    cmds = p.add_subparsers(dest="policies_command", metavar="SUBCOMMAND")
    cmds.required = True

    v = cmds.add_parser("validate", help="check every file of a policy directory")
    v.add_argument("directory", metavar="DIR", help="policy directory or file")
    v.add_argument("--output", "-o", choices=("text", "json"), default="text")
    add_region(v, "catalog region the NodePools are checked against (default us-east-1)")
    v.set_defaults(func=run_validate)

    for name, helptext, func in (
        ("reconcile", "fetch, validate and apply the source once, now", run_reconcile),
        ("watch", "reconcile the source every interval until stopped", run_watch),
    ):
        c = cmds.add_parser(name, help=helptext)
        _state_arg(c)
        _source_args(c)
        c.add_argument(
            "--snapshot",
            action="append",
            metavar="SNAP",
            help="cluster snapshot whose nodes are checked for drift (repeatable; re-read "
            "every pass)",
        )
        add_region(c, "catalog region (for drift)")
        c.add_argument("--output", "-o", choices=("table", "json"), default="table")
        if name == "watch":
            c.add_argument("--max-passes", type=int, help=argparse.SUPPRESS)
        c.set_defaults(func=func)

    s = cmds.add_parser("status", help="revisions, conditions and drift of the followed source")
    _state_arg(s)
    s.add_argument("--output", "-o", choices=("table", "json", "prometheus"), default="table")
    s.set_defaults(func=run_status)

    for name, helptext in (
        ("suspend", "stop reconciling (the applied revision stays in force)"),
        ("resume", "start reconciling again"),
    ):
        c = cmds.add_parser(name, help=helptext)
        _state_arg(c)
        c.set_defaults(func=run_suspend, suspend=name == "suspend")

    lg = cmds.add_parser("log", help="which commit changed which policy, by whom, and how")
    lg.add_argument(
        "--source",
        metavar="REPO",
        help="repository URL or path (default: the Git checkout in the current directory)",
    )
    lg.add_argument("--path", metavar="SUBDIR", help="policy directory inside the repository")
    lg.add_argument("--ref", default=None, help="branch, tag or commit (default: HEAD)")
    lg.add_argument("--since", metavar="DATE", help="only commits after DATE: an ISO date or "
                    "time (2024-05-01, 2024-05-01T10:00:00Z), 'N days ago' (seconds, minutes, "
                    "hours, days, weeks, months, years) or yesterday")
    lg.add_argument("--credentials", metavar="DIR", help="credentials directory (remote URLs)")
    lg.add_argument("--output", "-o", choices=("text", "json"), default="text")
    lg.set_defaults(func=run_log)


def _state_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="where the source's status and applied revision are kept "
        "(default: $SCALER_STATE_DIR or ~/.local/state/scaler)",
    )


def _source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", metavar="URL", help="repository URL (https://, ssh://, file://) "
                   "or path; saved in the state directory for later runs")
    ref = p.add_mutually_exclusive_group()
    ref.add_argument("--branch", help="follow this branch (default: the remote's HEAD)")
    ref.add_argument("--tag", help="stay on this tag")
    ref.add_argument("--commit", help="stay on this commit (full SHA-1)")
    p.add_argument("--path", metavar="SUBDIR", help="policy directory inside the repository")
    p.add_argument("--interval", help=f"poll interval, e.g. 30s, 5m (default {DEFAULT_INTERVAL})")
    p.add_argument("--jitter", type=float, help="the next poll comes up to this fraction of the "
                   "interval early, at random (default 0.1)")
    p.add_argument("--timeout", help="git timeout, e.g. 60s (default 2m)")
    p.add_argument("--credentials", metavar="DIR", help="directory with username/password, "
                   "bearerToken or identity files (as a mounted Flux secret)")


def _seconds(text: str, flag: str) -> float:
    from scaler.policy.common import parse_duration

    t = text.strip()
    parsed = parse_duration(t)
    if t.replace(".", "", 1).isdigit():
        value = float(t)
    elif parsed is not None:
        value = float(parsed)
    else:
        raise UserError(f"invalid duration {text!r} (expected e.g. 30s, 5m, 1h)", field=flag)
    if value <= 0:
        raise UserError(f"{text!r} must be more than zero", field=flag)
    return value


def _store(args: argparse.Namespace) -> StateStore:
    return StateStore(args.state_dir or default_state_dir())


def _spec(args: argparse.Namespace, store: StateStore) -> SourceSpec | None:
    """The spec the flags describe, on top of the stored one (flags not given keep their
    stored value while the URL stays the same); None: keep the stored spec as it is."""
    stored = store.load()
    flags = ("branch", "tag", "commit", "path", "interval", "jitter", "timeout", "credentials")
    given = [f for f in flags if getattr(args, f) is not None]
    if args.source is None:
        if stored is None:
            verb = "needs" if len(given) == 1 else "need"
            needs = f"{', '.join('--' + f for f in given)} {verb} --source: " if given else ""
            raise UserError(
                f"{needs}no policy source configured yet: pass --source URL (and --branch, "
                "--path, ...)",
                field="--source",
            )
        if not given:
            return None
        base = stored.spec
    else:
        url = normalize_url(args.source)
        if stored is not None and stored.spec.url == url:
            base = stored.spec
        else:
            base = SourceSpec(url=url, interval_seconds=_seconds(DEFAULT_INTERVAL, "--interval"))
            if stored is not None:
                base = replace(base, suspend=stored.spec.suspend)
    ref = base.ref
    if args.branch or args.tag or args.commit:
        ref = GitRef(branch=args.branch, tag=args.tag, commit=args.commit)
    if args.jitter is not None and not 0 <= args.jitter <= 1:
        raise UserError(f"jitter {args.jitter} out of range (expected 0..1)", field="--jitter")
    credentials = base.credentials_dir
    if args.credentials is not None:
        credentials = str(Path(args.credentials).resolve())
        Credentials.load(credentials)  # fail now, with the flag named, if it is missing
    return replace(
        base,
        ref=ref,
        path=normalize_subpath(args.path) if args.path is not None else base.path,
        interval_seconds=(
            _seconds(args.interval, "--interval")
            if args.interval is not None
            else base.interval_seconds
        ),
        jitter=args.jitter if args.jitter is not None else base.jitter,
        timeout_seconds=(
            _seconds(args.timeout, "--timeout")
            if args.timeout is not None
            else base.timeout_seconds
        ),
        credentials_dir=credentials,
    )


def _reconciler(args: argparse.Namespace, store: StateStore) -> Any:
    from scaler.core.scheduling.instancetypes import InstanceTypeTable
    from scaler.gitops.logs import configure_json_logging
    from scaler.gitops.reconciler import Reconciler
    from scaler.snapshot import load_snapshot

    spec = _spec(args, store)
    creds_dir = spec.credentials_dir if spec else None
    stored = store.load()
    if spec is None and stored is not None:
        creds_dir = stored.spec.credentials_dir
    configure_json_logging(sys.stderr, Redactor(Credentials.load(creds_dir).secrets()))
    nodes = None
    types = None
    if args.snapshot:
        paths = [Path(p) for p in args.snapshot]
        load_snapshot(paths)  # a broken snapshot is an error now, not at every pass

        def nodes_now() -> Any:
            return load_snapshot(paths).nodes

        nodes = nodes_now
        types = InstanceTypeTable(catalog_for(args.region).instance_types)
    rec = Reconciler(store, nodes=nodes, instance_types=types)
    if spec is not None:
        rec.configure(spec, datetime.now(UTC))
    return rec


def _print_status(store: StateStore, output: str) -> None:
    from scaler.output.policy_status import status_table

    obj = store.require()
    if output == "json":
        sys.stdout.write(render_json(obj.to_json()))
    else:
        sys.stdout.write(status_table(obj))


def _ready(store: StateStore) -> bool:
    obj = store.require()
    cond = obj.status.condition(READY)
    return cond is not None and cond.status == TRUE


def run_reconcile(args: argparse.Namespace) -> int:
    store = _store(args)
    rec = _reconciler(args, store)
    if store.require().spec.suspend:
        raise UserError(
            "the policy source is suspended; run `scaler policies resume` first",
            field="--state-dir",
        )
    now = datetime.now(UTC)
    rec.request(now)
    rec.reconcile_once(now, force=True)
    _print_status(store, args.output)
    return 0 if _ready(store) else 1


def run_watch(args: argparse.Namespace) -> int:
    from scaler.gitops.reconciler import watch

    store = _store(args)
    rec = _reconciler(args, store)
    stop = {"now": False, "passes": 0}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop["now"] = True

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}

    def should_stop() -> bool:
        if args.max_passes is not None:
            stop["passes"] = int(stop["passes"]) + 1
            if int(stop["passes"]) > args.max_passes:
                return True
        return bool(stop["now"])

    try:
        watch(rec, clock=lambda: datetime.now(UTC), sleep=time.sleep, should_stop=should_stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    logging.getLogger("scaler.gitops").info("stopped watching")
    return 0


def run_status(args: argparse.Namespace) -> int:
    store = _store(args)
    if args.output == "prometheus":
        from scaler.gitops.metrics import prometheus_text

        sys.stdout.write(prometheus_text(store.require(), store.load_counters()))
        return 0
    _print_status(store, args.output)
    return 0


def run_suspend(args: argparse.Namespace) -> int:
    from scaler.gitops.reconciler import Reconciler

    store = _store(args)
    store.require()
    obj = Reconciler(store).set_suspended(args.suspend, datetime.now(UTC))
    state = "suspended" if obj.spec.suspend else "resumed"
    applied = obj.status.last_applied_revision or "nothing applied yet"
    print(f"policy source {state}; in force: {applied}")
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from scaler.output.policy_validation import validation_document, validation_text
    from scaler.policy import load_policies
    from scaler.policy.loader import PolicyBundleError
    from scaler.simulation.provision import region_warnings

    try:
        ps = load_policies(args.directory)
    except PolicyBundleError as err:
        for e in err.errors:  # every broken file, one line each
            print(f"scaler: error: {e.render()}", file=sys.stderr)
        return 2
    # What only a region decides (a NodePool no type there satisfies stays idle, as in
    # `simulate` and `run`) is a warning: the same bundle may serve another region.
    ps = dataclasses.replace(ps, warnings=(*ps.warnings, *region_warnings(ps, args.region)))
    if args.output == "json":
        sys.stdout.write(render_json(validation_document(ps)))
    else:
        sys.stdout.write(validation_text(ps))
    return 0


def run_log(args: argparse.Namespace) -> int:
    from scaler.gitops.audit import policy_log
    from scaler.output.policy_log import log_text

    since = _since(args.since)  # before any fetch
    with tempfile.TemporaryDirectory(prefix="scaler-log-") as tmp:
        repo = open_repository(
            args.source,
            args.path,
            cache_dir=Path(tmp) / "cache",
            credentials=Credentials.load(args.credentials),
        )
        revision = repo.resolve(args.ref or _default_ref(repo))
        entries = policy_log(repo, revision, since)
    if args.output == "json":
        doc = {"revision": str(revision), "path": repo.path,
               "commits": [e.to_json() for e in entries]}
        sys.stdout.write(render_json(doc))
    else:
        sys.stdout.write(log_text(entries))
    return 0


def _default_ref(repo: Any) -> str:
    from scaler.gitops.git import GitSource

    if isinstance(repo, GitSource):
        return repo.default_branch()
    return "HEAD"


__all__: Sequence[str] = ("register",)


_AGO = re.compile(r"(\d{1,6}) +(second|minute|hour|day|week|month|year)s? +ago")


def _since(text: str | None) -> str | None:
    """`--since` in a form we can check (git reads anything, and takes nonsense as "now",
    which answers "no commits" instead of saying the date is wrong)."""
    if text is None:
        return None
    t = text.strip()
    if t.lower() == "yesterday" or _AGO.fullmatch(t.lower()):
        return t
    try:
        parse_rfc3339(t)
    except ValueError:
        raise UserError(f"not a date: {text[:40]!r} (expected e.g. 2024-05-01, "
                        "2024-05-01T10:00:00Z, '2 weeks ago' or yesterday)",
                        field="--since") from None
    return t
