"""`scaler run` settings: a YAML config file (camelCase keys, unknown keys refused), then the
`SCALER_*` environment variables the Helm chart sets (helm/README.md: the settings
contract), then command-line flags. Durations are seconds or Go-style strings ("1s", "1m30s",
"500ms"), as the chart's values write them."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from scaler.errors import UserError
from scaler.kube_yaml import load_one

_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def parse_duration(value: object) -> object:
    """ "1m30s" -> 90.0; numbers (and numeric strings) are seconds."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"invalid duration {value!r} (expected e.g. 500ms, 10s, 1m30s, 1h)")
    return sum(float(n) * _UNIT[u] for n, u in parts)


Seconds = Annotated[float, BeforeValidator(parse_duration)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True,
                              allow_inf_nan=False)


class GitSettings(_Model):
    url: str
    branch: str | None = None
    tag: str | None = None
    path: str = "."
    interval: Seconds = Field(60.0, gt=0)
    state_dir: str = Field(".scaler/policy-state", alias="stateDir")
    credentials_dir: str | None = Field(None, alias="credentialsDir")


class AwsSettings(_Model):
    region: str = "us-east-1"
    cluster_name: str = Field("", alias="clusterName")
    endpoint_url: str | None = Field(None, alias="endpointUrl")
    endpoint_urls: dict[str, str] = Field(default_factory=dict, alias="endpointUrls")
    interruption_queue: str | None = Field(None, alias="interruptionQueue")
    zones: list[str] | None = None
    kubernetes_version: str | None = Field(None, alias="kubernetesVersion")
    # How long an offering that ran out of capacity (or whose instance stopped under its
    # node) stays out of the choices: Karpenter's three minutes.
    unavailable_offerings_ttl: Seconds = Field(180.0, alias="unavailableOfferingsTTL", gt=0)


