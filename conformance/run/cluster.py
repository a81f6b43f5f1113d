"""Campaign shards on a Dask cluster: ``--cluster local:N`` starts a LocalCluster of N worker
processes on this machine; ``--cluster tcp://host:8786`` uses a running scheduler, whose workers
need vetgrad with its ``conformance`` extra installed (and the engine under test importable).

Each shard is one ``run_campaign`` call; the reports stream back as shards finish and are merged
by the caller exactly as ``--workers`` merges local processes (graph ``i`` depends only on the
seed, so the merged report is that of one run over the same graphs).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence


class ClusterError(Exception):
    """The cluster cannot be used (no Dask, a bad address, no workers): exit status 2."""


def _import() -> Any:
    try:
        import distributed
    except ImportError:
        from vetgrad._extras import install_hint

        raise ClusterError("--cluster needs Dask (dask.distributed), which is not installed: "
                           + install_hint("cluster")) from None
    return distributed


class Cluster:
    """A Dask client for ``address`` (``local:N`` or a scheduler address); close it when done."""

    def __init__(self, address: str) -> None:
        distributed = _import()
        self._local = None
        if address.startswith("local:"):
            try:
                n = int(address.partition(":")[2])
            except ValueError:
                n = 0
            if n < 1:
                raise ClusterError(f"--cluster local:N needs a number of workers >= 1, got {address!r}")
            self._local = distributed.LocalCluster(n_workers=n, threads_per_worker=1,
                                                   processes=True, dashboard_address=None)
            self.client = distributed.Client(self._local)
        else:
            try:
                self.client = distributed.Client(address, timeout="10s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise ClusterError(f"cannot reach the Dask scheduler at {address!r}: {exc}") from None
        self.size = len(self.client.scheduler_info().get("workers", {}))
        if self.size < 1:
            self.close()
            raise ClusterError(f"the Dask scheduler at {address!r} has no workers")

    def run(self, function: Callable[[Any], Any], jobs: Sequence[Any],
            done: Callable[[int, int, int, Any], None] | None = None) -> list[Any]:
        """``function(job)`` for every job on the cluster; results in the jobs' order. ``done(k,
        n, i, result)`` is called as the k-th of n results (job ``i``'s) arrives."""
        distributed = _import()
        futures = self.client.map(function, list(jobs), pure=False)
        where = {f.key: i for i, f in enumerate(futures)}
        results: list[Any] = [None] * len(futures)
        for k, (future, result) in enumerate(distributed.as_completed(futures, with_results=True), 1):
            results[where[future.key]] = result
            if done is not None:
                done(k, len(futures), where[future.key], result)
        return results

    def close(self) -> None:
        self.client.close()
        if self._local is not None:
            self._local.close()


def run_job(job: Any) -> Any:
    """One share of a campaign (a conformance.run.config.Campaign) on a cluster worker: its
    report."""
    from vetgrad.conformance.run.campaign import run_campaign

    return run_campaign(job)
