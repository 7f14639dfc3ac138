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
"""The placement keeper: a thread of each nova-scheduler process that loaded
the package's filters runs the duties (:mod:`nova_vmw_sched.duties`) every
``[vmware_scheduler] placement_sync_interval`` seconds. Each duty writes
only what differs from what it reads, so several processes converge.
"""

import os
import threading

from oslo_log import log as logging

import nova.conf
from nova_vmw_sched import conf as vmw_conf

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF

#: a generation conflict is tried again this many times within one run
CONFLICT_RETRIES = 4
#: seconds between two looks at ``placement_sync_interval`` while it is 0
OFF_RECHECK = 60.0


class PlacementError(Exception):
    """placement refused or failed a read or a write."""


class Conflict(Exception):
    """placement answered 409: another writer changed the data first."""


def retrying(write, what):
    """``write()`` (which re-reads what it needs) until it does not raise
    :class:`Conflict`; None after :data:`CONFLICT_RETRIES` retries."""
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
    """The HA reserve ``(vCPUs, MB)`` by rp uuid last found in placement."""

    def __init__(self):
        self._held = {}
        #: a reserve run looked at every cluster (or found nothing held)
        self.complete = False
        #: {rp uuid: (provider generation, policy)} of reserves found right
        self.right = {}

    def set_held(self, rp_uuid, amounts):
        self._held[rp_uuid] = tuple(amounts)

    def clear_held(self):
        self._held.clear()

    def held_in_all(self):
        return (sum(v for v, _m in self._held.values()),
                sum(m for _v, m in self._held.values()))

    def held(self, rp_uuid):
        """``(vCPUs, MB)`` held for a cluster; ``(0, 0)`` where no keeper
        runs in this process; None while the keeper runs but has not looked
        at the cluster yet (its usage cannot be told from its reserve)."""
        amounts = self._held.get(rp_uuid)
        if amounts is not None:
            return amounts
        return (0, 0) if self.complete or not self.running() else None

    def running(self):
        return False

    def start(self):
        pass


#: a keeper that never starts (tests, benchmarks, the simulator)
Off = Held


class Keeper(Held):
    """Runs the duties in a background thread of this process."""

    def __init__(self, run):
        super().__init__()
        self._run = run
        self._lock = threading.Lock()
        self._pid = self._stop = self._thread = None
        self._off = False
        self._wake = threading.Event()

    def start(self):
        """Start the thread in this process, once (again after a fork). It
        runs the duties while ``placement_sync_interval`` is above 0 and
        looks at the option again every :data:`OFF_RECHECK` seconds while it
        is 0 (the option is mutable)."""
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid, self._stop = os.getpid(), threading.Event()
            self._off = vmw_conf.read_option(
                CONF, 'placement_sync_interval') <= 0
            self._thread = threading.Thread(
                target=self._loop, args=(self._stop,),
                name='vmw-placement-keeper', daemon=True)
            self._thread.start()

    def running(self):
        thread = self._thread
        return (self._pid == os.getpid() and thread is not None and
                thread.is_alive() and not self._off)

    def stop(self, timeout=10.0):
        with self._lock:
            stop, thread = self._stop, self._thread
            self._pid = self._stop = self._thread = None
        if stop is not None:
            stop.set()
            self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _loop(self, stop):
        while not stop.is_set():
            interval = vmw_conf.read_option(CONF, 'placement_sync_interval')
            self._off = interval <= 0
            if not self._off:
                self._run_once()
            self._wake.wait(OFF_RECHECK if self._off else interval)
            self._wake.clear()

    def _run_once(self):
        try:
            for name, lines in self._run(known=self).items():
                for line in lines:
                    LOG.info('Placement keeper (%(duty)s): %(line)s',
                             {'duty': name, 'line': line})
        except Exception as e:
            # placement or a database down: the next run tries again
            LOG.warning('Placement keeper run failed: %s', e)
