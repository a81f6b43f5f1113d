"""Campaigns and their entry points: the driver, workers, cluster, CLI, API, pytest plugin."""
