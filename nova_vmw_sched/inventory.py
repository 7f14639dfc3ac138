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
"""Placement inventories and usage of clusters, kept fresh off the request
path by a refresher thread and a small pool of readers started on first use
in each process (doc/source/capacity.rst, "Inventories, usage and the
cache"; what each mechanism buys: doc/source/benchmarks.rst, "Inventory
cache").
"""

from concurrent import futures
import functools
import itertools
import os
import queue
import threading
import time

from oslo_log import log as logging

import nova.conf

from nova_vmw_sched import cluster
from nova_vmw_sched import conf as vmw_conf
from nova_vmw_sched.inventory_sources import (  # noqa: F401 (named here)
    ClusterInventory, InventoryUnavailable, MEMORY_MB, PlacementSource,
    PlacementUsageSource, Resource, StaticSource, VCPU, from_placement,
    usages_from_summaries)

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF
#: refresher turns without a request for an entry before it is forgotten
EVICT_AFTER = 3
#: seconds between two looks of the refresher
TICK = 1.0
#: usage (vCPUs, MB) is kept as one int vCPUs << 40 | MB (benchmarks.rst)
_SHIFT, _MASK = 40, (1 << 40) - 1
#: priorities of the pool's work: first reads, those of the request that asks
#: for the fewest first (a pinned request does not queue behind an unpinned
#: one), before refreshes; the end of a thread last
_FIRST, _REFRESH, _END = 0, 1, 9
_option = functools.partial(vmw_conf.read_option, CONF)


class _NotACluster:
    def __repr__(self):
        return 'NOT_A_CLUSTER'


#: what :meth:`InventoryCache.for_hosts` gives for a node that is not a
#: VMware cluster (KVM, ironic)
NOT_A_CLUSTER = _NotACluster()


def _pack(vcpus, memory_mb):
    return (int(vcpus) << _SHIFT) | (int(memory_mb) & _MASK)


class _Entry:
    """A provider's inventory, last error, idle turns and usage (packed)."""

    __slots__ = ('value', 'error', 'idle', 'used', 'base')

    def __init__(self):
        self.value = self.error = self.used = self.base = None
        self.idle = 0


class _Pool:
    """Reader threads taking reads in order of priority (:data:`_FIRST`)."""

    def __init__(self, size):
        self.size, self._queue = size, queue.PriorityQueue()
        self._seq = itertools.count()
        for index in range(size):
            threading.Thread(target=self._work, daemon=True,
                             name='vmw-inventory-reader-%d' % index).start()

    def submit(self, priority, call, *args):
        future = futures.Future()
        self._queue.put((priority, next(self._seq), future, call, args))
        return future

    def _work(self):
        while True:
            _p, _s, future, call, args = self._queue.get()
            if future is None:
                return
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(call(*args))
                except BaseException as e:
                    future.set_exception(e)

    def shutdown(self, cancel=False):
        """End the threads once the reads queued are done (or cancelled)."""
        while cancel:
            try:
                self._queue.get_nowait()[2].cancel()
            except queue.Empty:
                break
        for _ in range(self.size):
            self._queue.put(((_END,), next(self._seq), None, None, ()))


