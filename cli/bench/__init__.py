"""Benchmarks: commands that print figures side by side with their peers (never timed tests)."""
