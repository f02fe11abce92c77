"""Right-sizing maths: container usage history in, request and limit recommendations out.

No I/O: the metrics port and the manifests reader feed `ContainerHistory` values; strategies
(`percentile` KRR-style, `vpa` VPA-recommender-style, `scaler` the default) propose, and
`recommend` applies what every strategy shares (data requirements, minimums, maximums,
rounding, limits, HPA, the minimum change worth a restart, the risk flag).
"""

from scaler.core.rightsizing.model import (
    ContainerHistory,
    CurrentResources,
    HpaTarget,
    OomEvent,
    Proposal,
    Recommendation,
)
from scaler.core.rightsizing.recommend import CommonSettings, recommend
from scaler.core.rightsizing.strategies import (
    DEFAULT_STRATEGY,
    STRATEGIES,
    Strategy,
    make_strategy,
)

__all__ = [
    "DEFAULT_STRATEGY",
    "STRATEGIES",
    "CommonSettings",
    "ContainerHistory",
    "CurrentResources",
    "HpaTarget",
    "OomEvent",
    "Proposal",
    "Recommendation",
    "Strategy",
    "make_strategy",
    "recommend",
]
