"""What the running controller needs around its loop: metrics, health and readiness endpoints,
structured logs.

Modules: `observability` (the Prometheus registry and the recorder the control loop calls),
`http` (one server for `/metrics`, `/healthz`, `/readyz`), `logs` (JSON lines on stderr).
Imports go one way: runtime may use gitops, policy and core; nothing below imports runtime.
"""
