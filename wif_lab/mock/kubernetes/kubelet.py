"""The kubelet both lab clusters share: it keeps every pod's token files fresh.

The AKS-style cluster (:mod:`.cluster`) and the self-managed one (:mod:`.self_managed`) hold different pods and
volume types (projected volumes for Entra and the direct path; the default ``kube-api-access`` token and projected
ones), but their kubelets do the same thing: on each sync, replace every token file older than the refresh point
(80 % of its lifetime, or 24 h), and on a lab's request, replace them all now. A cluster mixes :class:`Kubelet`
in and says how to list its pods, a pod's volumes, and how to write one volume's file.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from typing import Any, Protocol


class TokenVolume(Protocol):
    rotations: int

    def due(self, now: float, fraction: float) -> bool: ...


class _SyncLoop(threading.Thread):
    """Runs the kubelet's sync every ``poll_seconds``; holds the cluster weakly, so a dropped lab ends the thread."""

    def __init__(self, cluster: Kubelet, poll_seconds: float) -> None:
        super().__init__(name="wif-lab-kubelet", daemon=True)
        self._cluster = weakref.ref(cluster)
        self.poll_seconds = poll_seconds
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.poll_seconds):
            cluster = self._cluster()
            if cluster is None:
                return
            cluster.refresh_due()
            del cluster


class Kubelet:
    """Mixed into a cluster: ``rotate`` (every file now), ``refresh_due`` (one sync) and the background loop.

    The cluster provides ``ctx`` (its clock), ``refresh_fraction``, ``_lock``, ``_pods`` (a dict of its pods),
    ``_volumes(pod)`` and ``_write(pod, volume, now)``.
    """

    ctx: Any
    refresh_fraction: float
    _lock: threading.RLock
    _pods: dict[Any, Any]
    _kubelet: _SyncLoop | None = None

    def _volumes(self, pod: Any) -> Iterable[Any]:
        raise NotImplementedError

    def _write(self, pod: Any, volume: Any, now: float | None = None) -> None:
        raise NotImplementedError

    def _replace(self, pods: Iterable[Any], now: float | None, due_at: float | None) -> list[Any]:
        rotated = []
        for pod in pods:
            for volume in self._volumes(pod):
                if due_at is None or volume.due(due_at, self.refresh_fraction):
                    self._write(pod, volume, now)
                    volume.rotations += 1
                    rotated.append(volume)
        return rotated

    def rotate(self, pod: Any = None, *, now: float | None = None, pods: Iterable[Any] | None = None) -> list[Any]:
        """Refresh every token file of ``pod`` (or of ``pods``; default: every pod), whatever its age; ``now`` sets
        the new tokens' ``iat`` (default: the lab clock)."""
        with self._lock:
            chosen = [pod] if pod is not None else list(pods) if pods is not None else list(self._pods.values())
            return self._replace(chosen, now, None)

    def refresh_due(self, now: float | None = None) -> list[Any]:
        """One kubelet sync: replace the token files past their refresh point."""
        now = self.ctx.clock() if now is None else now
        with self._lock:
            return self._replace(list(self._pods.values()), now, now)

    def start_kubelet(self, poll_seconds: float = 30.0) -> None:
        """Refresh due tokens in the background, checking every ``poll_seconds``."""
        with self._lock:
            if self._kubelet is None or not self._kubelet.is_alive():
                self._kubelet = _SyncLoop(self, poll_seconds)
                self._kubelet.start()

    def stop_kubelet(self) -> None:
        kubelet, self._kubelet = self._kubelet, None
        if kubelet is not None:
            kubelet.stopped.set()
            kubelet.join(timeout=5)

    def close(self) -> None:
        """Called by the stack on stop: the kubelet thread ends with the cluster."""
        self.stop_kubelet()
