"""Resource vectors (cpu, memory, GPUs, ...) and the pod request arithmetic of Kubernetes.

A `Resources` is a sparse vector of integers: cpu in millicores, every other resource in
its base unit (bytes for memory and storage, plain counts for pods and extended resources).
A resource that is not listed is zero, and zeros are never stored, so two vectors are
equal exactly when they hold the same amounts.

The scheduler's inner loop runs `fits`, `+` and `-` hundreds of thousands of times, so the
class is a thin immutable wrapper over a dict with no per-operation validation.
"""

from __future__ import annotations

from collections.abc import Callable, ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from typing import ClassVar, Final, final

from scaler.core.quantity import QuantityError, format_quantity, parse_quantity, to_int, to_milli

__all__ = [
    "CPU",
    "EPHEMERAL_STORAGE",
    "MEMORY",
    "PODS",
    "ZERO",
    "Resources",
    "container_requests",
    "is_extended_resource",
    "pod_requests",
]

CPU: Final = "cpu"
MEMORY: Final = "memory"
EPHEMERAL_STORAGE: Final = "ephemeral-storage"
PODS: Final = "pods"
HUGEPAGES_PREFIX: Final = "hugepages-"

# Human output lists the well-known resources first, then the rest by name.
_DISPLAY_RANK: Final[dict[str, int]] = {CPU: 0, MEMORY: 1, EPHEMERAL_STORAGE: 2, PODS: 3}


def _display_key(name: str) -> tuple[int, str]:
    return _DISPLAY_RANK.get(name, len(_DISPLAY_RANK)), name


def is_extended_resource(name: str) -> bool:
    """A vendor resource such as nvidia.com/gpu (outside the kubernetes.io domain).

    Mirrors upstream's IsExtendedResourceName: such resources are whole units only.
    """
    if "/" not in name or name.startswith("requests."):
        return False
    domain = name.split("/", 1)[0]
    return domain != "kubernetes.io" and not domain.endswith(".kubernetes.io")