class LeaderElectionSettings(_Model):
    enabled: bool = True
    name: str = "scaler"
    namespace: str = "kube-system"
    identity: str = ""  # default: the pod's hostname plus a random suffix
    lease_duration: Seconds = Field(15.0, alias="leaseDuration", gt=0)
    renew_deadline: Seconds = Field(10.0, alias="renewDeadline", gt=0)
    retry_period: Seconds = Field(2.0, alias="retryPeriod", gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> LeaderElectionSettings:
        if not self.lease_duration > self.renew_deadline > self.retry_period:
            raise ValueError("need leaseDuration > renewDeadline > retryPeriod")
        return self


class BatchSettings(_Model):
    idle: Seconds = Field(1.0, gt=0)
    max: Seconds = Field(10.0, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> BatchSettings:
        if self.max < self.idle:
            raise ValueError("max must be at least idle")
        return self


class IntervalSettings(_Model):
    provisioning_tick: Seconds = Field(0.2, alias="provisioningTick", gt=0)
    lifecycle: Seconds = Field(2.0, gt=0)
    disruption: Seconds = Field(10.0, gt=0)
    garbage_collection: Seconds = Field(60.0, alias="garbageCollection", gt=0)
    policy_sync: Seconds = Field(60.0, alias="policySync", gt=0)
    price_refresh: Seconds = Field(3600.0, alias="priceRefresh", gt=0)
    cost_accrual: Seconds = Field(60.0, alias="costAccrual", gt=0)
    # Also the long poll's wait (at most 20 s, SQS's limit).
    interruptions: Seconds = Field(5.0, gt=0)


class DisruptionSettings(_Model):
    enabled: bool = True
    # consolidation: the full planner (NodePools' consolidationPolicy and consolidateAfter,
    # budgets, PDBs, drift, expiry); emptiness: only empty nodes, after emptyAfter.
    planner: Literal["consolidation", "emptiness"] = "consolidation"
    validation_delay: Seconds = Field(15.0, alias="validationDelay", ge=0)
    nomination_ttl: Seconds = Field(20.0, alias="nominationTTL", ge=0)
    empty_after: Seconds = Field(30.0, alias="emptyAfter", ge=0)
    drain_timeout: Seconds = Field(60.0, alias="drainTimeout", gt=0)
    registration_ttl: Seconds = Field(900.0, alias="registrationTTL", gt=0)


class WatchConfig(_Model):
    page_size: int = Field(500, alias="pageSize", gt=0)
    timeout: Seconds = Field(300.0, gt=0)
    read_timeout: Seconds = Field(90.0, alias="readTimeout", gt=0)
    relist: Seconds = Field(1800.0, gt=0)


class SimulatedInterruption(_Model):
    """`--simulate`: the snapshot node's instance gets a Spot interruption warning `after`
    seconds from the start."""

    node: str = Field(min_length=1)
    after: Seconds = Field(ge=0)


class RunSettings(_Model):
    kubeconfig: str | None = None
    context: str | None = None
    dry_run: bool = Field(False, alias="dryRun")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", alias="logLevel")
    # /metrics, /healthz, /readyz
    http_port: int | None = Field(None, alias="httpPort", ge=0, le=65535)
    simulate: bool = False
    snapshots: list[str] = Field(default_factory=list)  # --simulate: the cluster to start from
    simulated_interruptions: list[SimulatedInterruption] = Field(
        default_factory=list, alias="simulatedInterruptions")
    run_for: Seconds | None = Field(None, alias="runFor", gt=0)  # stop after this long
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
        if self.simulated_interruptions and not self.simulate:
            raise ValueError("simulatedInterruptions: only with simulate")
        late = [i.node for i in self.simulated_interruptions
                if self.run_for is not None and i.after > self.run_for]
        if late:
            raise ValueError(f"simulatedInterruptions: {late[0]} comes after runFor")
        return self


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


# The chart's environment variables -> settings keys (helm/README.md).
ENVIRONMENT: Mapping[str, str] = {
    "SCALER_POD_NAME": "leaderElection.identity",
    "SCALER_POD_NAMESPACE": "leaderElection.namespace",
    "SCALER_CLUSTER_NAME": "aws.clusterName",
    "SCALER_REGION": "aws.region",
    "SCALER_INTERRUPTION_QUEUE": "aws.interruptionQueue",
    "SCALER_KUBERNETES_VERSION": "aws.kubernetesVersion",
    "SCALER_AWS_ENDPOINT_URL": "aws.endpointUrl",
    "SCALER_GIT_URL": "git.url",
    "SCALER_GIT_BRANCH": "git.branch",
    "SCALER_GIT_PATH": "git.path",
    "SCALER_GIT_INTERVAL": "git.interval",
    "SCALER_GIT_CREDENTIALS_DIR": "git.credentialsDir",
    "SCALER_STATE_DIR": "git.stateDir",
    "SCALER_BATCH_IDLE_DURATION": "batch.idle",
    "SCALER_BATCH_MAX_DURATION": "batch.max",
    "SCALER_DISRUPTION_ENABLED": "disruption.enabled",
    "SCALER_DISRUPTION_INTERVAL": "intervals.disruption",
    "SCALER_PRICE_REFRESH_INTERVAL": "intervals.priceRefresh",
    "SCALER_DRY_RUN": "dryRun",
    "SCALER_LOG_LEVEL": "logLevel",
    "SCALER_HTTP_PORT": "httpPort",
    "SCALER_LEADER_ELECT": "leaderElection.enabled",
    "SCALER_LEASE_NAME": "leaderElection.name",
    "SCALER_LEASE_DURATION": "leaderElection.leaseDuration",
    "SCALER_RENEW_DEADLINE": "leaderElection.renewDeadline",
    "SCALER_RETRY_PERIOD": "leaderElection.retryPeriod",
}


def put(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for p in parents:
        doc = doc.setdefault(p, {})
    doc[leaf] = value


def environment_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """Settings from `SCALER_*` variables; an empty one (a chart value left unset) is none."""
    out: dict[str, Any] = {}
    for var, path in ENVIRONMENT.items():
        value = environ.get(var, "").strip()
        if not value:
            continue
        if path == "logLevel":
            value = value.upper()
        put(out, path, value)
    git = out.get("git")
    if git is not None and "url" not in git:
        # Branch, path and state dir without a URL (the chart sets them always): no Git.
        del out["git"]
    return out


def load_settings(path: str | None, overrides: dict[str, Any],
                  environ: Mapping[str, str] | None = None) -> RunSettings:
    """The config file (if any), then `SCALER_*` variables, then `overrides` (flags)."""
    doc: dict[str, Any] = {}
    if path:
        raw = load_one(Path(path), path)
        if raw is not None and not isinstance(raw, dict):
            raise UserError("expected a mapping of settings", file=path)
        doc = raw or {}
    env = environment_overrides(os.environ if environ is None else environ)
    try:
        return RunSettings.model_validate(_merge(_merge(doc, env), overrides))
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or None
        where = path or ("SCALER_* environment or flags" if env else "flags")
        raise UserError(err["msg"], file=where, field=field) from None
