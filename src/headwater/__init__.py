"""Headwater: ELT pipelines from source to lake to warehouse to dbt, orchestrated by Airflow."""

__version__ = "0.1.0"
