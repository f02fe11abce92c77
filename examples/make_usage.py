"""Write examples/usage.csv.gz: eight days of made-up usage for the pods of the example
workloads (examples/workloads), so `scaler rightsize` runs without a cluster.

    python examples/make_usage.py

Seeded: the same file every time. Daily cycles for the shop, a weekly one for payments,
bursts for the Spark driver, and a cart whose memory creeps up until one pod is OOM-killed
at its 1Gi limit on the last day.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scaler.adapters.simulated.usage_file import write_usage_file

HERE = Path(__file__).resolve().parent
DAY = 86400.0
MiB = 2**20
STEP = 600.0
DAYS = 8
END = 1_764_028_800.0  # 2025-11-25T00:00:00Z


def main() -> None:
    rng = np.random.default_rng(2025)
    t = END - DAYS * DAY + np.arange(int(DAYS * DAY / STEP)) * STEP
    day = 0.5 + 0.5 * np.sin(2 * np.pi * (t / DAY - 0.4))
    weekday = ((t // DAY) % 7) < 5
    rows: list[tuple[object, ...]] = []

    def add(
        ns: str,
        pod: str,
        container: str,
        cpu: np.ndarray,
        mem: np.ndarray,
        limit: float | None = None,
        oom_at: int | None = None,
    ) -> None:
        for i, ts in enumerate(t):
            rows.append(
                (
                    int(ts),
                    ns,
                    pod,
                    container,
                    f"{max(cpu[i], 0.0005):.4f}",
                    int(mem[i]),
                    "" if limit is None else int(limit),
                    1 if oom_at is not None and i == oom_at else 0,
                )
            )

    def noise(scale: float = 0.15) -> np.ndarray:
        return 1 + scale * rng.standard_normal(t.size)

    for pod in (
        "web-7c5d8f9b6-h2k9x",
        "web-7c5d8f9b6-j4m8p",
        "web-7c5d8f9b6-k7n2q",
        "web-7c5d8f9b6-l5p9r",
        "web-7c5d8f9b6-m8q3s",
        "web-7c5d8f9b6-n2r7t",
    ):
        add("shop", pod, "app", (0.12 + 0.28 * day) * noise(), (520 + 90 * day) * MiB * noise(0.02))
        add(
            "shop",
            pod,
            "log-shipper",
            0.01 + 0.01 * day * noise(),
            40 * MiB * noise(0.03),
            256 * MiB,
        )
    for k, pod in enumerate(
        ("cart-6f9c7b8d4-b7xkq", "cart-6f9c7b8d4-c2mzt", "cart-6f9c7b8d4-d9pls")
    ):
        creep = (700 + 40 * (t - t[0]) / DAY) * MiB  # +40Mi a day
        mem = np.minimum(creep * noise(0.02) + 30 * MiB * day, 1024 * MiB)
        oom = t.size - 30 if k == 0 else None
        add("shop", pod, "app", (0.05 + 0.1 * day) * noise(), mem, 1024 * MiB, oom)
    for pod in (
        "api-6d4b9c7f5-p7x2m",
        "api-6d4b9c7f5-q8y3n",
        "api-6d4b9c7f5-r9z4p",
        "api-6d4b9c7f5-s2a5q",
    ):
        add(
            "shop",
            pod,
            "api",
            (0.1 + 0.25 * day) * noise(),
            (700 + 100 * day) * MiB * noise(0.02),
            2048 * MiB,
        )
    add(
        "payments",
        "ledger-5b8d7c6f9-x4z2w",
        "app",
        np.where(weekday, 0.2 + 0.5 * day, 0.1) * noise(),
        (1400 + 200 * day) * MiB * noise(0.02),
    )
    spark_cpu = 0.3 + 0.2 * day
    spark_mem = (2800 + 200 * day) * MiB
    for _ in range(12):
        at = int(rng.integers(0, t.size - 6))
        spark_cpu[at : at + 6] *= 4
        spark_mem[at : at + 6] *= 1.5
    add("analytics", "spark-driver-0", "app", spark_cpu * noise(), spark_mem * noise(0.02))
    for pod in ("coredns-5d78c9869d-7xk2p", "coredns-5d78c9869d-q9w4z"):
        add("kube-system", pod, "app", (0.004 + 0.006 * day) * noise(), 28 * MiB * noise(0.02))
    write_usage_file(HERE / "usage.csv.gz", rows)


if __name__ == "__main__":
    main()
