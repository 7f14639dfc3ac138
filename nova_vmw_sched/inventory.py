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
path.

A cluster's ``VCPU`` and ``MEMORY_MB`` inventories carry what its compute
node does not: ``max_unit`` (nova's vmwareapi driver reports the largest
ESXi host there), ``reserved`` and the allocation ratios placement applies.
Placement's allocation candidates carry capacity and usage but no
``max_unit``, so the inventories are read with one call per resource
provider (``GET /resource_providers/{uuid}/inventories``), through nova's
scheduler report client.

The process-wide :class:`InventoryCache` (:func:`get_cache`) is keyed by
resource provider uuid (``HostState.uuid``) and shared by all requests of a
scheduler process. Requests only look values up; reading is done by the
cache's own threads (started on first use in each process, after nova's
service has forked its workers; they are green threads where nova runs on
eventlet):

* :meth:`InventoryCache.for_hosts` gives the inventory of each host of a
  list, in one pass, without any call for a cluster it has read before,
  however old that value is. A cluster never read is read at once by the
  pool (``[vmware_scheduler] cluster_inventory_refresh_workers`` threads,
  these first reads before any refresh) and the request waits for it at
  most ``cluster_inventory_first_read_wait`` seconds in all. What is not
  read by then is *not known* for that request (a request that needs fewer
  clusters read goes first): the capacity filter refuses
  it and the headroom weigher weighs it last, as for a failed read. When
  the wait runs out, the pool makes no read for about the time the request
  takes to go through its hosts (:data:`STEP_ASIDE_PER_HOST` each, at most
  the wait), so as not to slow it further by taking the GIL.
* The refresher re-reads every entry about every
  ``cluster_inventory_cache_ttl`` seconds: the first time anywhere within
  the TTL after the entry's first read, later up to a tenth of the TTL
  early (each by a share fixed for the entry), so that the entries a
  restart reads together are refreshed at an even rate of ``clusters /
  TTL`` per second, never all at once. A failed read, or a provider
  without ``VCPU`` and ``MEMORY_MB`` inventory, keeps the last value read;
  a provider never read has none (:meth:`InventoryCache.why_missing` says
  why). Failed reads are retried after ``cluster_inventory_retry_interval``
  seconds, doubled after
  each further failure up to the TTL, with one WARNING per failed read, so
  one per cluster per back-off. An entry no request has asked for during
  :data:`EVICT_AFTER` refresh periods is forgotten (a deleted cluster).
* Usage: every ``cluster_usage_refresh_interval`` seconds the refresher
  reads what placement counts as used on every provider with one call
  (``GET /allocation_candidates?resources=MEMORY_MB:1``, whose provider
  summaries carry each provider's usage). :meth:`InventoryCache.usage`
  combines it with nova's own figure (the HostState's), which counts what
  the scheduler placed since but not the instances of a cluster that still
  name a service that no longer manages it (a takeover): the larger of
  nova's figure and placement's figure plus what nova counted on top of
  what it counted when it first saw that placement figure.

