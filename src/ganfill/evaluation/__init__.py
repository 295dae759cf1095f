"""Evaluation: metrics, realism judges, and `ganfill evaluate` (held-out images, every mask, every method)."""
