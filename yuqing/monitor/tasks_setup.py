"""Background work of the monitor set-up: file imports.

Registered with Huey by ``yuqing.api.apps.ApiConfig.ready`` (Huey discovers ``tasks``
modules only); moving the import into ``monitor/tasks.py`` makes that line unnecessary.
"""

from __future__ import annotations

from huey.contrib.djhuey import db_task


@db_task()
def import_run_task(job_id: int) -> None:
    """Load by id, call the service: the job row carries the state, so retrying is safe."""
    from yuqing.monitor.setup_services import import_run

    import_run(job_id=job_id)