class InventoryCache:
    """Cluster inventories and usage by rp uuid, refreshed in background."""

    def __init__(self, source=None, clock=time.monotonic, usage_source=None):
        self.source = source if source is not None else PlacementSource()
        self.usage_source = usage_source  # None: nova's figure alone
        self._clock, self._lock = clock, threading.RLock()
        self._pid = self._pool = self._stop = None
        self.clear()

    def _entry(self, rp_uuid):
        try:
            return self._entries.get(rp_uuid)
        except TypeError:  # unhashable garbage
            return None

    def get(self, rp_uuid):
        return getattr(self._entry(rp_uuid), 'value', None)

    def why_missing(self, rp_uuid):
        """Why :meth:`get` gives None for ``rp_uuid``, for log messages."""
        if rp_uuid is None:
            return 'the host has no compute node uuid'
        try:
            error = getattr(self._entries.get(rp_uuid), 'error', None)
        except TypeError:
            return 'the host has no valid compute node uuid'
        if error or rp_uuid not in self._pending:
            return error or 'its inventory has not been read from placement'
        return ('its inventory is being read from placement and was not read '
                'within [vmware_scheduler] cluster_inventory_first_read_wait')

    def usage(self, rp_uuid, nova_used):
        """``(vCPUs, MB)`` used: per resource the larger of ``nova_used`` (the
        HostState's figure less the inventory's reserved) and placement's at
        the last usage read plus nova's growth over its lowest figure since"""
        entry = self._entry(rp_uuid)
        if entry is None or entry.used is None:
            return nova_used
        (vcpus, mb), base, used = nova_used, entry.base, entry.used
        if base is None or vcpus < base >> _SHIFT or mb < base & _MASK:
            # the first figure since the usage read, or nova counts less
            base = entry.base = _pack(*nova_used) if base is None else _pack(
                min(vcpus, base >> _SHIFT), min(mb, base & _MASK))
        return (max(vcpus, (used >> _SHIFT) + vcpus - (base >> _SHIFT)),
                max(mb, (used & _MASK) + mb - (base & _MASK)))

    def for_hosts(self, context, host_states, wait=None):
        """Each host's :class:`ClusterInventory`, :data:`NOT_A_CLUSTER` or
        None (:meth:`why_missing`); clusters never read are :meth:`warm`-ed"""
        cluster_of, entry_of = cluster.cluster_of, self._entries.get
        pending, result, unread = self._pending, [], []
        for host_state in host_states:
            if cluster_of(host_state) is None:
                result.append(NOT_A_CLUSTER)
                continue
            rp_uuid = getattr(host_state, 'uuid', None)
            entry = entry_of(rp_uuid) if isinstance(rp_uuid, str) else None
            if entry is None or (entry.value is None and rp_uuid in pending):
                unread.append((len(result), rp_uuid))  # warm() drops garbage
            elif entry.idle:
                entry.idle = 0
            result.append(None if entry is None else entry.value)
        self.warm(context, [u for _i, u in unread], wait)
        for index, rp_uuid in unread:
            result[index] = self.get(rp_uuid)
        return result

    def warm(self, context, rp_uuids, wait=None):
        """Have the pool read the providers of ``rp_uuids`` never read, and
        wait for them (and those other requests wait for) up to ``wait``
        seconds in all (``cluster_inventory_first_read_wait`` when None).
        Returns the number of providers new to the cache."""
        deadline = time.monotonic() + (_option(
            'cluster_inventory_first_read_wait') if wait is None else wait)
        inline = getattr(self.source, 'inline', False)
        pool = None if inline else self._start()
        asked = list(dict.fromkeys(u for u in rp_uuids if isinstance(u, str)))
        rank = len(asked)
        with self._lock:
            new = [u for u in asked if u not in self._entries]
            pending, is_new = self._pending, set(new)
            for rp_uuid in asked if pool is not None else ():
                # a read queued by a request that asked for more is queued
                # again at this one's rank (the first to run reads)
                if rp_uuid in is_new or pending.get(rp_uuid,
                                                    (0, 0))[1] > rank:
                    pending[rp_uuid] = (pool.submit(
                        (_FIRST, rank), self._read, context, rp_uuid, True),
                        rank)
            for rp_uuid in new:  # pending before it is seen (for_hosts)
                self._add(rp_uuid)
            waits = [pending[u][0] for u in asked if u in pending]
        for rp_uuid in new if inline else ():
            self._read(context, rp_uuid)
        if waits:
            futures.wait(waits, max(0.0, deadline - time.monotonic()))
        return len(new)

    def _add(self, rp_uuid):
        entry = self._entries[rp_uuid] = _Entry()
        self._order.append(rp_uuid)
        return entry

    def _read(self, context, rp_uuid, first=False):
        """Read one provider (a first read once); keep the last on failure."""
        if first:
            # under the lock: warm() adds the entry after queueing its read
            with self._lock:
                if getattr(self._entry(rp_uuid), 'value', 0) is not None:
                    return
        try:
            value = from_placement(self.source(context, rp_uuid) or {})
            error = None if value is not None else (
                'placement has no valid VCPU and MEMORY_MB inventory for it')
        except Exception as e:
            value, error = None, 'reading its inventory from placement ' \
                'failed: %s' % (str(e) or type(e).__name__)
        with self._lock:
            entry = self._entries.get(rp_uuid)
            if entry is not None and value is not None:
                entry.value, entry.error = value, None
                self._retry.pop(rp_uuid, None)
            self._pending.pop(rp_uuid, None)  # after the value: for_hosts
            if entry is None or value is not None:
                return
            entry.error = error
            failures = self._retry.get(rp_uuid, (0, 0))[1] + 1
            delay = min(_option('cluster_inventory_cache_ttl'),
                        _option('cluster_inventory_retry_interval') *
                        2 ** min(failures - 1, 30))
            self._retry[rp_uuid] = (self._clock() + delay, failures)
        LOG.warning('Resource provider %(uuid)s: %(error)s; %(outcome)s '
                    'until it is read again in %(delay)s seconds.',
                    {'uuid': rp_uuid, 'error': error, 'delay': round(delay, 1),
                     'outcome': 'keeping the inventory read before'
                     if entry.value is not None else 'the capacity filter '
                     'refuses its cluster and the headroom weigher weighs it '
                     'last'})

    def run_due(self, now=None):
        """Start the reads due by ``now`` (an inline source's here), and
        return their number: failed reads whose back-off is over and the
        next ``clusters x seconds since the last call / TTL`` entries of the
        circle, forgetting those not asked for in :data:`EVICT_AFTER` turns.
        """
        now = self._clock() if now is None else now
        due, ttl = [], _option('cluster_inventory_cache_ttl')
        with self._lock:
            count = len(self._entries)
            self._credit = min(count, self._credit + count * max(
                0.0, now - self._last) / ttl)
            self._last = now
            for rp_uuid, (when, failures) in list(self._retry.items()):
                if when <= now:
                    self._retry[rp_uuid] = (float('inf'), failures)
                    due.append(rp_uuid)
            while self._credit >= 1 and count:
                if self._hand >= len(self._order):
                    self._order, self._hand = list(self._entries), 0
                rp_uuid = self._order[self._hand]
                self._hand, self._credit = self._hand + 1, self._credit - 1
                entry = self._entries.get(rp_uuid)
                if entry is None or rp_uuid in self._pending:
                    continue  # forgotten, or its first read under way
                if entry.idle >= EVICT_AFTER:
                    del self._entries[rp_uuid]
                    self._retry.pop(rp_uuid, None)
                    continue
                entry.idle += 1
                if rp_uuid not in self._retry:
                    due.append(rp_uuid)
        pool = self._pool
        for rp_uuid in due:
            if getattr(self.source, 'inline', False) or pool is None:
                self._read(None, rp_uuid)
            else:
                pool.submit((_REFRESH, 0), self._read, None, rp_uuid)
        return len(due)

    def refresh_usage(self, context=None):
        """True if all providers' usage was read; keep the last on failure."""
        if self.usage_source is None:
            return False
        try:
            usages = self.usage_source(context)
        except Exception as e:
            LOG.warning('Reading the usage of clusters from placement '
                        'failed: %(error)s; the capacity filter and the '
                        'headroom weigher keep the figures read before '
                        '(or nova\'s own where there are none).',
                        {'error': str(e) or type(e).__name__})
            return False
        with self._lock:
            for rp_uuid, entry in self._entries.items():
                used = usages.get(rp_uuid)
                entry.used, entry.base = used and _pack(*used), None
        return True

    def _start(self):
        """The pool, started in this process (not the parent's after a
        fork) and resized to the option (the old one drains)."""
        size = _option('cluster_inventory_refresh_workers')
        with self._lock:
            if self._pid != os.getpid():
                self.stop()
                self._pid, self._last = os.getpid(), self._clock()
                self._stop = threading.Event()
                threading.Thread(target=self._refresher, args=(self._stop,),
                                 name='vmw-inventory-refresher',
                                 daemon=True).start()
            if self._pool is None or self._pool.size != size:
                if self._pool is not None:
                    self._pool.shutdown()
                self._pool = _Pool(size)
            return self._pool

    def _refresher(self, stop):
        while not stop.is_set() and stop is self._stop:
            try:
                self.run_due()
                interval = _option('cluster_usage_refresh_interval')
                now = self._clock()
                if interval > 0 and self.usage_source is not None and (
                        self._usage_due is None or now >= self._usage_due):
                    self._usage_due = now + interval
                    self.refresh_usage()
                elif interval <= 0 and self._usage_due is not None:
                    self._usage_due = None  # turned off: nova's figure alone
                    for entry in list(self._entries.values()):
                        entry.used = None
                self._start()  # the pool's size may have changed
            except Exception:  # never let the refresher die
                LOG.exception('The inventory refresher failed; going on')
            stop.wait(TICK)

    def stop(self):
        """End the threads (tests; after a fork, drop them) and forget the
        first reads under way (the next use starts them again)."""
        with self._lock:
            if self._pid == os.getpid():
                self._stop.set()
                self._pool.shutdown(cancel=True)
            for rp_uuid in self._pending:
                if getattr(self._entries.get(rp_uuid), 'value', 0) is None:
                    del self._entries[rp_uuid]
            self._pid = self._pool = self._stop = None
            self._pending = {}

    def prime(self, rp_uuid, inventories, used=None):
        """Store placement's ``inventories`` (and usage ``(vCPUs, MB)``) as
        just read; ValueError without a valid VCPU and MEMORY_MB."""
        value = from_placement(inventories)
        if value is None:
            raise ValueError('no valid VCPU and MEMORY_MB inventory')
        with self._lock:
            entry = self._entries.get(rp_uuid) or self._add(rp_uuid)
            entry.value, entry.error = value, None
            self._retry.pop(rp_uuid, None)
            if used is not None:
                entry.used, entry.base = _pack(*used), None

    def clear(self):
        """Forget everything (tests, simulators)."""
        with self._lock:
            # {uuid: _Entry}, and the refresher's circle over them
            self._entries, self._order, self._hand = {}, [], 0
            # {uuid: (clock time of the next try, failures in a row)}, and
            # {uuid: (future of its first read, rank)}
            self._retry, self._pending = {}, {}
            self._credit, self._usage_due = 0.0, None
            self._last = self._clock()
