"""Which strategy and settings apply to a workload: defaults, then the RightSizingPolicy that
selects it (highest priority, then name), then the command line's flags."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scaler.core.rightsizing import DEFAULT_STRATEGY, STRATEGIES, CommonSettings, Strategy
from scaler.core.rightsizing.strategies import StrategySettings
from scaler.policy.common import duration_seconds, quantity_value
from scaler.policy.rightsizing import RightSizingPolicy, snake
from scaler.rightsizing.workloads import Workload


@dataclass(frozen=True)
class Choice:
    strategy: Strategy[StrategySettings]
    common: CommonSettings
    policy: str | None  # the RightSizingPolicy that selected the workload
    mode: str  # Off | Recommend | Apply


def selects(policy: RightSizingPolicy, w: Workload) -> bool:
    sel = policy.spec.selector
    if sel.namespaces is not None and w.namespace not in sel.namespaces:
        return False
    if sel.exclude_namespaces and w.namespace in sel.exclude_namespaces:
        return False
    if sel.kinds is not None and w.kind not in sel.kinds:
        return False
    return all(w.labels.get(k) == v for k, v in (sel.match_labels or {}).items())


class Configurator:
    def __init__(
        self,
        policies: Sequence[RightSizingPolicy] = (),
        *,
        strategy: str | None = None,
        strategy_flags: Mapping[str, Any] | None = None,
        common_flags: Mapping[str, Any] | None = None,
    ) -> None:
        self._policies = sorted(policies, key=lambda p: (-p.spec.priority, p.name))
        self._strategy = strategy
        self._strategy_flags = dict(strategy_flags or {})
        self._common_flags = dict(common_flags or {})
        self._cache: dict[str | None, Choice] = {}

    def policy_for(self, w: Workload) -> RightSizingPolicy | None:
        return next((p for p in self._policies if selects(p, w)), None)

    def choice(self, w: Workload) -> Choice:
        policy = self.policy_for(w)
        key = policy.name if policy else None
        if key not in self._cache:
            self._cache[key] = self._build(policy)
        return self._cache[key]

    def default(self) -> Choice:
        """What a workload no policy selects gets."""
        if None not in self._cache:
            self._cache[None] = self._build(None)
        return self._cache[None]

    def strategies(self) -> list[Strategy[StrategySettings]]:
        """Every strategy any workload may get (to size the history window)."""
        return [self._build(p).strategy for p in (None, *self._policies)]

    def _build(self, policy: RightSizingPolicy | None) -> Choice:
        name = self._strategy or DEFAULT_STRATEGY
        settings: dict[str, Any] = {}
        common: dict[str, Any] = {}
        mode = "Recommend"
        if policy is not None:
            spec = policy.spec
            set_ = spec.model_fields_set
            if self._strategy is None and "strategy" in set_:
                name = spec.strategy
            mode = spec.mode
            cls = STRATEGIES[name]
            fields = cls.settings_model.model_fields
            for key, value in (spec.settings or {}).items():
                if snake(key) in fields:
                    settings[snake(key)] = value
            for resource, rp in (("cpu", spec.cpu), ("memory", spec.memory)):
                if rp is None:
                    continue
                for attr, alias in (
                    ("percentile", "percentile"),
                    ("headroom_percent", "headroomPercent"),
                ):
                    target = cls.policy_fields.get(f"{resource}.{alias}")
                    if target and attr in rp.model_fields_set:
                        settings[target] = getattr(rp, attr)
                if rp.min is not None:
                    common[f"{resource}_min"] = quantity_value(rp.min)
                if rp.max is not None:
                    common[f"{resource}_max"] = quantity_value(rp.max)
            if "window" in set_:
                settings["history_hours"] = duration_seconds(spec.window) / 3600
            if "limits" in set_:
                common["limits"] = spec.limits.lower()
            if "hpa" in set_:
                common["hpa"] = spec.hpa.lower()
            if "min_change_percent" in set_:
                common["min_change_percent"] = spec.min_change_percent
            if spec.min_data_points is not None:
                common["points_required"] = spec.min_data_points
            if spec.min_history is not None:
                common["min_history_hours"] = duration_seconds(spec.min_history) / 3600
        cls = STRATEGIES[name]
        for key, value in self._strategy_flags.items():
            if key in cls.settings_model.model_fields:
                settings[key] = value
        common.update(self._common_flags)
        return Choice(
            strategy=cls(cls.settings_model.model_validate(settings)),
            common=CommonSettings.model_validate(common),
            policy=policy.name if policy else None,
            mode=mode,
        )
