"""Bundled pipelines: one folder each with pipeline.yaml, a generator and a dbt project."""
