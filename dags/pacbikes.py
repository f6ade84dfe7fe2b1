"""Airflow DAGs of the pacbikes pipeline (seed 002), built from its spec: pacbikes_staging
(extract and load, publishes an Asset) and pacbikes_warehouse (scheduled by that Asset).

The spec is src/headwater/pipelines/pacbikes/pipeline.yaml; this file only wires it.
"""

from headwater.orchestration import build_dags

globals().update(build_dags("pacbikes"))
