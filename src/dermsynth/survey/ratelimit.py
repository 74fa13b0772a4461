"""Exponential backoff on authentication attempts (admin password, Basic auth, session cookies,
reader links), per client address and over all clients.

Every attempt is charged *before* the secret is checked (:meth:`Backoff.begin`), and a success
refunds it (:meth:`Backoff.success`). So parallel guesses cannot slip through together: after
``free`` charged attempts a key is locked for ``base * 2**(k-1)`` seconds after its k-th extra
attempt (capped at ``cap``), and attempts while locked are refused without looking at the password.
A sleep after a wrong password (the old defence) slows one request thread, not fifty in parallel.
Where guessing is hopeless anyway (192-bit reader tokens) and many honest clients share an address
(a hospital behind one NAT), :meth:`Backoff.check` + :meth:`Backoff.failure` charge failures only.
A key's history is forgotten ``forget_after`` seconds after its last charged attempt.

State lives in the server process (one uvicorn process serves a study); a restart forgets it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _State:
    charged: int = 0
    locked_until: float = 0.0
    last: float = 0.0


class Backoff:
    """Per-key exponential backoff; thread-safe; ``clock`` is injectable for tests."""

    def __init__(
        self,
        free: int = 3,
        base: float = 1.0,
        cap: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
        forget_after: float = 3600.0,
    ):
        self.free, self.base, self.cap, self.clock = free, base, cap, clock
        self.forget_after = forget_after
        self._state: dict[str, _State] = {}
        self._lock = threading.Lock()

    def _wait(self, keys: tuple[str, ...], now: float) -> float:
        for k in keys:
            st = self._state.get(k)
            if st is not None and now - st.last > self.forget_after and now >= st.locked_until:
                del self._state[k]
        return max((self._state[k].locked_until - now for k in keys if k in self._state), default=0.0)

    def _charge(self, keys: tuple[str, ...], now: float) -> None:
        for k in keys:
            st = self._state.setdefault(k, _State())
            st.charged += 1
            st.last = now
            extra = st.charged - self.free
            if extra > 0:
                st.locked_until = now + min(self.cap, self.base * 2 ** (extra - 1))

    def begin(self, *keys: str) -> float:
        """Charge one attempt to every key; 0 if it may proceed, else seconds to wait (nothing charged)."""
        now = self.clock()
        with self._lock:
            wait = self._wait(keys, now)
            if wait <= 0:
                self._charge(keys, now)
            return max(wait, 0.0)

    def check(self, *keys: str) -> float:
        """Seconds to wait before an attempt (0: go ahead); charges nothing."""
        with self._lock:
            return max(self._wait(keys, self.clock()), 0.0)

    def failure(self, *keys: str) -> None:
        """Charge a failed attempt (with :meth:`check`, for limits that count failures only)."""
        with self._lock:
            self._charge(keys, self.clock())

    def success(self, *keys: str) -> None:
        """The attempt was legitimate: forget the keys' history."""
        with self._lock:
            for k in keys:
                self._state.pop(k, None)

    def charged(self, key: str) -> int:
        with self._lock:
            return self._state[key].charged if key in self._state else 0
