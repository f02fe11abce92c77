"""`scaler run` settings: a YAML config file (camelCase keys, unknown keys refused) with
command-line flags on top. Durations are seconds."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from scaler.errors import UserError


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class GitSettings(_Model):
    url: str
    branch: str | None = None
    tag: str | None = None
    path: str = "."
    interval: float = Field(60.0, gt=0)
    state_dir: str = Field(".scaler/policy-state", alias="stateDir")
    credentials_dir: str | None = Field(None, alias="credentialsDir")


class AwsSettings(_Model):
    region: str = "us-east-1"
    cluster_name: str = Field("", alias="clusterName")
    endpoint_url: str | None = Field(None, alias="endpointUrl")
    endpoint_urls: dict[str, str] = Field(default_factory=dict, alias="endpointUrls")
    interruption_queue: str | None = Field(None, alias="interruptionQueue")
    zones: list[str] | None = None


class LeaderElectionSettings(_Model):
    enabled: bool = True
    name: str = "scaler"
    namespace: str = "kube-system"
    identity: str = ""  # default: the pod's hostname plus a random suffix
    lease_duration: float = Field(15.0, alias="leaseDuration", gt=0)
    renew_deadline: float = Field(10.0, alias="renewDeadline", gt=0)
    retry_period: float = Field(2.0, alias="retryPeriod", gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> LeaderElectionSettings:
        if not self.lease_duration > self.renew_deadline > self.retry_period:
            raise ValueError("need leaseDuration > renewDeadline > retryPeriod")
        return self


class BatchSettings(_Model):
    idle: float = Field(1.0, gt=0)
    max: float = Field(10.0, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> BatchSettings:
        if self.max < self.idle:
            raise ValueError("max must be at least idle")
        return self


class IntervalSettings(_Model):
    provisioning_tick: float = Field(0.2, alias="provisioningTick", gt=0)
    lifecycle: float = Field(2.0, gt=0)
    disruption: float = Field(10.0, gt=0)
    garbage_collection: float = Field(60.0, alias="garbageCollection", gt=0)
    policy_sync: float = Field(60.0, alias="policySync", gt=0)
    price_refresh: float = Field(3600.0, alias="priceRefresh", gt=0)
    cost_accrual: float = Field(60.0, alias="costAccrual", gt=0)


class DisruptionSettings(_Model):
    empty_after: float = Field(30.0, alias="emptyAfter", ge=0)
    drain_timeout: float = Field(60.0, alias="drainTimeout", gt=0)
    registration_ttl: float = Field(900.0, alias="registrationTTL", gt=0)


class WatchConfig(_Model):
    page_size: int = Field(500, alias="pageSize", gt=0)
    timeout: float = Field(300.0, gt=0)
    read_timeout: float = Field(90.0, alias="readTimeout", gt=0)
    relist: float = Field(1800.0, gt=0)


class RunSettings(_Model):
    kubeconfig: str | None = None
    context: str | None = None
    dry_run: bool = Field(False, alias="dryRun")
    simulate: bool = False
    snapshots: list[str] = Field(default_factory=list)  # --simulate: the cluster to start from
    run_for: float | None = Field(None, alias="runFor", gt=0)  # stop after this long
    cloud: Literal["aws", "simulated"] = "aws"
    policies: str | None = None  # a local path; or `git`
    git: GitSettings | None = None
    aws: AwsSettings = Field(default_factory=lambda: AwsSettings.model_validate({}))
    leader_election: LeaderElectionSettings = Field(
        default_factory=lambda: LeaderElectionSettings.model_validate({}), alias="leaderElection")
    batch: BatchSettings = Field(default_factory=lambda: BatchSettings.model_validate({}))
    intervals: IntervalSettings = Field(default_factory=lambda: IntervalSettings.model_validate({}))
    disruption: DisruptionSettings = Field(
        default_factory=lambda: DisruptionSettings.model_validate({}))
    watch: WatchConfig = Field(default_factory=lambda: WatchConfig.model_validate({}))

    @model_validator(mode="after")
    def _consistent(self) -> RunSettings:
        if self.policies and self.git:
            raise ValueError("give policies or git, not both")
        if self.simulate and not self.snapshots:
            raise ValueError("simulate needs snapshots (a cluster snapshot to start from)")
        return self


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def load_settings(path: str | None, overrides: dict[str, Any]) -> RunSettings:
    """The config file (if any) with `overrides` (from flags, camelCase keys) on top."""
    doc: dict[str, Any] = {}
    if path:
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as e:
            raise UserError(f"cannot read the config file: {e.strerror}", file=path) from None
        except yaml.YAMLError as e:
            raise UserError(f"invalid YAML: {e}".replace("\n", " "), file=path) from None
        if raw is not None and not isinstance(raw, dict):
            raise UserError("expected a mapping of settings", file=path)
        doc = raw or {}
    try:
        return RunSettings.model_validate(_merge(doc, overrides))
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or None
        raise UserError(err["msg"], file=path or "flags", field=field) from None
