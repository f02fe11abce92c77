"""EC2 instance-type catalog: Karpenter's view of each type, with per-zone prices.

This package stands alone: `scaler` imports it, never the other way round. The data and its
sources are described in `pricing/data/SOURCES.md`.
"""

from pricing.catalog import DEFAULT_REGION, known_regions, load_catalog
from pricing.model import (
    CAPACITY_TYPES,
    ON_DEMAND,
    SPOT,
    Catalog,
    CatalogError,
    InstanceType,
    Offering,
)

__all__ = [
    "CAPACITY_TYPES",
    "DEFAULT_REGION",
    "ON_DEMAND",
    "SPOT",
    "Catalog",
    "CatalogError",
    "InstanceType",
    "Offering",
    "known_regions",
    "load_catalog",
]
