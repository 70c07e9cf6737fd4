"""Background jobs that outlive the worker running them: labelloop's one background system.

A job is a row of the store: its kind, its parameters (JSON), its status, its owner (the worker
process running it) and a heartbeat. Imports, training (with its rescoring and routing, also
when a project retrains itself after ``retrain.every`` new labels) and label-error checks all run
as jobs.

* :mod:`~labelloop.jobs.queue` — queue a job, read, list and update jobs, take the next one;
* :mod:`~labelloop.jobs.kinds` — what each kind does (:data:`~labelloop.jobs.kinds.JOB_KINDS`);
* :mod:`~labelloop.jobs.runner` — run one job with a heartbeat; take over orphaned jobs;
* :mod:`~labelloop.jobs.worker` — one thread per process that runs the queued jobs.

A job whose worker was killed stops beating; another worker (or the next to start) queues it
again and runs it from its parameters — every kind is safe to repeat — at most
:data:`~labelloop.jobs.runner.MAX_ATTEMPTS` times. A failed job keeps its reason.
"""

from typing import Literal, get_args

#: A job's states: queued, then running (in one worker), then done or failed.
Status = Literal["queued", "running", "done", "failed"]
STATUSES: tuple[Status, ...] = get_args(Status)
