"""Run with the Airflow venv's python: load a DAG folder with Airflow's DagBag and print, as
JSON, the import errors and every DAG's tasks with their upstream task ids."""

import json
import sys

from airflow.dag_processing.dagbag import DagBag

bag = DagBag(dag_folder=sys.argv[1])
print(json.dumps({  # noqa: T201
    "import_errors": {str(k): str(v) for k, v in bag.import_errors.items()},
    "dags": {dag_id: {task.task_id: sorted(task.upstream_task_ids) for task in dag.tasks}
             for dag_id, dag in bag.dags.items()},
}))
