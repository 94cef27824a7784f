"""Dagster: the asset factory, IO managers per destination kind, sensors, schedules, jobs."""
