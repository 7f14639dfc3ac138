#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""The one component that keeps the package's state in placement.

It has duties, each a function ``duty(context, client, dry_run=False)``
that reads what nova and placement hold, works out what placement should
hold, writes only what differs and returns one line per change made (or,
with ``dry_run``, that it would make). Every duty follows the same rules:

* it converges by itself: the keeper runs each duty every
  ``[vmware_scheduler] placement_sync_interval`` seconds in every
  nova-scheduler process that loaded the package's filters;
* it is idempotent: what it writes is a function of what nova and placement
  hold, so several scheduler processes write the same thing, and a second
  run right after the first writes nothing;
* placement's generation conflicts are retried (:func:`retrying`), a few
  times, then left to the next run;
* nothing is written when nothing differs;
* ``nova-vmw-sched sync-placement`` runs the same duties once, for an audit
  (``--dry-run``) or an immediate repair.

The duties: :func:`nova_vmw_sched.reserve.sync` (the vSphere HA reserve of
each cluster, held as allocations) and
:func:`nova_vmw_sched.aggregates.sync` (placement aggregates per cluster).
"""

import os
import threading
import time

from oslo_log import log as logging

import nova.conf
from nova_vmw_sched import conf as vmw_conf

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF

#: a generation conflict is tried again this many times within one run
CONFLICT_RETRIES = 4


class PlacementError(Exception):
    """placement refused or failed a read or a write."""


class Conflict(Exception):
    """placement answered 409: another writer changed the data first."""


def retrying(write, what):
    """Call ``write()`` until it does not raise :class:`Conflict`.

    ``write`` re-reads what it needs each time. After
    :data:`CONFLICT_RETRIES` conflicts the change is left to the next run.

    :returns: what ``write`` returns, or None if every try conflicted
    """
    for attempt in range(CONFLICT_RETRIES + 1):
        try:
            return write()
        except Conflict as e:
            LOG.debug('Placement conflict on %(what)s (try %(n)d): %(e)s',
                      {'what': what, 'n': attempt + 1, 'e': e})
    LOG.warning('Gave up on %(what)s after %(n)d placement conflicts; the '
                'next run of the keeper tries again.',
                {'what': what, 'n': CONFLICT_RETRIES + 1})
    return None


class Held:
    """The HA reserve (``(vCPUs, MB)`` by rp uuid) the reserve duty last
    found held in placement (:mod:`nova_vmw_sched.reserve`); placement's
    usage includes it."""

    def __init__(self):
        self._held = {}
        #: a run of the reserve duty has looked at every cluster (or found
        #: that nothing is held anywhere)
        self.complete = False
        #: {rp uuid: (provider generation, policy)} of reserves found right
        self.right = {}

    def set_held(self, rp_uuid, amounts):
        self._held[rp_uuid] = tuple(amounts)

    def clear_held(self):
        self._held.clear()

    def held_in_all(self):
        """``(vCPUs, MB)``: the sum of what :meth:`held` knows."""
        return (sum(v for v, _m in self._held.values()),
                sum(m for _v, m in self._held.values()))

    def mark_complete(self):
        self.complete = True

    def held(self, rp_uuid):
        """``(vCPUs, MB)`` of the HA reserve held in placement for a
        cluster, as this keeper last read or wrote it.

        None while the keeper runs but has not yet looked at the cluster
        (after a start, until its first run ends): placement's usage of the
        cluster cannot be told from its reserve then. ``(0, 0)`` where no
        keeper runs in this process.
        """
        amounts = self._held.get(rp_uuid)
        if amounts is not None:
            return amounts
        if self.complete or not self.running():
            return (0, 0)
        return None

    def running(self):
        return False


class Keeper(Held):
    """Runs the duties in a background thread of this process."""

    def __init__(self, run, clock=time.monotonic):
        """:param run: runs the duties once, ``run(known=keeper)``
        (:func:`nova_vmw_sched.duties.run_once`)"""
        super().__init__()
        self._run = run
        self._clock = clock
        self._lock = threading.Lock()
        self._pid = None
        self._stop = None
        self._thread = None
        self._wake = threading.Event()
        #: completed runs (tests wait on it)
        self.runs = 0
        self._ran = threading.Condition()

    def start(self):
        """Start the thread in this process, once (again after a fork)."""
        if vmw_conf.read_option(CONF, 'placement_sync_interval') <= 0:
            return
        pid = os.getpid()
        if self._pid == pid:
            return
        with self._lock:
            if self._pid == pid:
                return
            self._pid = pid
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._loop, args=(self._stop,),
                name='vmw-placement-keeper', daemon=True)
            self._thread.start()

    def running(self):
        """True if the thread runs in this process."""
        thread = self._thread
        return (self._pid == os.getpid() and thread is not None and
                thread.is_alive())

    def poke(self):
        """Run the duties now rather than at the end of the interval."""
        self._wake.set()

    def stop(self, timeout=10.0):
        with self._lock:
            stop, thread = self._stop, self._thread
            self._pid = self._stop = self._thread = None
        if stop is not None:
            stop.set()
            self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def wait_for_runs(self, count, timeout):
        """Wait until ``count`` runs have completed; True if they have."""
        deadline = self._clock() + timeout
        with self._ran:
            while self.runs < count:
                left = deadline - self._clock()
                if left <= 0:
                    return False
                self._ran.wait(min(left, 0.5))
        return True

    def _loop(self, stop):
        while not stop.is_set():
            try:
                changes = self._run(known=self)
                for name, lines in changes.items():
                    for line in lines:
                        LOG.info('Placement keeper (%(duty)s): %(line)s',
                                 {'duty': name, 'line': line})
            except Exception as e:
                # placement or a database down: the next run tries again
                LOG.warning('Placement keeper run failed: %s', e)
            with self._ran:
                self.runs += 1
                self._ran.notify_all()
            interval = vmw_conf.read_option(CONF, 'placement_sync_interval')
            if interval <= 0:
                break
            self._wake.wait(interval)
            self._wake.clear()


class Off(Held):
    """A keeper that never starts (unit tests, benchmarks, the simulator).
    """

    runs = 0

    def start(self):
        pass

    def poke(self):
        pass

    def stop(self, timeout=0):
        pass
