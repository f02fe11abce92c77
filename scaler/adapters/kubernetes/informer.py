"""List-then-watch of one resource into the cache, the way client-go's reflector does it.

* A paged list (`limit`/`continue`) gives the objects and the resourceVersion to watch from;
  a continue token that expired mid-list (410) restarts the list.
* The watch asks for bookmarks, so the resourceVersion keeps moving while nothing changes
  and a reconnect resumes without a relist; a server-side `timeoutSeconds` ends each watch
  and the next one resumes from the last resourceVersion seen.
* A client-side read timeout ends a watch that went silent (a dropped connection sends
  nothing, and without one the cache would freeze unnoticed).
* `410 Gone` (the history was compacted) and a periodic resync both relist.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from scaler.adapters.kubernetes.cache import ClusterCache, Kind
from scaler.adapters.kubernetes.client import JSON, TIMEOUT, Kube, KubeApiError, object_path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WatchSettings:
    page_size: int = 500
    watch_timeout: float = 300.0  # server-side timeoutSeconds of one watch request
    read_timeout: float = 90.0  # no byte for this long: the watch is dead (bookmarks ~1/min)
    relist_period: float = 1800.0  # full relist this often, to heal anything missed
    backoff_base: float = 0.5
    backoff_cap: float = 30.0


class Gone(Exception):
    """410: the resourceVersion is older than the server's history."""


class Reflector:
    def __init__(self, kube: Kube, kind: Kind, cache: ClusterCache,
                 settings: WatchSettings | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.kube = kube
        self.kind = kind
        self.cache = cache
        self.settings = settings or WatchSettings()
        self.clock = clock
        self.synced = threading.Event()
        self.resource_version = ""
        self.lists = 0  # how many full lists (1 + relists), for tests and metrics
        self.last_error: str | None = None
        self._path = object_path(kind.group_version, kind.plural)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- one step at a time (the thread runs these) --------------------------------------

    def list(self) -> None:
        while True:
            items: list[JSON] = []
            token: str | None = None
            try:
                while True:
                    page = self.kube.request(
                        "GET", self._path,
                        query={"limit": self.settings.page_size, "continue": token},
                        what=f"list {self.kind.plural}")
                    items.extend(page.get("items") or [])
                    meta = page.get("metadata") or {}
                    token = meta.get("continue") or None
                    if not token:
                        rv = str(meta.get("resourceVersion", ""))
                        break
            except KubeApiError as e:
                if e.status == 410 and token:
                    log.info("list %s: continue token expired; listing again", self.kind.plural)
                    continue
                raise
            for item in items:  # list items carry no kind; watch events do
                item.setdefault("kind", self.kind.kind)
                item.setdefault("apiVersion", self.kind.group_version)
            self.cache.replace(self.kind, items)
            self.resource_version = rv
            self.lists += 1
            self.synced.set()
            return

    def watch(self, seconds: float) -> None:
        """One watch request from the current resourceVersion; raises Gone on 410."""
        query = {
            "watch": True,
            "resourceVersion": self.resource_version,
            "allowWatchBookmarks": True,
            "timeoutSeconds": max(1, int(seconds)),
        }
        timeout = (self.kube.settings.connect_timeout, self.settings.read_timeout)
        for event in self.kube.stream(self._path, query, timeout, f"watch {self.kind.plural}"):
            kind = event.get("type")
            obj = event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") == 410:
                    raise Gone(str(obj.get("message", "")))
                raise KubeApiError(f"watch {self.kind.plural}", int(obj.get("code") or 0),
                                   str(obj.get("reason", "")), str(obj.get("message", "")))
            rv = str((obj.get("metadata") or {}).get("resourceVersion", ""))
            if kind in ("ADDED", "MODIFIED", "DELETED"):
                self.cache.apply(self.kind, kind, obj)
            if rv:
                self.resource_version = rv
            if self._stop.is_set():
                return

    def run(self) -> None:
        """List, then watch until stopped; relist on 410 and every relist period."""
        failures = 0
        need_list = True
        listed_at = 0.0
        while not self._stop.is_set():
            try:
                if need_list:
                    self.list()
                    listed_at = self.clock()
                    need_list = False
                left = self.settings.relist_period - (self.clock() - listed_at)
                if left <= 0:
                    need_list = True
                    continue
                self.watch(min(self.settings.watch_timeout, left))
                failures = 0
            except Gone as e:
                log.info("watch %s: %s; relisting", self.kind.plural, e)
                need_list = True
            except KubeApiError as e:
                if e.reason == TIMEOUT and not need_list:
                    # A watch that went silent: normal on flaky networks; watch again.
                    log.info("watch %s went silent; watching again from %s", self.kind.plural,
                             self.resource_version)
                    continue
                self.last_error = str(e)
                if e.status == 404 and "." in self.kind.group_version.split("/")[0]:
                    self.last_error += (f" (is the {self.kind.kind} CustomResourceDefinition "
                                        "installed? helm/scaler/crds/)")
                failures += 1
                delay = min(self.settings.backoff_cap,
                            self.settings.backoff_base * 2 ** min(failures - 1, 10))
                delay *= 0.5 + random.random() / 2
                delay = max(delay, e.retry_after or 0.0)  # a 429's Retry-After, at least
                log.warning("%s; retrying in %.1fs", self.last_error, delay)
                self._stop.wait(delay)

    def start(self) -> Reflector:
        self._thread = threading.Thread(target=self.run, daemon=True,
                                        name=f"reflector-{self.kind.plural}")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()


class Informers:
    """One reflector per watched kind, sharing one cache."""

    def __init__(self, kube: Kube, cache: ClusterCache, kinds: tuple[Kind, ...],
                 settings: WatchSettings | None = None) -> None:
        self.reflectors = [Reflector(kube, k, cache, settings) for k in kinds]

    def start(self) -> Informers:
        for r in self.reflectors:
            r.start()
        return self

    def wait_synced(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        return all(r.synced.wait(max(0.0, deadline - time.monotonic()))
                   for r in self.reflectors)

    def stop(self) -> None:
        for r in self.reflectors:
            r.stop()
