"""Observing runs: the run ledger, run-level Slack alerts, `headwater status`, Prometheus metrics."""