@final
class Resources:
    """An immutable, hashable resource vector; see the module docstring for units."""

    __slots__ = ("_d", "_hash")
    _d: dict[str, int]
    _hash: int

    ZERO: ClassVar[Resources]

    def __init__(self, amounts: Mapping[str, int] | None = None) -> None:
        d: dict[str, int] = {}
        if amounts:
            for name, value in amounts.items():
                if not isinstance(name, str) or not name:
                    raise TypeError(f"resource names are non-empty strings, not {name!r}")
                # bool is an int; True millicores is certainly a bug.
                if not isinstance(value, int) or isinstance(value, bool):
                    raise TypeError(f"resource {name!r}: expected an int, got {value!r}")
                if value:
                    d[name] = value
        _set_d(self, d)

    @staticmethod
    def parse(mapping: Mapping[str, object] | None) -> Resources:
        """Resources from a Kubernetes resource list such as ``{"cpu": "500m", "memory": 1}``.

        cpu is rounded up to whole millicores and everything else up to whole units, as
        MilliValue() and Value() do. A QuantityError names the resource in its message
        and `resource`, and leaves `field` for the caller to set to the full path.
        """
        if not mapping:
            return ZERO
        d: dict[str, int] = {}
        for name, raw in mapping.items():
            if not isinstance(name, str) or not name:
                raise QuantityError(f"invalid resource name {name!r}")
            if not isinstance(raw, str | int | float):
                raise QuantityError.invalid(raw, "expected a string or number", name)
            try:
                q = parse_quantity(raw)
            except QuantityError as err:
                raise err.for_resource(name) from None
            if q < 0:
                raise QuantityError.invalid(raw, "must not be negative", name)
            # The API server rejects fractional extended resources ("must be an integer").
            if q.denominator != 1 and is_extended_resource(name):
                raise QuantityError.invalid(raw, "must be a whole number", name)
            value = to_milli(q) if name == CPU else to_int(q)
            if value:
                d[name] = value
        return _wrap(d)

    # -- mapping-like access -------------------------------------------------------------

    def get(self, name: str) -> int:
        """The amount of `name`; 0 when it is not listed."""
        return self._d.get(name, 0)

    def __getitem__(self, name: str) -> int:
        # A sparse vector: an unlisted resource is 0, not a KeyError.
        return self._d.get(name, 0)

    def __contains__(self, name: object) -> bool:
        return name in self._d

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    def keys(self) -> KeysView[str]:
        return self._d.keys()

    def values(self) -> ValuesView[int]:
        return self._d.values()

    def items(self) -> ItemsView[str, int]:
        """(name, amount) pairs, non-zero only, in a deterministic (not sorted) order."""
        return self._d.items()

    def to_dict(self) -> dict[str, int]:
        """A fresh dict, safe to mutate."""
        return dict(self._d)

    def is_zero(self) -> bool:
        return not self._d

    # -- arithmetic ----------------------------------------------------------------------

    def __add__(self, other: Resources) -> Resources:
        od = other._d
        if not od:
            return self
        sd = self._d
        if not sd:
            return other
        d = sd.copy()
        for k, v in od.items():
            n = d.get(k, 0) + v
            if n:
                d[k] = n
            else:
                del d[k]
        r: Resources = _new(Resources)
        _set_d(r, d)
        return r

    def __sub__(self, other: Resources) -> Resources:
        """Element-wise difference; may go negative (remaining capacity of a full node)."""
        od = other._d
        if not od:
            return self
        d = self._d.copy()
        for k, v in od.items():
            n = d.get(k, 0) - v
            if n:
                d[k] = n
            else:
                del d[k]
        r: Resources = _new(Resources)
        _set_d(r, d)
        return r

    def __neg__(self) -> Resources:
        return _wrap({k: -v for k, v in self._d.items()})

    def max(self, other: Resources) -> Resources:
        """Element-wise maximum (an unlisted resource counts as 0)."""
        sd, od = self._d, other._d
        d: dict[str, int] = {}
        for k, v in sd.items():
            m = max(v, od.get(k, 0))
            if m:
                d[k] = m
        for k, v in od.items():
            if k not in sd and v > 0:
                d[k] = v
        return _wrap(d)

    def scaled(self, n: int) -> Resources:
        """Every amount times `n` (e.g. n replicas of one pod)."""
        if n == 1:
            return self
        if n == 0 or not self._d:
            return ZERO
        return _wrap({k: v * n for k, v in self._d.items()})

    # -- comparison ----------------------------------------------------------------------

    def fits(self, capacity: Resources) -> bool:
        """Whether every amount here is <= the same amount in `capacity` (unlisted = 0)."""
        cd = capacity._d
        for k, v in self._d.items():
            if v > cd.get(k, 0):
                return False
        return True

    def exceeding(self, capacity: Resources) -> list[str]:
        """Names of the resources that do not fit in `capacity`, in display order."""
        cd = capacity._d
        over = [k for k, v in self._d.items() if v > cd.get(k, 0)]
        over.sort(key=_display_key)
        return over

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Resources):
            return self._d == other._d
        return NotImplemented

    def __hash__(self) -> int:
        try:
            return self._hash
        except AttributeError:
            h = hash(frozenset(self._d.items()))
            _set_hash(self, h)
            return h

    # -- immutability and copying --------------------------------------------------------

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Resources is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Resources is immutable")

    def __reduce__(self) -> tuple[type[Resources], tuple[dict[str, int]]]:
        return Resources, (self._d,)

    def __copy__(self) -> Resources:
        return self

    def __deepcopy__(self, memo: object) -> Resources:
        return self

    # -- display -------------------------------------------------------------------------

    def _pairs(self) -> list[str]:
        return [f"{k}={format_quantity(k, self._d[k])}" for k in sorted(self._d, key=_display_key)]

    def __repr__(self) -> str:
        return f"Resources({', '.join(self._pairs())})"

    def __str__(self) -> str:
        return ", ".join(self._pairs()) or "none"


