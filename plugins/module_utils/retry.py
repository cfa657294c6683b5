# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one retry policy: 429, 503, 504 and "operation in progress", bounded backoff with a deadline."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import random
import re
import time

RETRYABLE_CODES = (429, 503, 504)
# container: "Cluster is running incompatible operation ...", "operation ... is already in progress";
# compute: "The resource '...' is not ready" (reason resourceNotReady).
IN_PROGRESS = re.compile(r"incompatible operation|already in progress|operation in progress|is not ready"
                         r"|resourceNotReady|please try again later", re.IGNORECASE)


def status_code(exc):
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    return getattr(exc, "status_code", None)


def is_retryable(exc):
    """True for errors that go away by themselves: throttling, unavailability, a busy resource."""
    code = status_code(exc)
    if code in RETRYABLE_CODES:
        return True
    if code in (400, 409, 412) and IN_PROGRESS.search(str(getattr(exc, "message", "") or exc)):
        return True
    return False


class RetryPolicy:
    """Exponential backoff with jitter, bounded by ``deadline`` seconds overall."""

    def __init__(self, initial=1.0, maximum=30.0, multiplier=2.0, deadline=300.0,
                 sleep=time.sleep, clock=time.monotonic, jitter=random.random):
        self.initial, self.maximum, self.multiplier, self.deadline = initial, maximum, multiplier, deadline
        self.sleep, self.clock, self.jitter = sleep, clock, jitter

    def delays(self):
        delay = self.initial
        while True:
            yield delay * (0.5 + self.jitter() / 2)
            delay = min(delay * self.multiplier, self.maximum)

    def call(self, func, *args, **kwargs):
        """Call ``func``; retry retryable errors until the deadline, then re-raise the last one."""
        start = self.clock()
        attempts = 0
        for delay in self.delays():
            attempts += 1
            try:
                return func(*args, **kwargs)
            except Exception as exc:  # pylint: disable=broad-except
                if not is_retryable(exc) or self.clock() + delay - start > self.deadline:
                    exc.retry_attempts = attempts
                    raise
                self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover
