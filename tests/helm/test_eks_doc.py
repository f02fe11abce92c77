"""docs/eks.md's examples stay true: its Helm values install, its policies validate."""

from __future__ import annotations

import re
from pathlib import Path

from scaler.policy import load_policies

from .helmtool import CHART, documents, one, run_helm

DOC = Path(__file__).resolve().parents[2] / "docs" / "eks.md"


def yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)


def test_the_values_of_the_eks_guide_render(helm: str, tmp_path: Path) -> None:
    (values,) = [b for b in yaml_blocks() if b.startswith("clusterName: prod")]
    path = tmp_path / "values-prod.yaml"
    path.write_text(values)
    proc = run_helm(helm, "template", "scaler", str(CHART), "-n", "scaler-system",
                    "--values", str(path))
    assert proc.returncode == 0, proc.stderr
    docs = documents(proc.stdout)
    sa = one(docs, "ServiceAccount")
    assert sa["metadata"]["name"] == "scaler"  # the name the IRSA trust policy names
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(
        ":role/ScalerController-prod")
    assert "system:serviceaccount:$NAMESPACE:scaler" in DOC.read_text()


def test_the_first_nodepool_of_the_eks_guide_validates(tmp_path: Path) -> None:
    (bundle,) = [b for b in yaml_blocks() if "kind: EC2NodeClass" in b]
    (tmp_path / "policies.yaml").write_text(bundle)
    policies = load_policies(tmp_path)
    assert [p.name for p in policies.node_pools] == ["default"]
