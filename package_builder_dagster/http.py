"""HTTP sessions (requests) for the npm registry, the remote artifact cache and the demo's Verdaccio.

`session()` behaves as requests does by default (no retries). `session(retries, pause)` tries a GET
again, after `pause` seconds, when it could not connect, timed out, lost its connection or was
answered 5xx. Statuses are never raised: callers turn them into their own messages.
"""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry


class PausedRetry(Retry):
    """urllib3's Retry waiting `backoff_factor` seconds before every retry (urllib3 waits 0 s before the first)."""

    def get_backoff_time(self) -> float:
        return self.backoff_factor


def session(retries: int = 0, pause: float = 0.0) -> requests.Session:
    """A requests session; with `retries`, a transient GET failure is tried again after `pause` seconds."""
    http = requests.Session()
    if retries:
        policy = PausedRetry(total=retries, backoff_factor=pause, status_forcelist=range(500, 1000),
                             allowed_methods=frozenset({"GET"}), raise_on_status=False, respect_retry_after_header=False)
        http.mount("http://", HTTPAdapter(max_retries=policy))
        http.mount("https://", HTTPAdapter(max_retries=policy))
    return http


def root_reason(exc: BaseException) -> str:
    """What failed beneath a requests/urllib3 error, as the socket said it (`[Errno 111] Connection
    refused`, `timed out`): the wrappers around it name connection pools and URLs, not causes."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and not isinstance(current, requests.RequestException):
            return str(current)
        todo += [e for e in (getattr(current, "reason", None), *current.args, current.__cause__, current.__context__)
                 if isinstance(e, BaseException)]
    return str(exc)
