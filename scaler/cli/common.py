"""What several commands share: the catalog's flags (`--region`, `--zones`), the zone list
split from its flag, and the catalog built from them with a bad region or zone reported
against its flag."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pricing.catalog import DEFAULT_REGION
from scaler.errors import UserError

if TYPE_CHECKING:
    from pricing import Catalog

ZONES_HELP = "zones to offer (default: <region>a,b,c)"


def add_region(p: argparse.ArgumentParser, help: str = "AWS region for the catalog") -> None:
    p.add_argument("--region", default=DEFAULT_REGION, help=help)


def add_zones(p: argparse.ArgumentParser, help: str = ZONES_HELP) -> None:
    p.add_argument("--zones", metavar="A,B,C", help=help)


def add_catalog_flags(p: argparse.ArgumentParser, region_help: str = "AWS region for the "
                      "catalog") -> None:
    """`--region` and `--zones`, for a command that builds a catalog."""
    add_region(p, region_help)
    add_zones(p)


def split_zones(text: str | None) -> list[str] | None:
    """`--zones a,b` as a list; None when the flag is absent (the region's default zones)."""
    return [z.strip() for z in text.split(",") if z.strip()] if text else None


def catalog_for(region: str, zones: Sequence[str] | None = None) -> Catalog:
    """The bundled catalog for the region and zones; a region or zone it cannot serve is a
    UserError on `--region` or `--zones`."""
    from pricing import CatalogError, load_catalog

    try:
        return load_catalog(region, zones)
    except CatalogError as err:
        raise UserError(str(err), field=f"--{err.param}") from None
