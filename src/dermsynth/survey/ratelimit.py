"""Exponential backoff on authentication attempts (:class:`Backoff`) and the study's policy
(:class:`AuthLimits`): who is limited, by what key, at what rate.

Every attempt is charged *before* the secret is checked (:meth:`Backoff.begin`), and a success
refunds it (:meth:`Backoff.success`). So parallel guesses cannot slip through together: after
``free`` charged attempts a key is locked for ``base * 2**(k-1)`` seconds after its k-th extra
attempt (capped at ``cap``), and attempts while locked are refused without looking at the password.
A sleep after a wrong password (the old defence) slows one request thread, not fifty in parallel.
Where guessing is hopeless anyway (192-bit reader tokens) and many honest clients share an address
(a hospital behind one NAT), :meth:`Backoff.check` + :meth:`Backoff.failure` charge failures only.
A key's history is forgotten ``forget_after`` seconds after its last charged attempt.

State lives in the server process (one uvicorn process serves a study); a restart forgets it.

The policy (issue 25.1: before, limits were global and checked before a valid session or link, so 36
wrong passwords from 12 addresses locked out the logged-in organiser, 231 made-up links from 11
addresses locked out every reader, and a revoked reader's browser locked out a hospital's NAT):

- A **valid secret is never limited**: a reader's link or cookie (192 random bits) and the admin's
  session cookie (256 bits) are looked up first and accepted whatever any lock says. Guessing them is
  hopeless at any rate (2**-192 per guess and reader), so only *invalid* ones are counted, per client
  address (failures only), and a locked address gets 429 for invalid ones only. There is no global
  lock on them: it is what let anyone lock everyone out.
- A revoked reader's token is recognised (403 "revoked") and never counted.
- **Password attempts** (form login, HTTP Basic on exports) are charged before the password is
  checked, per client address (``ADDRESS_FREE``) *and* per credential over all addresses
  (``CREDENTIAL_FREE``): many addresses cannot guess faster than one. A browser that logged in
  successfully before carries a signed device cookie; its attempts are charged to that device
  alone (``DEVICE_FREE``), so the organiser can still log in while the credential is under attack
  (OWASP "device cookies"). Only a successful login hands one out.
- After ``free`` attempts a key waits ``1, 2, 4, ... s`` up to ``CAP`` (15 min) per further attempt:
  password guessing from any number of addresses (without a device cookie) reaches the check at most
  ``CREDENTIAL_FREE`` + 11 = 21 times in the first 17 minutes, 23 in the first hour, then 4 times
  per hour (:func:`max_checks`); one address alone 3 + 1 + 10 in 17 minutes.
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


#: Password attempts per client address, and over all addresses (the one admin credential), before
#: backoff; attempts from a browser with a device cookie (it logged in before), per device.
ADDRESS_FREE, CREDENTIAL_FREE, DEVICE_FREE = 3, 10, 5
#: Invalid reader tokens / invalid admin session cookies per client address (failures only).
READER_FAILURES_FREE, SESSION_FAILURES_FREE = 20, 3
#: Backoff: first wait (s) and longest wait (s).
BASE, CAP = 1.0, 900.0


def max_checks(seconds: float, free: int = CREDENTIAL_FREE, base: float = BASE, cap: float = CAP) -> int:
    """The most attempts one key lets through in ``seconds`` (the attacker tries the instant each
    wait ends): ``free`` at once, then one per wait ``base * 2**(k-1)`` capped at ``cap``."""
    n, t, k = free, 0.0, 0
    while True:
        k += 1
        t += min(cap, base * 2 ** (k - 1))
        if t > seconds:
            return n + 1  # the attempt that started the last wait
        n += 1


class AuthLimits:
    """The study's limits (module doc). Every method returns seconds to wait (0: go ahead)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.address = Backoff(ADDRESS_FREE, BASE, CAP, clock)
        self.credential = Backoff(CREDENTIAL_FREE, BASE, CAP, clock)
        self.device = Backoff(DEVICE_FREE, BASE, CAP, clock)
        self.reader_failures = Backoff(READER_FAILURES_FREE, BASE, CAP, clock)
        self.session_failures = Backoff(SESSION_FAILURES_FREE, BASE, CAP, clock)

    def limiters(self) -> tuple[Backoff, ...]:
        return (self.address, self.credential, self.device, self.reader_failures, self.session_failures)

    def set_clock(self, clock: Callable[[], float]) -> None:
        for b in self.limiters():
            b.clock = clock

    def begin_password(self, client: str, device: str | None) -> float:
        """Charge one password attempt (before the password is looked at): to the device if the
        browser has a valid device cookie, else to the client address and the credential."""
        if device:
            return self.device.begin(device)
        wait = self.address.begin(client)
        return wait or self.credential.begin("admin")

    def password_ok(self, client: str, device: str | None) -> None:
        """Right password: forget this client's (or device's) attempts and the credential's."""
        if device:
            self.device.success(device)
        else:
            self.address.success(client)
        self.credential.success("admin")

    def invalid_secret(self, kind: str, client: str) -> float:
        """An invalid reader token (``kind`` "reader") or admin session cookie ("session") from
        ``client``: 429 seconds if the address is locked, else it is counted and 0 returned."""
        b = self.reader_failures if kind == "reader" else self.session_failures
        wait = b.check(client)
        if wait <= 0:
            b.failure(client)
        return wait
