"""Airflow DAGs of the pipelines kept outside Headwater, in the folders of HEADWATER_PIPELINE_PATHS.

Bundled pipelines have their own two-line file beside this folder; a team's own pipelines (in
its own repository, with Headwater installed as a dependency) get their DAG here, one per
discovered pipeline folder, built from its spec like any other. Parsing reads only the spec
files: no database, no connection, no Variable. Airflow collects every module-level DAG.
"""

from headwater.discovery import external_pipelines
from headwater.orchestration import build_dag

for _name in external_pipelines():
    globals()[f"dag_{_name}"] = build_dag(_name)
