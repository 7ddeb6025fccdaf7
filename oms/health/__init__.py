"""Health, metrics, request ids in logs and error reports (docs/operations.md,
"Observability"). `queue` is the one module that reads the task engine."""
