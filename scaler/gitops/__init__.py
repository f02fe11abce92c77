"""GitOps: policies followed from Git (fetch, whole-bundle validation, last good kept),
their status, logs and metrics, drift, the audit trail and the cost preview of a change.

See docs/gitops.md. Modules: `git` (the source), `credentials`, `reconciler`, `status`,
`logs`, `metrics`, `drift`, `audit`, `preview`.
"""
