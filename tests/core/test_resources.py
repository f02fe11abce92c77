"""Resource vectors and the pod request arithmetic.

The pod_requests tables follow component-helpers' resource/helpers_test.go
(TestPodRequestsAndLimits, TestPodRequestsAndLimitsWithoutOverhead, TestPodResourceRequests).
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scaler.core.quantity import QuantityError
from scaler.core.resources import (
    CPU,
    EPHEMERAL_STORAGE,
    MEMORY,
    PODS,
    ZERO,
    Resources,
    container_requests,
    is_extended_resource,
    pod_requests,
)

GI = 1 << 30
MI = 1 << 20
GPU = "nvidia.com/gpu"


def r(**amounts: int) -> Resources:
    """Shorthand for plain names: r(cpu=1000, memory=5)."""
    return Resources(amounts)


def cpu(cores: float) -> Resources:
    return Resources({CPU: round(cores * 1000)})


# -- names ---------------------------------------------------------------------------------


def test_resource_names() -> None:
    assert (CPU, MEMORY, EPHEMERAL_STORAGE, PODS) == ("cpu", "memory", "ephemeral-storage", "pods")


@pytest.mark.parametrize(
    ("name", "extended"),
    [
        ("nvidia.com/gpu", True),
        ("aws.amazon.com/neuron", True),
        ("example.com/foo", True),
        ("cpu", False),
        ("memory", False),
        ("hugepages-2Mi", False),
        ("kubernetes.io/foo", False),
        ("node.kubernetes.io/foo", False),
        ("requests.nvidia.com/gpu", False),
    ],
)
def test_is_extended_resource(name: str, extended: bool) -> None:
    assert is_extended_resource(name) is extended


# -- construction and parsing --------------------------------------------------------------


def test_constructor_drops_zeros_so_equality_is_by_value() -> None:
    a = Resources({CPU: 1000, MEMORY: 0, GPU: 0})
    assert a == Resources({CPU: 1000})
    assert hash(a) == hash(Resources({CPU: 1000}))
    assert len(a) == 1
    assert list(a) == [CPU]
    assert Resources({CPU: 0}) == ZERO == Resources() == Resources({})
    assert Resources.ZERO is ZERO


@pytest.mark.parametrize("bad", [{CPU: 1.5}, {CPU: "1"}, {CPU: True}, {"": 1}, {1: 1}])
def test_constructor_checks_types(bad: Mapping[str, int]) -> None:
    with pytest.raises(TypeError):
        Resources(bad)


def test_parse_units() -> None:
    parsed = Resources.parse(
        {
            "cpu": "1500m",
            "memory": "1Gi",
            "ephemeral-storage": "10G",
            "pods": 110,
            "nvidia.com/gpu": "2",
            "hugepages-2Mi": "4Mi",
        }
    )
    assert parsed.get(CPU) == 1500  # millicores
    assert parsed.get(MEMORY) == GI  # bytes
    assert parsed.get(EPHEMERAL_STORAGE) == 10**10
    assert parsed.get(PODS) == 110
    assert parsed.get(GPU) == 2
    assert parsed.get("hugepages-2Mi") == 4 * MI


@pytest.mark.parametrize(
    ("raw", "millicores"),
    [(2, 2000), (0.5, 500), ("0.5", 500), ("100m", 100), ("0.0001", 1), ("1.0005", 1001)],
)
def test_parse_cpu_rounds_up_to_millicores(raw: object, millicores: int) -> None:
    assert Resources.parse({CPU: raw}).get(CPU) == millicores


def test_parse_memory_rounds_up_to_bytes() -> None:
    assert Resources.parse({MEMORY: "0.5"}).get(MEMORY) == 1
    assert Resources.parse({MEMORY: "1500m"}).get(MEMORY) == 2
    assert Resources.parse({MEMORY: "1.5Ki"}).get(MEMORY) == 1536


def test_parse_drops_zeros_and_accepts_nothing() -> None:
    assert Resources.parse({CPU: "0", MEMORY: "0Gi"}) == ZERO
    assert Resources.parse(None) == ZERO
    assert Resources.parse({}) == ZERO


@pytest.mark.parametrize(
    ("mapping", "resource", "message"),
    [
        ({CPU: "-1"}, "cpu", "invalid quantity '-1' for cpu: must not be negative"),
        ({MEMORY: -5}, "memory", "invalid quantity -5 for memory: must not be negative"),
        ({MEMORY: "12Q"}, "memory", "invalid quantity '12Q' for memory: unknown suffix 'Q'"),
        ({CPU: None}, "cpu", "invalid quantity None for cpu: expected a string or number"),
        ({CPU: True}, "cpu", "invalid quantity True for cpu: expected a string or number"),
        (
            {GPU: "500m"},
            GPU,
            "invalid quantity '500m' for nvidia.com/gpu: must be a whole number",
        ),
        ({GPU: 0.5}, GPU, "invalid quantity 0.5 for nvidia.com/gpu: must be a whole number"),
    ],
)
def test_parse_errors_name_the_resource(
    mapping: Mapping[str, object], resource: str, message: str
) -> None:
    with pytest.raises(QuantityError) as info:
        Resources.parse(mapping)
    err = info.value
    assert str(err) == message
    assert err.resource == resource
    # The field is left for the loader, which knows the full path.
    assert err.field is None
    located = err.located(file="a.yaml", obj="Pod/web", field=f"spec.requests.{resource}")
    assert str(located) == f"a.yaml: Pod/web: spec.requests.{resource}: {message}"


def test_parse_tiny_negative_is_still_negative() -> None:
    # Rounded away from zero to -1n, which validation rejects like upstream's does.
    with pytest.raises(QuantityError, match="negative"):
        Resources.parse({CPU: "-0.0000000001"})


def test_parse_fractional_non_extended_resources_round_up() -> None:
    assert Resources.parse({"hugepages-2Mi": "0.5"}).get("hugepages-2Mi") == 1
    assert Resources.parse({"example.kubernetes.io/x": "0.5"}).get("example.kubernetes.io/x") == 1


# -- access --------------------------------------------------------------------------------


def test_mapping_like_access() -> None:
    a = Resources({CPU: 500, MEMORY: GI})
    assert a.get(CPU) == 500
    assert a[MEMORY] == GI
    assert a.get(GPU) == 0 and a[GPU] == 0  # unlisted is zero, not an error
    assert CPU in a and GPU not in a
    assert dict(a.items()) == {CPU: 500, MEMORY: GI}
    assert set(a.keys()) == {CPU, MEMORY}
    assert sorted(a.values()) == [500, GI]
    assert dict(a) == {CPU: 500, MEMORY: GI}
    d = a.to_dict()
    d[CPU] = 1
    assert a.get(CPU) == 500
    assert not a.is_zero() and ZERO.is_zero()
    assert bool(a) and not bool(ZERO)


def test_immutable() -> None:
    a = Resources({CPU: 500})
    with pytest.raises(AttributeError):
        a._d = {}
    with pytest.raises(AttributeError):
        a.other = 1
    with pytest.raises(AttributeError):
        del a._d
    assert a.get(CPU) == 500


def test_copy_and_pickle() -> None:
    a = Resources({CPU: 500, GPU: 1})
    assert copy.copy(a) is a
    assert copy.deepcopy(a) is a
    b = pickle.loads(pickle.dumps(a))
    assert b == a and hash(b) == hash(a)


def test_repr_and_str_use_human_units_in_a_stable_order() -> None:
    a = Resources({GPU: 1, MEMORY: 512 * MI, "aws.amazon.com/neuron": 2, CPU: 1500, PODS: 3})
    assert repr(a) == (
        "Resources(cpu=1500m, memory=512Mi, pods=3, aws.amazon.com/neuron=2, nvidia.com/gpu=1)"
    )
    assert str(Resources({CPU: 2000, MEMORY: GI})) == "cpu=2, memory=1Gi"
    assert repr(ZERO) == "Resources()"
    assert str(ZERO) == "none"


# -- arithmetic ----------------------------------------------------------------------------


def test_add_and_sub() -> None:
    a = Resources({CPU: 500, MEMORY: GI})
    b = Resources({CPU: 250, GPU: 1})
    assert a + b == Resources({CPU: 750, MEMORY: GI, GPU: 1})
    assert a - b == Resources({CPU: 250, MEMORY: GI, GPU: -1})  # may go negative
    assert (a - a).is_zero()
    assert a + ZERO is a and ZERO + a is a and a - ZERO is a
    assert -a == Resources({CPU: -500, MEMORY: -GI})


def test_max_is_element_wise() -> None:
    a = Resources({CPU: 500, MEMORY: 2 * GI})
    b = Resources({CPU: 1000, GPU: 1})
    assert a.max(b) == Resources({CPU: 1000, MEMORY: 2 * GI, GPU: 1})
    # Unlisted counts as zero, so negatives lose to it.
    assert Resources({CPU: -5, MEMORY: 3}).max(ZERO) == Resources({MEMORY: 3})


def test_scaled() -> None:
    a = Resources({CPU: 500, MEMORY: GI})
    assert a.scaled(3) == Resources({CPU: 1500, MEMORY: 3 * GI})
    assert a.scaled(1) is a
    assert a.scaled(0) == ZERO
    assert a.scaled(-1) == -a


def test_fits_and_exceeding() -> None:
    node = Resources({CPU: 4000, MEMORY: 16 * GI, PODS: 110})
    assert Resources({CPU: 4000, MEMORY: GI}).fits(node)
    assert ZERO.fits(node) and ZERO.fits(ZERO)
    big = Resources({GPU: 1, CPU: 4001, MEMORY: GI, "aws.amazon.com/neuron": 1})
    assert not big.fits(node)
    assert big.exceeding(node) == [CPU, "aws.amazon.com/neuron", GPU]
    assert Resources({CPU: 1}).exceeding(node) == []
    # Negative amounts (an overcommitted node's remainder) fit anywhere.
    assert Resources({CPU: -1}).fits(ZERO)


# -- properties ----------------------------------------------------------------------------

NAMES = [CPU, MEMORY, EPHEMERAL_STORAGE, PODS, GPU, "hugepages-2Mi"]


def vectors(min_value: int | None = None) -> st.SearchStrategy[Resources]:
    amounts = st.integers(min_value=min_value, max_value=10**15)
    if min_value is None:
        amounts = st.integers(min_value=-(10**15), max_value=10**15)
    return st.dictionaries(st.sampled_from(NAMES), amounts).map(Resources)


any_vec = vectors()
non_negative = vectors(min_value=0)


@settings(deadline=None)
@given(any_vec, any_vec)
def test_addition_commutes(a: Resources, b: Resources) -> None:
    assert a + b == b + a


@settings(deadline=None)
@given(any_vec, any_vec, any_vec)
def test_addition_associates(a: Resources, b: Resources, c: Resources) -> None:
    assert (a + b) + c == a + (b + c)


@settings(deadline=None)
@given(any_vec, any_vec)
def test_subtraction_inverts_addition(a: Resources, b: Resources) -> None:
    assert (a - a) == ZERO
    assert (a + b) - b == a
    assert a - b == a + (-b)


@settings(deadline=None)
@given(any_vec, any_vec)
def test_equal_vectors_hash_equal(a: Resources, b: Resources) -> None:
    c = (a + b) - b  # same value, built differently
    assert c == a and hash(c) == hash(a)
    assert all(v != 0 for v in c.values())


@settings(deadline=None)
@given(non_negative, non_negative)
def test_fits_is_monotone(a: Resources, b: Resources) -> None:
    assert a.fits(a)
    assert a.fits(a + b)
    assert a.fits(a.max(b)) and b.fits(a.max(b))


@settings(deadline=None)
@given(any_vec, any_vec)
def test_fits_agrees_with_exceeding(a: Resources, cap: Resources) -> None:
    assert a.fits(cap) == (a.exceeding(cap) == [])
    for name in a.exceeding(cap):
        assert a.get(name) > cap.get(name)


@settings(deadline=None)
@given(any_vec, any_vec)
def test_max_matches_per_resource_max(a: Resources, b: Resources) -> None:
    m = a.max(b)
    assert m == b.max(a)
    for name in NAMES:
        assert m.get(name) == max(a.get(name), b.get(name))  # get() is 0 when unlisted


@settings(deadline=None)
@given(any_vec, st.integers(min_value=0, max_value=20))
def test_scaled_is_repeated_addition(a: Resources, n: int) -> None:
    total = ZERO
    for _ in range(n):
        total = total + a
    assert a.scaled(n) == total


# -- container_requests: API defaulting of requests from limits ----------------------------


def test_limits_only_default_the_requests() -> None:
    got = container_requests(None, {CPU: "2", MEMORY: "1Gi"})
    assert got == Resources({CPU: 2000, MEMORY: GI})


def test_request_present_is_kept_per_resource() -> None:
    got = container_requests({CPU: "500m"}, {CPU: "2", MEMORY: "1Gi", GPU: 1})
    assert got == Resources({CPU: 500, MEMORY: GI, GPU: 1})


def test_explicit_zero_request_is_kept() -> None:
    # SetDefaults_Pod checks presence, not value.
    assert container_requests({CPU: "0"}, {CPU: "2"}) == ZERO
    assert container_requests({CPU: 0, MEMORY: "1Mi"}, {CPU: 2, MEMORY: "2Mi"}) == Resources(
        {MEMORY: MI}
    )


def test_container_requests_without_limits() -> None:
    assert container_requests({CPU: "1"}, None) == Resources({CPU: 1000})
    assert container_requests({CPU: "1"}, {}) == Resources({CPU: 1000})
    assert container_requests(None, None) == ZERO


def test_container_requests_accepts_parsed_resources() -> None:
    requests = Resources.parse({CPU: "500m"})
    limits = Resources.parse({CPU: "2", MEMORY: "1Gi"})
    assert container_requests(requests, limits) == Resources({CPU: 500, MEMORY: GI})
    assert container_requests(ZERO, limits) == limits
    assert container_requests({CPU: "0"}, limits) == Resources({MEMORY: GI})


def test_container_requests_reports_bad_limits() -> None:
    with pytest.raises(QuantityError, match="for memory"):
        container_requests(None, {MEMORY: "1KB"})


# -- pod_requests --------------------------------------------------------------------------

SIDECAR, INIT = True, False


@pytest.mark.parametrize(
    ("containers", "init_containers", "overhead", "expected"),
    [
        pytest.param([], [], ZERO, ZERO, id="empty"),
        # TestPodRequestsAndLimits
        pytest.param([ZERO], [], ZERO, ZERO, id="just-limit-no-overhead"),
        pytest.param([], [], r(cpu=5000, memory=5), r(cpu=5000, memory=5), id="just-overhead"),
        pytest.param(
            [r(cpu=1000, memory=10)],
            [],
            r(cpu=5000, memory=5),
            r(cpu=6000, memory=15),
            id="req-and-overhead",
        ),
        # TestPodRequestsAndLimitsWithoutOverhead
        pytest.param(
            [r(cpu=1000, memory=5), r(cpu=4000, memory=12)],
            [],
            ZERO,
            r(cpu=5000, memory=17),
            id="two-containers",
        ),
        pytest.param(
            [r(cpu=1000, memory=5), r(cpu=4000, memory=12)],
            [(r(cpu=1000, memory=5), INIT), (r(cpu=40000, memory=120), INIT)],
            ZERO,
            r(cpu=40000, memory=120),
            id="massive-init-is-the-largest-init",
        ),
        pytest.param(
            [r(cpu=1000, memory=5), r(cpu=4000, memory=12)],
            [(r(cpu=1000, memory=5), INIT), (r(cpu=40000, memory=120), INIT)],
            r(cpu=3000, memory=8),
            r(cpu=43000, memory=128),
            id="massive-init-plus-overhead",
        ),
        # TestPodResourceRequests
        pytest.param([cpu(1)], [(cpu(4), INIT)], ZERO, cpu(4), id="larger-init-container"),
        pytest.param([cpu(2), cpu(3)], [(cpu(2), INIT)], ZERO, cpu(5), id="larger-containers"),
        pytest.param(
            [cpu(2), cpu(3)],
            [(cpu(2), INIT)],
            Resources({CPU: 1000, MEMORY: GI}),
            Resources({CPU: 6000, MEMORY: GI}),
            id="pod-overhead-included",
        ),
        pytest.param([cpu(1)], [(cpu(1), SIDECAR)], ZERO, cpu(2), id="restartable-init-container"),
        pytest.param(
            [cpu(1)],
            [(cpu(5), INIT), (cpu(1), SIDECAR), (cpu(2), SIDECAR), (cpu(3), SIDECAR)],
            ZERO,
            cpu(7),  # max(5, sidecars 3+2+1 + regular 1)
            id="multiple-restartable-init-containers",
        ),
        pytest.param(
            [cpu(1)],
            [
                (cpu(5), INIT),
                (cpu(1), SIDECAR),
                (cpu(2), SIDECAR),
                (cpu(5), INIT),
                (cpu(3), SIDECAR),
            ],
            ZERO,
            cpu(8),  # init-2 needs 5 + the sidecars started before it (1+2)
            id="multiple-restartable-and-regular-init-containers",
        ),
        pytest.param(
            [cpu(100)],
            [(cpu(10), SIDECAR), (cpu(200), INIT)],
            ZERO,
            cpu(210),
            id="restartable-init-init-and-regular",
        ),
        # Beyond upstream's tables: the max is taken per resource.
        pytest.param(
            [Resources({CPU: 2000, MEMORY: GI})],
            [(Resources({CPU: 500, MEMORY: 4 * GI, GPU: 1}), INIT)],
            ZERO,
            Resources({CPU: 2000, MEMORY: 4 * GI, GPU: 1}),
            id="per-resource-max",
        ),
        pytest.param(
            [Resources({CPU: 1000})],
            [(Resources({MEMORY: GI}), SIDECAR), (Resources({MEMORY: 2 * GI}), INIT)],
            ZERO,
            Resources({CPU: 1000, MEMORY: 3 * GI}),
            id="sidecar-memory-under-a-later-init",
        ),
        pytest.param(
            [cpu(1)],
            [(cpu(5), INIT), (cpu(1), SIDECAR)],
            ZERO,
            cpu(5),
            id="sidecar-after-init-does-not-count-for-it",
        ),
    ],
)
def test_pod_requests(
    containers: list[Resources],
    init_containers: list[tuple[Resources, bool]],
    overhead: Resources,
    expected: Resources,
) -> None:
    assert pod_requests(containers, init_containers, overhead) == expected


def test_pod_requests_defaults() -> None:
    assert pod_requests([cpu(1), cpu(2)]) == cpu(3)
    # Accepts any iterables, once through.
    assert pod_requests(iter([cpu(1)]), iter([(cpu(3), INIT)])) == cpu(3)


def test_pod_level_requests_replace_cpu_memory_and_hugepages() -> None:
    containers = [Resources({CPU: 1000, MEMORY: GI, GPU: 1, "hugepages-2Mi": 2 * MI})]
    pod_level = Resources({CPU: 3000, "hugepages-2Mi": 4 * MI, GPU: 5})
    got = pod_requests(containers, [], Resources({CPU: 100}), pod_level=pod_level)
    # GPUs are not a pod-level resource; overhead is added after the override.
    assert got == Resources({CPU: 3100, MEMORY: GI, GPU: 1, "hugepages-2Mi": 4 * MI})
    assert pod_requests(containers, pod_level=ZERO) == containers[0]


init_lists = st.lists(st.tuples(non_negative, st.booleans()), max_size=5)


@settings(deadline=None)
@given(st.lists(non_negative, max_size=4), init_lists, non_negative)
def test_pod_requests_matches_the_kep_formula(
    containers: list[Resources], inits: list[tuple[Resources, bool]], overhead: Resources
) -> None:
    # KEP-753: max(sum(app) + sum(sidecars), max_i(init_i + sidecars before i)) + overhead
    apps = ZERO
    for c in containers:
        apps = apps + c
    sidecars = ZERO
    peak = ZERO
    for requests, is_sidecar in inits:
        if is_sidecar:
            sidecars = sidecars + requests
        else:
            peak = peak.max(requests + sidecars)
    expected = (apps + sidecars).max(peak) + overhead
    assert pod_requests(containers, inits, overhead) == expected


@settings(deadline=None)
@given(st.lists(non_negative, max_size=4), init_lists, non_negative)
def test_pod_requests_covers_every_container(
    containers: list[Resources], inits: list[tuple[Resources, bool]], overhead: Resources
) -> None:
    total = pod_requests(containers, inits, overhead)
    for c in containers:
        assert (c + overhead).fits(total)
    for requests, _ in inits:
        assert (requests + overhead).fits(total)
