# SPDX-License-Identifier: BSD-3-Clause
"""Where the jobs of an A/B sweep run: worker threads on this machine, or a Dask cluster.

A job is one encode + decode in its own work directory under ``OUT``; its
record (``job.json``) is written atomically once the decoded image has been
checked, so a job that dies half-way leaves nothing that a rerun or the
summary would read. That is the whole contract with a cluster: ``OUT`` (and
the images, and the upstream copy under ``OUT``) must be on a filesystem every
worker sees at the same path.

``local`` runs ``--workers`` jobs at once in threads of this process, each job
in child processes, and stops the sweep at the first failed job.

``dask`` hands the jobs to a Dask distributed scheduler: the one at
``--scheduler ADDRESS`` (any cluster, e.g. one dask-jobqueue started on SLURM
or PBS), or, without an address, a local cluster of ``--workers`` worker
processes started for this sweep. Each job asks for a resource: ``jobs=1``
on the CPU, ``GPU=1/jobs_per_gpu`` with ``--device cuda``; workers offer them
(``dask worker ADDRESS --nthreads 1 --resources jobs=1``, or ``--nthreads 4
--resources GPU=1`` for a GPU shared by 4 jobs), so no worker runs more jobs
than it offers. A worker that dies mid-job (killed, machine lost) has its job
run again elsewhere by the scheduler; a job that fails twice (one retry) is
reported with its error while the others go on; Ctrl-C cancels the jobs not
yet finished. Workers must run the same mrc-coolchic as the driver: each is
checked before the sweep (and each job checks its worker again).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass

from coolchic.ab.jobs import Job, run_job, software_identity
from coolchic.ab.process import JobError
from coolchic.errors import ConfigError

EXECUTORS = ("local", "dask")
#: Resource a CPU job asks of a Dask worker; a CUDA job asks for a share of ``GPU``.
CPU_RESOURCE, GPU_RESOURCE = "jobs", "GPU"
#: Attempts of a job that raises before it is reported as failed (a lost worker is not one).
ATTEMPTS = 2
FIRST_WORKER_TIMEOUT_S = 120

Done = Callable[[Job, dict], None]


def check_workers(identities: dict[str, str], expected: str) -> None:
    """Refuse, in one line, the first worker whose software is not the driver's."""
    for worker, identity in sorted(identities.items()):
        if identity != expected:
            raise ConfigError(f"worker {worker} runs mrc-coolchic {identity}, this driver "
                              f"{expected}: install the same version on every worker")


@dataclass(frozen=True)
class Failure:
    job: Job
    error: str


def run_local(jobs: list[Job], workers: int, threads: int, done: Done) -> list[Failure]:
    """Today's executor: threads of this process; the first failure stops the sweep."""
    pool = ThreadPoolExecutor(workers)
    running = {pool.submit(run_job, job, threads): job for job in jobs}
    try:
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                job = running.pop(future)
                done(job, future.result())
    finally:
        # On an error or Ctrl-C, start nothing more; jobs without job.json rerun next time.
        pool.shutdown(wait=True, cancel_futures=True)
    return []


def run_remote_job(job: Job, threads: int, expected: str) -> dict:
    """What a Dask worker runs: check its software, then the job (``threads`` 0: its share)."""
    identity = software_identity()
    if identity != expected:
        raise JobError(f"this worker runs mrc-coolchic {identity}, the driver {expected}")
    if not threads:
        from distributed import get_worker

        threads = max(1, (os.cpu_count() or 1) // max(get_worker().state.nthreads, 1))
    return run_job(job, threads)


def job_resources(device: str, jobs_per_gpu: int) -> dict[str, float]:
    if device.startswith("cuda"):
        return {GPU_RESOURCE: 1.0 / jobs_per_gpu}
    return {CPU_RESOURCE: 1.0}


def run_dask(jobs: list[Job], scheduler: str | None, workers: int, threads: int, device: str,
             jobs_per_gpu: int, done: Done) -> list[Failure]:
    """Run ``jobs`` on a Dask cluster; return the jobs that failed twice, with their errors."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ConfigError("--executor dask needs Dask distributed: pip install 'distributed>=2024.1'"
                          ) from None
    resources = job_resources(device, jobs_per_gpu)
    cluster = None
    if scheduler is None:
        # Each worker process offers what one job asks: --workers jobs at once, on any device.
        # Its workers' logs (a failed job's traceback among them) would bury the progress bar:
        # failures are reported once, at the end.
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               resources=resources, dashboard_address=None,
                               silence_logs=logging.CRITICAL)
    try:
        client = Client(cluster if cluster is not None else scheduler, timeout="30s")
    except OSError as error:
        raise ConfigError(f"--scheduler {scheduler}: cannot connect ({error})") from None
    failures: list[Failure] = []
    futures = {}
    try:
        expected = software_identity()
        _check_resources(client, resources, scheduler)
        check_workers(client.run(software_identity), expected)
        for job in jobs:
            future = client.submit(run_remote_job, job, threads, expected, pure=False,
                                   retries=ATTEMPTS - 1, resources=resources,
                                   key=f"ab-{job.key()[:16]}-{job.variant.label}")
            futures[future] = job
        for future in as_completed(list(futures)):
            job = futures.pop(future)
            if future.status == "finished":
                done(job, future.result())
            else:
                failures.append(Failure(job, _error_of(future)))
    finally:
        # Ctrl-C or an error: cancel what has not finished; finished jobs have their job.json.
        if futures:
            client.cancel(list(futures), force=True)
        client.close()
        if cluster is not None:
            cluster.close()
    return failures


def _error_of(future) -> str:
    try:
        error = future.exception()
    except Exception as raised:  # noqa: BLE001 - e.g. the task was cancelled or lost
        error = raised
    return f"{type(error).__name__}: {error}" if error is not None else future.status


def _check_resources(client, resources: dict[str, float], scheduler: str | None) -> None:
    """At least one worker (waiting a while for the first) offers what the jobs ask."""
    try:
        client.wait_for_workers(1, timeout=FIRST_WORKER_TIMEOUT_S)
    except TimeoutError:
        raise ConfigError(f"no worker joined the Dask cluster at {scheduler} within "
                          f"{FIRST_WORKER_TIMEOUT_S} s") from None
    workers = client.scheduler_info().get("workers", {})
    for name, amount in resources.items():
        if not any(w.get("resources", {}).get(name, 0) >= amount for w in workers.values()):
            raise ConfigError(f"no worker of the Dask cluster at {scheduler} offers the "
                              f"resource {name} (start workers with --resources {name}=1)")


def describe_failures(failures: Iterable[Failure]) -> str:
    failures = list(failures)
    first = failures[0]
    return (f"{len(failures)} job(s) failed twice, the others finished (rerun the same command "
            f"to retry them); first: {first.job.name}: {first.error}")