# Building results without __init__ (no validation) and through the slots' own setters
# (which skip the refusing __setattr__) is most of what makes `+` and `-` cheap.
_new = object.__new__
_set_d: Callable[[Resources, dict[str, int]], None] = Resources.__dict__["_d"].__set__
_set_hash: Callable[[Resources, int], None] = Resources.__dict__["_hash"].__set__


def _wrap(d: dict[str, int]) -> Resources:
    """A Resources around `d`, taking ownership; `d` must hold no zeros."""
    r: Resources = _new(Resources)
    _set_d(r, d)
    return r


ZERO: Final = Resources()
Resources.ZERO = ZERO


def container_requests(
    requests: Mapping[str, object] | Resources | None,
    limits: Mapping[str, object] | Resources | None,
) -> Resources:
    """A container's effective requests after the API server's defaulting.

    When a Pod is created, every resource that has a limit but no request gets the limit
    as its request (SetDefaults_Pod). A request that is present, even "0", is kept. The
    defaulting only happens to Pods, never to pod templates, so templates read from
    Deployments and the like must go through here to match the pods they will create.

    Either side may be a raw resource list or an already parsed Resources. Resources
    cannot tell an explicit "0" request from a missing one, so pass the raw requests
    when that distinction matters (a zero request with a non-zero limit).
    """
    req = requests if isinstance(requests, Resources) else Resources.parse(requests)
    lim = limits if isinstance(limits, Resources) else Resources.parse(limits)
    if not lim._d:
        return req
    present = requests.keys() if requests is not None else ()
    d = req._d.copy()
    for name, limit in lim._d.items():
        if name not in present:
            d[name] = limit
    return _wrap(d)


def _is_pod_level_resource(name: str) -> bool:
    return name in (CPU, MEMORY) or name.startswith(HUGEPAGES_PREFIX)


def pod_requests(
    containers: Iterable[Resources],
    init_containers: Iterable[tuple[Resources, bool]] = (),
    overhead: Resources = ZERO,
    *,
    pod_level: Resources | None = None,
) -> Resources:
    """The requests the scheduler charges a pod, as component-helpers' PodRequests.

    `init_containers` are (requests, is_sidecar) in spec order; a sidecar is an init
    container with restartPolicy: Always (KEP-753). Sidecars keep running, so each one is
    added to the app containers' sum and to every later init container's need; a regular
    init container needs its own requests plus the sidecars started before it. The pod
    needs the larger of the running sum and the biggest init need, plus `overhead`.

    `pod_level` holds spec.resources.requests (PodLevelResources): where set, its cpu,
    memory and hugepages replace the container aggregate, as upstream does.
    """
    running: dict[str, int] = {}
    for requests in containers:
        _add_into(running, requests._d)

    sidecars: dict[str, int] = {}
    init_peak: dict[str, int] = {}
    for requests, is_sidecar in init_containers:
        if is_sidecar:
            _add_into(running, requests._d)
            _add_into(sidecars, requests._d)
            _max_into(init_peak, sidecars)
        else:
            need = dict(requests._d)
            _add_into(need, sidecars)
            _max_into(init_peak, need)
    _max_into(running, init_peak)

    if pod_level is not None:
        for name, value in pod_level._d.items():
            if _is_pod_level_resource(name):
                running[name] = value

    _add_into(running, overhead._d)
    return _wrap({k: v for k, v in running.items() if v})


def _add_into(target: dict[str, int], source: Mapping[str, int]) -> None:
    for k, v in source.items():
        target[k] = target.get(k, 0) + v


def _max_into(target: dict[str, int], source: Mapping[str, int]) -> None:
    for k, v in source.items():
        if v > target.get(k, 0):
            target[k] = v
