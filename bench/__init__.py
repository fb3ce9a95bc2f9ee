"""Bench stage: accuracy, latency, RAM and flash across runtimes and boards."""
