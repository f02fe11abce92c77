"""`scaler plan`: the cost of a policy change on a cluster snapshot, before it is merged.

    scaler plan --from main --to HEAD --path policies --snapshot snapshot.yaml
    scaler plan ... --output markdown          # a pull-request comment
    scaler plan ... --fail-if-increase-above 10%   # exit 1 when it costs more than that
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from scaler.cli.common import add_catalog_flags, split_zones
from scaler.core.money import money
from scaler.output.json import render_json

EXIT_ABOVE_THRESHOLD = 1


def register(sub: Any) -> None:
    p = sub.add_parser(
        "plan",
        help="predict what a policy change between two Git revisions does to cost",
        description=(
            "Load the policies at two revisions of a Git repository, run the provisioning "
            "simulation for each on the same cluster snapshot, and compare: nodes and cost "
            "per hour and month, pods that become unschedulable, nodes that become drifted."
        ),
    )
    p.add_argument(
        "--source",
        metavar="REPO",
        help="repository URL or path (default: the Git checkout in the current directory)",
    )
    p.add_argument("--path", metavar="SUBDIR", help="policy directory inside the repository")
    p.add_argument("--from", dest="from_rev", required=True, metavar="REV",
                   help="the revision in force (a branch, tag, commit or HEAD~1)")
    p.add_argument("--to", dest="to_rev", required=True, metavar="REV",
                   help="the proposed revision")
    p.add_argument("--snapshot", action="append", required=True, metavar="SNAP",
                   help="cluster snapshot file or directory (kubectl get -o yaml); repeatable")
    add_catalog_flags(p)
    p.add_argument("--output", "-o", choices=("table", "markdown", "json"), default="table")
    p.add_argument(
        "--fail-if-increase-above",
        metavar="USD_PER_HOUR|PERCENT",
        help="exit 1 when the cost per hour rises by more than this (0.50 or 10%%)",
    )
    p.add_argument("--credentials", metavar="DIR", help="credentials directory (remote URLs)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scaler.gitops.credentials import Credentials
    from scaler.gitops.git import open_repository
    from scaler.gitops.preview import Threshold, preview
    from scaler.output.cost_preview import preview_markdown, preview_table

    threshold = (
        Threshold.parse(args.fail_if_increase_above) if args.fail_if_increase_above else None
    )
    zones = split_zones(args.zones)
    with tempfile.TemporaryDirectory(prefix="scaler-plan-") as tmp:
        repo = open_repository(
            args.source,
            args.path,
            cache_dir=Path(tmp) / "cache",
            credentials=Credentials.load(args.credentials),
        )
        result = preview(repo, args.from_rev, args.to_rev, args.snapshot, args.region, zones)
    if args.output == "json":
        sys.stdout.write(render_json(result.to_json()))
    elif args.output == "markdown":
        sys.stdout.write(preview_markdown(result, threshold))
    else:
        sys.stdout.write(preview_table(result, threshold))
    if threshold is not None and threshold.exceeded_by(result):
        print(
            f"scaler: cost increase of {money(result.delta_per_hour, 4)}/h is above the limit of "
            f"{threshold} (--fail-if-increase-above)",
            file=sys.stderr,
        )
        return EXIT_ABOVE_THRESHOLD
    return 0
