#!/usr/bin/env bash
# Runs once, when the Postgres volume is first created: Airflow's metadata database and the
# warehouse, each with its own role. Passwords come from the environment (deploy/.env).
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" \
  -v airflow_pw="$AIRFLOW_DB_PASSWORD" -v warehouse_pw="$WAREHOUSE_DB_PASSWORD" <<'SQL'
CREATE ROLE airflow LOGIN PASSWORD :'airflow_pw';
CREATE DATABASE airflow OWNER airflow;
CREATE ROLE headwater LOGIN PASSWORD :'warehouse_pw';
CREATE DATABASE warehouse OWNER headwater;
SQL