The *sources* are the seams: ``source(context, rp_uuid)`` returns
placement's ``inventories`` dict (``{resource class: {"total": ...,
"reserved": ..., "max_unit": ..., "allocation_ratio": ...}}``), an empty
dict for a provider without inventory, or raises; ``usage_source(context)``
returns ``{rp uuid: (vCPUs used, MB used)}`` or raises.
:class:`PlacementSource` and :class:`PlacementUsageSource` are the
defaults; :func:`set_source` and :func:`set_usage_source` swap them. A
source whose ``inline`` attribute is true (:class:`StaticSource`, for the
simulator and tests) is read on the calling thread, with no threads at
all. :meth:`InventoryCache.prime` fills the cache without any source.
"""

import os
import queue
import random
import threading
import time
import typing as ty

from oslo_log import log as logging

import nova.conf

from nova_vmw_sched import cluster
from nova_vmw_sched import keeper
from nova_vmw_sched import conf as vmw_conf

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF

VCPU = 'VCPU'
MEMORY_MB = 'MEMORY_MB'

#: refresh periods without a request asking for an entry before it is
#: forgotten
EVICT_AFTER = 3
#: the largest share of the TTL by which an entry's refresh comes early
JITTER = 0.1
#: the fewest seconds between two looks of the refresher at the entries
#: due
TICK = 0.5
#: the most seconds between two looks (when nothing falls due sooner): an
#: idle refresher wakes up this seldom, and idle readers never, so that
#: they do not take the GIL from requests for nothing
IDLE_TICK = 2.0
#: what :meth:`InventoryCache.stop` queues to end each reader
_SENTINEL = ((-1, 0), 0, None, None)
#: seconds of a request's own work per host, as the pool estimates it when
#: it steps aside for a request whose first-read wait ran out
STEP_ASIDE_PER_HOST = 50e-6

_FIRST, _REFRESH = 0, 1
#: usage figures are packed into one int: vCPUs << _SHIFT | MB
_SHIFT = 40
_MASK = (1 << _SHIFT) - 1


_NEVER = float('-inf')


class _NotACluster:
    def __repr__(self):
        return 'NOT_A_CLUSTER'


#: what :meth:`InventoryCache.for_hosts` gives for a node that is not a
#: VMware cluster (KVM, ironic)
NOT_A_CLUSTER = _NotACluster()


class Resource(ty.NamedTuple):
    """One resource class of a cluster's inventory, as placement has it."""

    total: int
    reserved: int
    max_unit: int
    allocation_ratio: float

    @property
    def capacity(self):
        """Placement's capacity: ``(total - reserved) * ratio``."""
        return (self.total - self.reserved) * self.allocation_ratio

    @property
    def largest_host(self):
        """The largest ESXi host's share of the capacity."""
        return self.max_unit * self.allocation_ratio

    @property
    def fit_limit(self):
        """The most one instance may ask for: the largest host's size.

        An overcommit ratio does not make a VM larger than its host fit; a
        ratio below 1 shrinks what the host offers.
        """
        return self.max_unit * min(1.0, self.allocation_ratio)


