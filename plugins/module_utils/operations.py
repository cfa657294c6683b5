# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one long-running-operation waiter for compute, container, gkehub and service-usage operations.

Polls with a growing interval, an eighth of the time waited so far (never faster than ``poll_initial``,
never slower than ``poll_max``), until the operation is done or ``timeout`` seconds have passed: a done
operation is seen at most an eighth of its duration late (and ``poll_max`` at most). With the defaults that is
about 30 polls in the first 80 seconds, then one every ``poll_max``. Every poll goes through the retry policy, so a
503 while polling does not fail a 10-minute cluster creation.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.gke_inference.multicluster.plugins.module_utils import progress


# The interval is the time waited so far divided by this (an operation of a few seconds, a second at most late).
GROWTH = 8.0


class OperationError(Exception):
    """The operation finished with an error; ``code`` is the API's error code when it gave one."""

    def __init__(self, message, code=None, http_status=None):
        super(OperationError, self).__init__(message)
        self.message, self.code, self.http_status = message, code, http_status


class OperationTimeout(Exception):
    """The operation did not finish in time (it goes on at Google)."""


class Waiter:
    def __init__(self, retry, timeout=1800, poll_initial=0.25, poll_max=10.0, sleep=None, clock=time.monotonic):
        self.retry, self.timeout = retry, timeout
        self.poll_initial, self.poll_max = poll_initial, poll_max
        self.sleep, self.clock = sleep or time.sleep, clock

    def wait(self, op, poll, state, describe):
        """Wait for ``op``.

        ``poll(op)`` returns the operation's new version; ``state(op)`` returns ``(done, error)`` where
        ``error`` is None or ``(message, code, http_status)``. Returns the final operation.
        """
        start = self.clock()
        while True:
            done, error = state(op)
            if done:
                progress.done()
                if error:
                    raise OperationError(*error)
                return op
            progress.report(describe, progress.state_of(op), self.clock() - start)
            if self.clock() - start >= self.timeout:
                progress.done()
                raise OperationTimeout(
                    "%s: still running after %d s (operation %s). It goes on at Google: re-run the playbook to "
                    "pick it up, or raise the module's timeout option." % (describe, self.timeout, _name(op)))
            self.sleep(min(self.poll_max, max(self.poll_initial, (self.clock() - start) / GROWTH)))
            op = self.retry.call(poll, op)


def _name(op):
    return getattr(op, "name", None) or "?"


# -- how each API spells "done" and "error" ----------------------------------------------------
def compute_state(op):
    """compute_v1.Operation: DONE status; errors in ``error.errors`` (and httpErrorStatusCode)."""
    from google.cloud import compute_v1

    if op.status != compute_v1.Operation.Status.DONE:
        return False, None
    errors = list(op.error.errors) if op.error else []
    if errors:
        message = "; ".join(e.message for e in errors)
        return True, (message, errors[0].code, op.http_error_status_code or None)
    return True, None


def container_state(op):
    """container_v1.Operation: DONE status; errors in ``error`` (google.rpc.Status) or statusMessage."""
    from google.cloud import container_v1

    if op.status != container_v1.Operation.Status.DONE:
        return False, None
    if op.error and op.error.message:
        return True, (op.error.message, op.error.code or None, None)
    if op.status_message:
        return True, (op.status_message, None, None)
    return True, None


def longrunning_state(op):
    """google.longrunning.Operation (gkehub, service usage)."""
    if not op.done:
        return False, None
    if op.HasField("error"):
        return True, (op.error.message, op.error.code, None)
    return True, None