class ClusterInventory:
    """The ``VCPU`` and ``MEMORY_MB`` inventory of one cluster.

    Besides the two :class:`Resource` records it carries the amounts the
    per-host rules need, computed once when the inventory is read.
    Instances are immutable and compare by their two records.
    """

    __slots__ = ('vcpu', 'memory_mb', 'fit_vcpus', 'fit_memory_mb',
                 'capacity_vcpus', 'capacity_memory_mb', 'largest_vcpus',
                 'largest_memory_mb', 'reserved_vcpus', 'reserved_memory_mb')

    def __init__(self, vcpu: Resource, memory_mb: Resource):
        setattr_ = object.__setattr__
        for name, value in (
                ('vcpu', vcpu), ('memory_mb', memory_mb),
                ('fit_vcpus', vcpu.fit_limit),
                ('fit_memory_mb', memory_mb.fit_limit),
                ('capacity_vcpus', vcpu.capacity),
                ('capacity_memory_mb', memory_mb.capacity),
                ('largest_vcpus', vcpu.largest_host),
                ('largest_memory_mb', memory_mb.largest_host),
                ('reserved_vcpus', vcpu.reserved),
                ('reserved_memory_mb', memory_mb.reserved)):
            setattr_(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError('ClusterInventory is immutable')

    def _key(self):
        return (self.vcpu, self.memory_mb)

    def __eq__(self, other):
        if not isinstance(other, ClusterInventory):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return 'ClusterInventory(vcpu=%r, memory_mb=%r)' % self._key()


# Many clusters have the same inventory (the same number of the same ESXi
# hosts): they share one ClusterInventory. Bounded; past the bound new
# shapes are simply not shared.
_SHAPES_LIMIT = 10000
_shapes: dict = {}


def _shared(vcpu, memory_mb):
    key = (vcpu, memory_mb)
    value = _shapes.get(key)
    if value is None:
        value = ClusterInventory(vcpu, memory_mb)
        if len(_shapes) < _SHAPES_LIMIT:
            value = _shapes.setdefault(key, value)
    return value


def _resource(record):
    total = int(record['total'])
    reserved = int(record.get('reserved') or 0)
    max_unit = int(record.get('max_unit') or total)
    ratio = record.get('allocation_ratio')
    ratio = 1.0 if ratio is None else float(ratio)
    if total < 0 or reserved < 0 or max_unit < 0 or not ratio >= 0:
        raise ValueError('negative value')
    return Resource(total, reserved, max_unit, ratio)


def from_placement(inventories) -> ty.Optional[ClusterInventory]:
    """Build a :class:`ClusterInventory` from placement's ``inventories``.

    None when ``VCPU`` or ``MEMORY_MB`` is missing or malformed.
    """
    try:
        return _shared(_resource(inventories[VCPU]),
                       _resource(inventories[MEMORY_MB]))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


class InventoryUnavailable(Exception):
    """Placement did not answer a read of inventories."""


class PlacementSource:
    """Read inventories from placement with nova's report client."""

    inline = False

    def __init__(self, client=None):
        self._client = client

    def __call__(self, context, rp_uuid):
        # nova's SchedulerReportClient._get_inventory() makes this call but
        # is private and answers None for a 404 and a 500 alike; get() is
        # its public transport and keeps the status.
        from nova.scheduler.client import report
        client = self._client or report.report_client_singleton()
        resp = client.get('/resource_providers/%s/inventories' % rp_uuid,
                          global_request_id=getattr(context, 'global_id',
                                                    None))
        if resp.status_code == 404:
            return {}
        if resp.status_code != 200:
            raise InventoryUnavailable(
                'placement answered %s: %s'
                % (resp.status_code, (resp.text or '')[:200]))
        return resp.json().get('inventories') or {}


class CountingSource:
    """Wrap a source and count its calls (for benchmarks and tests)."""

    def __init__(self, source):
        self.source = source
        #: read on the calling thread, as the wrapped source is
        self.inline = bool(getattr(source, 'inline', False))
        self._lock = threading.Lock()
        #: the uuids asked for, in order
        self.uuids = []

    @property
    def calls(self):
        return len(self.uuids)

    def reset(self):
        with self._lock:
            self.uuids = []

    def __call__(self, context, rp_uuid):
        with self._lock:
            self.uuids.append(rp_uuid)
        return self.source(context, rp_uuid)


class StaticSource:
    """Answer from a dict ``{rp uuid: inventories}`` (simulators, tests).

    A uuid that is not in the dict has no inventory; a value that is an
    exception instance is raised.
    """

    #: answers from memory: read on the calling thread, no threads
    inline = True

    def __init__(self, inventories=None):
        self.inventories = dict(inventories or {})

    def __call__(self, context, rp_uuid):
        value = self.inventories.get(rp_uuid, {})
        if isinstance(value, BaseException):
            raise value
        return value


class PlacementUsageSource:
    """Read every provider's usage from placement with one call.

    Placement has no call for the usages of many providers, but the
    provider summaries of allocation candidates carry, for each provider
    with a megabyte of memory free, the usage of each of its resource
    classes (all of them since microversion 1.27). A provider that is not
    in the answer has no memory free: placement gives it to no request.
    """

    QUERY = '/allocation_candidates?resources=MEMORY_MB:1'
    VERSION = '1.27'

    def __init__(self, client=None):
        self._client = client

    def __call__(self, context):
        from nova.scheduler.client import report
        client = self._client or report.report_client_singleton()
        resp = client.get(self.QUERY, version=self.VERSION,
                          global_request_id=getattr(context, 'global_id',
                                                    None))
        if resp.status_code != 200:
            raise InventoryUnavailable(
                'placement answered %s: %s'
                % (resp.status_code, (resp.text or '')[:200]))
        usages = usages_from_summaries(resp.json().get('provider_summaries'))
        # placement counts the HA reserve the keeper holds there as used;
        # the capacity rule counts the instances and holds the reserve back
        # (not known yet after a start: left out, nova's figure counts)
        for rp_uuid, (vcpus, memory_mb) in list(usages.items()):
            held = keeper.held(rp_uuid)
            if held is None:
                del usages[rp_uuid]
            elif held[0] or held[1]:
                usages[rp_uuid] = (max(0, vcpus - held[0]),
                                   max(0, memory_mb - held[1]))
        return usages


def usages_from_summaries(summaries) -> dict:
    """``{rp uuid: (vCPUs used, MB used)}`` of placement's provider
    summaries; providers with malformed figures are left out."""
    result = {}
    for rp_uuid, summary in (summaries or {}).items():
        try:
            resources = summary['resources']
            vcpus = resources.get(VCPU, {}).get('used', 0)
            memory_mb = resources[MEMORY_MB]['used']
            result[rp_uuid] = (max(0, int(vcpus)), max(0, int(memory_mb)))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    return result


class _Entry:
    """What the cache keeps of one provider (the cache: 196-208 bytes per
    cluster in the benchmark, with the dict and refresh buckets)."""

    __slots__ = ('value', 'error', 'idle', 'failures', 'used', 'gen',
                 'base', 'base_gen')

    def __init__(self):
        #: the last good ClusterInventory read, or None
        self.value = None
        #: why the last read gave no value, or None
        self.error = None
        #: refresh periods since a request last asked for it
        self.idle = 0
        #: failed reads in a row
        self.failures = 0
        #: placement's usage at the last usage read (packed), or None
        self.used = None
        #: the usage read it came from
        self.gen = None
        #: nova's usage (packed), the lowest seen since that usage read
        self.base = None
        #: the usage read ``base`` belongs to
        self.base_gen = None


def _pack(vcpus, memory_mb):
    return (int(vcpus) << _SHIFT) | (int(memory_mb) & _MASK)


def _unpack(value):
    return value >> _SHIFT, value & _MASK


def _share(rp_uuid):
    """The fixed share of the TTL by which ``rp_uuid`` is refreshed early."""
    return JITTER * ((hash(rp_uuid) & 0xffff) / 65536.0)


def _phase(rp_uuid):
    """The fixed share of the TTL, in [0, 1), by which the first refresh
    of ``rp_uuid`` after its first read comes early."""
    return ((hash(rp_uuid) >> 16) & 0xffff) / 65536.0


def _refresh_delay(rp_uuid, ttl, first):
    """Seconds from a good read of ``rp_uuid`` to its next read.

    After the first read of an entry, anywhere in the TTL (by a share fixed
    for each entry, :func:`_phase`): the thousands of entries a restart
    reads within seconds are then refreshed at an even rate of
    ``clusters / TTL`` per second from the start, rather than all together
    one TTL later; after that, up to :data:`JITTER` of the TTL early
    (:func:`_share`), so that they stay spread.
    """
    if first:
        return ttl * (1.0 - _phase(rp_uuid))
    return ttl * (1.0 - _share(rp_uuid))


class _Waiter:
    """A request waiting for the first reads of ``left`` providers."""

    __slots__ = ('left', 'done')

    def __init__(self):
        self.left = 0
        self.done = threading.Event()


def _release(inflight):
    """Wake every request waiting for a read of ``inflight``."""
    for waiters in inflight.values():
        for waiter in waiters:
            waiter.done.set()


class InventoryCache:
    """Cluster inventories and usage by resource provider uuid, shared by
    requests and kept fresh by background threads."""

    def __init__(self, source=None, clock=time.monotonic, usage_source=None):
        self.source = source if source is not None else PlacementSource()
        #: None: no usage reads (nova's figure alone)
        self.usage_source = usage_source
        self._clock = clock
        self._lock = threading.Lock()
        #: {uuid: _Entry}
        self._entries = {}
        #: {whole second: [uuid due then]}
        self._buckets = {}
        #: {uuid: [_Waiter]} of first reads under way
        self._inflight = {}
        #: uuids a worker is reading now
        self._reading = set()
        #: {uuid: the best priority of its first read in the queue}
        self._queued = {}
        self._usage_due = _NEVER
        #: monotonic time until which the pool makes no read (it steps
        #: aside for a request whose first-read wait ran out)
        self._aside_until = _NEVER
        #: the process the threads run in; None: not started
        self._pid = None
        self._queue = None
        self._stop = None
        self._workers = []
        self._seq = 0

    # -- per host: no I/O -----------------------------------------------------

    def get(self, rp_uuid) -> ty.Optional[ClusterInventory]:
        """The last inventory read for ``rp_uuid``; None if there is none."""
        try:
            entry = self._entries.get(rp_uuid)
        except TypeError:  # unhashable garbage
            return None
        return None if entry is None else entry.value

    def why_missing(self, rp_uuid):
        """Why :meth:`get` gives None for ``rp_uuid``, for log messages."""
        if rp_uuid is None:
            return 'the host has no compute node uuid'
        try:
            entry = self._entries.get(rp_uuid)
        except TypeError:
            return 'the host has no valid compute node uuid'
        if entry is not None and entry.error:
            return entry.error
        if rp_uuid in self._inflight:
            return ('its inventory is being read from placement and was not '
                    'read within [vmware_scheduler] '
                    'cluster_inventory_first_read_wait')
        return 'its inventory has not been read from placement'

    def usage(self, rp_uuid, nova_used):
        """``(vCPUs, MB)`` used on a cluster: nova's and placement's figure.

        :param nova_used: what nova's HostState counts as used (the
            instances of the cluster's service host on it, plus those the
            scheduler placed since its last update), less the inventory's
            reserved amounts
        :returns: per resource the larger of ``nova_used`` and placement's
            usage at the last usage read plus what nova counted on top of
            the lowest figure it had since then; ``nova_used`` when
            placement's usage of the cluster is not known
        """
        try:
            entry = self._entries.get(rp_uuid)
        except TypeError:
            return nova_used
        if entry is None or entry.used is None:
            return nova_used
        vcpus, memory_mb = nova_used
        gen = entry.gen
        if entry.base_gen is not gen:
            entry.base, entry.base_gen = _pack(vcpus, memory_mb), gen
            base_vcpus, base_mb = vcpus, memory_mb
        else:
            base_vcpus, base_mb = _unpack(entry.base)
            if vcpus < base_vcpus or memory_mb < base_mb:
                # nova counts less (an update from the compute, a delete):
                # what it counts from here on comes on top of that
                base_vcpus = min(base_vcpus, vcpus)
                base_mb = min(base_mb, memory_mb)
                entry.base = _pack(base_vcpus, base_mb)
        used_vcpus, used_mb = _unpack(entry.used)
        return (max(vcpus, used_vcpus + max(0, vcpus - base_vcpus)),
                max(memory_mb, used_mb + max(0, memory_mb - base_mb)))

    # -- per request ----------------------------------------------------------

    def for_hosts(self, context, host_states, wait=None):
        """The inventory of each host's cluster, in one pass over the hosts.

        Makes no call. Clusters never read are read first by the pool, and
        waited for up to ``wait`` seconds in all (``[vmware_scheduler]
        cluster_inventory_first_read_wait`` when None). Gives, aligned with
        ``host_states``, :data:`NOT_A_CLUSTER` for a node that is not a
        VMware cluster, None for a cluster whose inventory is not known
        (:meth:`why_missing` says why), else its :class:`ClusterInventory`.
        """
        cluster_of = cluster.cluster_of
        entry_of = self._entries.get
        inflight = self._inflight
        result = []
        append = result.append
        unread = []
        for host_state in host_states:
            if cluster_of(host_state) is None:
                append(NOT_A_CLUSTER)
                continue
            rp_uuid = getattr(host_state, 'uuid', None)
            if not isinstance(rp_uuid, str):
                append(None)
                continue
            entry = entry_of(rp_uuid)
            if entry is None or (entry.value is None and rp_uuid in inflight):
                unread.append((len(result), rp_uuid))
                append(None)
                continue
            if entry.idle:
                entry.idle = 0
            append(entry.value)
        self._start()
        if unread:
            self.warm(context, [u for _i, u in unread], wait,
                      hosts=len(result))
            for index, rp_uuid in unread:
                result[index] = self.get(rp_uuid)
        return result

    def warm(self, context, rp_uuids, wait=None, hosts=0):
        """Read the providers of ``rp_uuids`` that were never read, first.

        Waits for them (and for those another request is reading) up to
        ``wait`` seconds in all (``cluster_inventory_first_read_wait`` when
        None); with an inline source they are read here.

        :param hosts: the number of hosts the request goes on to filter or
            weigh: if the wait runs out, the pool makes no read for about
            the time that work takes (:data:`STEP_ASIDE_PER_HOST` each, at
            most ``wait``), so that the request, which has waited its
            share, is not slowed further by the pool's threads taking
            Python's GIL; the reads go on after that
        :returns: the number of reads it started
        """
        started = time.monotonic()
        if wait is None:
            wait = vmw_conf.read_option(CONF, 'cluster_inventory_first_read_wait')
        mine, theirs = [], []
        waiter = _Waiter()
        inline = self._inline()
        with self._lock:
            inflight = self._inflight
            for rp_uuid in dict.fromkeys(
                    u for u in rp_uuids if isinstance(u, str)):
                entry = self._entries.get(rp_uuid)
                if entry is None:
                    self._entries[rp_uuid] = _Entry()
                    inflight[rp_uuid] = [waiter]
                    mine.append(rp_uuid)
                elif rp_uuid in inflight:
                    inflight[rp_uuid].append(waiter)
                    theirs.append(rp_uuid)
            waiter.left = len(mine) + len(theirs)
            # A request that needs few clusters goes before one that needs
            # many (a pinned flavor before the first unpinned request after
            # a restart), also for the reads another request queued; a
            # read already queued at that priority or better is not queued
            # again (requests that keep meeting the same unread clusters
            # do not grow the queue).
            priority = (_FIRST, len(mine) + len(theirs))
            queued = self._queued
            put = []
            if not inline:
                for rp_uuid in mine + theirs:
                    if queued.get(rp_uuid, (_REFRESH, 0)) > priority and \
                            rp_uuid not in self._reading:
                        queued[rp_uuid] = priority
                        put.append(rp_uuid)
        if inline:
            for rp_uuid in mine:
                self._read(context, rp_uuid)
            return len(mine)
        self._start()
        self._put_many(priority, put, context)
        # the time spent queueing the reads counts in the wait
        left = started + wait - time.monotonic()
        if waiter.left and not waiter.done.wait(max(0.0, left)) and hosts:
            aside = time.monotonic() + min(wait, hosts * STEP_ASIDE_PER_HOST)
            if aside > self._aside_until:
                self._aside_until = aside
        return len(mine)

    # -- reading ----------------------------------------------------------------

    def _inline(self):
        return bool(getattr(self.source, 'inline', False))

    def _read(self, context, rp_uuid):
        """Read one provider, store the outcome, schedule its next read."""
        try:
            raw = self.source(context, rp_uuid)
        except Exception as e:
            error = 'reading its inventory from placement failed: %s' % (
                str(e) or type(e).__name__)
            value = None
        else:
            value = from_placement(raw or {})
            error = None if value is not None else (
                'placement has no valid VCPU and MEMORY_MB inventory for it')
        ttl = vmw_conf.read_option(CONF, 'cluster_inventory_cache_ttl')
        with self._lock:
            entry = self._entries.get(rp_uuid)
            waiters = self._inflight.pop(rp_uuid, None) or ()
            if not self._inflight:
                self._inflight = {}  # a dict keeps its size once emptied
            done = []
            for waiter in waiters:
                waiter.left -= 1
                if waiter.left <= 0:
                    done.append(waiter)
            if entry is not None:
                if value is not None:
                    delay = _refresh_delay(rp_uuid, ttl, entry.value is None)
                    entry.value, entry.error, entry.failures = value, None, 0
                else:
                    entry.error = error
                    entry.failures += 1
                    retry = vmw_conf.read_option(
                        CONF, 'cluster_inventory_retry_interval')
                    delay = min(ttl, retry * 2 ** min(entry.failures - 1, 30))
                self._schedule(rp_uuid, self._clock() + delay)
            last = None if entry is None else entry.value
        for waiter in done:
            waiter.done.set()
        if value is None and entry is not None:
            LOG.warning('Resource provider %(uuid)s: %(error)s; %(outcome)s '
                        'until it is read again in %(delay)s seconds.',
                        {'uuid': rp_uuid, 'error': error,
                         'delay': round(delay, 1),
                         'outcome': ('keeping the inventory read before'
                                     if last is not None else
                                     'the capacity filter refuses its '
                                     'cluster and the headroom weigher '
                                     'weighs it last')})
        return value is not None

    def _schedule(self, rp_uuid, when):
        """Put ``rp_uuid`` into the bucket of ``when`` (lock held)."""
        self._buckets.setdefault(int(when), []).append(rp_uuid)

    def run_due(self, now=None):
        """Start the reads of the entries due by ``now``; forget idle ones.

        The refresher calls it every :data:`TICK` seconds; with an inline
        source the reads are made here.

        :returns: the number of reads started
        """
        if now is None:
            now = self._clock()
        due = []
        with self._lock:
            if not self._buckets:
                return 0
            for second in [s for s in self._buckets if s <= now]:
                for rp_uuid in self._buckets.pop(second):
                    entry = self._entries.get(rp_uuid)
                    if entry is None:
                        continue
                    if entry.idle >= EVICT_AFTER:
                        del self._entries[rp_uuid]
                        continue
                    entry.idle += 1
                    due.append(rp_uuid)
        if self._inline():
            for rp_uuid in due:
                self._read(None, rp_uuid)
        else:
            self._put_many((_REFRESH, 0), due, None)
        return len(due)

    def refresh_usage(self, context=None):
        """Read placement's usage of every provider once, if a usage source
        is set; on failure keep the last figures (one WARNING per failed
        read).

        :returns: True if the usage was read
        """
        source = self.usage_source
        if source is None:
            return False
        try:
            usages = source(context)
        except Exception as e:
            LOG.warning('Reading the usage of clusters from placement '
                        'failed: %(error)s; the capacity filter and the '
                        'headroom weigher keep the figures read before '
                        '(or nova\'s own where there are none).',
                        {'error': str(e) or type(e).__name__})
            return False
        gen = object()
        get = usages.get
        with self._lock:
            for rp_uuid, entry in self._entries.items():
                used = get(rp_uuid)
                entry.used = None if used is None else _pack(*used)
                entry.gen = gen
        return True

    # -- the threads --------------------------------------------------------------

    def _start(self):
        """Start the refresher and the pool in this process, once."""
        pid = os.getpid()
        if self._pid == pid or self._inline():
            return
        with self._lock:
            if self._pid == pid:
                return
            if self._pid is not None:
                # forked: the parent's threads are not here, nor are its
                # reads under way
                for rp_uuid in list(self._inflight):
                    entry = self._entries.get(rp_uuid)
                    if entry is not None and entry.value is None:
                        del self._entries[rp_uuid]
                self._inflight = {}
                self._queued = {}
            self._pid = pid
            self._queue = queue.PriorityQueue()
            self._stop = threading.Event()
            self._workers = []
            stop, work = self._stop, self._queue
            thread = threading.Thread(target=self._refresher, args=(stop,),
                                      name='vmw-inventory-refresher',
                                      daemon=True)
            thread.start()
            self._workers.append(thread)
            self._grow(work, stop)

    def _grow(self, work, stop):
        """Start workers up to ``cluster_inventory_refresh_workers``."""
        size = vmw_conf.read_option(CONF, 'cluster_inventory_refresh_workers')
        while len(self._workers) - 1 < size:
            index = len(self._workers) - 1
            thread = threading.Thread(target=self._worker,
                                      args=(index, work, stop),
                                      name='vmw-inventory-reader-%d' % index,
                                      daemon=True)
            thread.start()
            self._workers.append(thread)

    def _put_many(self, priority, rp_uuids, context):
        if not rp_uuids:
            return
        with self._lock:
            seq = self._seq
            self._seq += len(rp_uuids)
            work = self._queue
        if work is not None:
            put = work.put
            for rp_uuid in rp_uuids:
                seq += 1
                put((priority, seq, rp_uuid, context))

    def _refresher(self, stop):
        while not stop.is_set():
            try:
                self.run_due()
                now = self._clock()
                if self.usage_source is not None and now >= self._usage_due:
                    interval = vmw_conf.read_option(
                        CONF, 'cluster_usage_refresh_interval')
                    if interval > 0:
                        self._usage_due = now + interval
                        self.refresh_usage()
                    else:
                        self._usage_due = now + TICK * 10
                        self._forget_usage()
                with self._lock:
                    if not stop.is_set():
                        self._grow(self._queue, stop)
            except Exception:  # never let the refresher die
                LOG.exception('The inventory refresher failed; going on')
            stop.wait(self._next_look())

    def _next_look(self):
        """Seconds until the refresher's next look: when the next entry or
        the usage falls due, at least :data:`TICK`, at most
        :data:`IDLE_TICK`."""
        now = self._clock()
        soonest = self._usage_due if self.usage_source is not None \
            else float('inf')
        with self._lock:
            if self._buckets:
                soonest = min(soonest, min(self._buckets))
        return min(IDLE_TICK, max(TICK, soonest - now))

    def _forget_usage(self):
        with self._lock:
            for entry in self._entries.values():
                entry.used = None

    def _worker(self, index, work, stop):
        while not stop.is_set():
            item = work.get()   # no timeout: an idle reader never wakes up
            if item[2] is None:  # stop()
                return
            if index >= vmw_conf.read_option(
                    CONF, 'cluster_inventory_refresh_workers'):
                work.put(item)  # the pool shrank: leave it to the others
                with self._lock:
                    if self._workers and self._workers[-1] is \
                            threading.current_thread():
                        self._workers.pop()
                        return
                continue
            aside = self._aside_until - time.monotonic()
            if aside > 0:
                stop.wait(aside)
            priority, _seq, rp_uuid, context = item
            with self._lock:
                if priority[0] == _FIRST:
                    self._queued.pop(rp_uuid, None)
                    if not self._queued:
                        self._queued = {}  # free the emptied dict's table
                if rp_uuid in self._reading or (
                        priority[0] == _FIRST and
                        rp_uuid not in self._inflight):
                    continue  # read (or being read) for another request
                self._reading.add(rp_uuid)
            try:
                self._read(context, rp_uuid)
            except Exception:
                LOG.exception('Reading the inventory of %s failed', rp_uuid)
            finally:
                with self._lock:
                    self._reading.discard(rp_uuid)

    def stop(self, timeout=5.0):
        """Stop the threads (tests); they start again on the next use."""
        with self._lock:
            stop, workers = self._stop, list(self._workers)
            work = self._queue
            self._pid = None
            self._queue = None
            self._workers = []
            _release(self._inflight)
            self._inflight = {}
            self._queued = {}
        if stop is not None:
            stop.set()
        if work is not None:
            for _thread in workers:
                work.put(_SENTINEL)
        for thread in workers:
            if thread is not threading.current_thread():
                thread.join(timeout)

    # -- seams ----------------------------------------------------------------

    def prime(self, rp_uuid, inventories, used=None):
        """Store ``inventories`` (placement's format) as just read, and
        ``used`` (``(vCPUs, MB)``) as placement's usage if given.

        :raises ValueError: if they lack a valid VCPU and MEMORY_MB
        """
        value = from_placement(inventories)
        if value is None:
            raise ValueError('no valid VCPU and MEMORY_MB inventory')
        ttl = vmw_conf.read_option(CONF, 'cluster_inventory_cache_ttl')
        with self._lock:
            entry = self._entries.get(rp_uuid)
            if entry is None:
                entry = self._entries[rp_uuid] = _Entry()
                self._schedule(rp_uuid, self._clock() +
                               _refresh_delay(rp_uuid, ttl, True))
            entry.value, entry.error, entry.failures = value, None, 0
            if used is not None:
                entry.used, entry.gen = _pack(*used), object()

    def clear(self):
        """Forget everything (tests, simulators)."""
        with self._lock:
            self._entries.clear()
            self._buckets.clear()
            _release(self._inflight)
            self._inflight = {}
            self._queued = {}
            self._usage_due = _NEVER

    def pending(self):
        """Reads queued or under way in this process (benchmarks, tests)."""
        work = self._queue
        return (work.qsize() if work is not None else 0) + len(self._reading)

    def __len__(self):
        return sum(1 for e in list(self._entries.values())
                   if e.value is not None)

    def __contains__(self, rp_uuid):
        return rp_uuid in self._entries


def request_context(spec_obj):
    """The context of a RequestSpec, or an admin context."""
    context = getattr(spec_obj, '_context', None)
    if context is None:
        from nova import context as nova_context
        context = nova_context.get_admin_context()
    return context


_cache = InventoryCache(usage_source=PlacementUsageSource())


def get_cache() -> InventoryCache:
    """The process-wide cache the filter and the weigher share."""
    return _cache


def set_cache(cache):
    """Make ``cache`` the process-wide cache; return the old one.

    A simulator gives each simulation a cache of its own (inline source,
    no usage source), so that no entry of one estate is seen by another.
    """
    global _cache
    old, _cache = _cache, cache
    return old


def set_source(source):
    """Make ``source`` the process-wide cache's source; return the old one.

    The cache's contents are kept: call ``get_cache().clear()`` for a cold
    cache.
    """
    old, _cache.source = _cache.source, source
    return old


def set_usage_source(source):
    """Make ``source`` the process-wide cache's usage source (None: nova's
    figure alone); return the old one."""
    old, _cache.usage_source = _cache.usage_source, source
    return old
