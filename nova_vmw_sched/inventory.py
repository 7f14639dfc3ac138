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

"""Placement inventories of clusters, cached for all requests.

A cluster's ``VCPU`` and ``MEMORY_MB`` inventories carry what its compute
node does not: ``max_unit`` (nova's vmwareapi driver reports the largest
ESXi host there), ``reserved`` and the allocation ratios placement applies.
Placement's allocation candidates carry capacity and usage but no
``max_unit``, so the inventories are read with one call per resource
provider (``GET /resource_providers/{uuid}/inventories``), through nova's
scheduler report client.

The process-wide :class:`InventoryCache` (:func:`get_cache`) is keyed by
resource provider uuid (``HostState.uuid``, the compute node's uuid) and
shared by all requests:

* :meth:`InventoryCache.for_hosts` gives the inventory of each host of a
  list, in one pass; it first reads (:meth:`InventoryCache.refresh`) the
  inventories that are missing or older than ``[vmware_scheduler]
  cluster_inventory_cache_ttl`` (default 300 s). Filters and weighers call
  it once per request with all their candidate hosts, never per host. With
  a warm cache it makes no call. Concurrent requests do not read the same
  provider twice: the second waits for the first's answer.
* :meth:`InventoryCache.get` is a dict lookup.
* A failed call, or a provider without ``VCPU`` and ``MEMORY_MB``
  inventory, keeps the last value read; a provider never read has none, and
  :meth:`InventoryCache.why_missing` says why. Either way the provider is
  asked again only after the TTL, and one WARNING is logged per failed read,
  so at most one per provider per TTL. After three failed calls in a row in
  one refresh, the rest of that refresh is skipped (placement is likely
  down) and left to the next request.

The *source* is the seam: a callable ``source(context, rp_uuid)`` that
returns placement's ``inventories`` dict (``{resource class: {"total": ...,
"reserved": ..., "max_unit": ..., "allocation_ratio": ...}}``), an empty
dict for a provider without inventory, or raises. :class:`PlacementSource`
is the default; :func:`set_source` swaps it, e.g. for a dry-run simulator
that reads a scenario file or a :class:`CountingSource` that counts the
calls for a benchmark. :meth:`InventoryCache.prime` fills the cache without
any source.
"""

import threading
import time
import typing as ty

from oslo_log import log as logging

import nova.conf

from nova_vmw_sched import cluster
from nova_vmw_sched import conf as vmw_conf

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF

VCPU = 'VCPU'
MEMORY_MB = 'MEMORY_MB'

#: failed calls in a row after which one refresh gives up
MAX_FAILURES_IN_A_ROW = 3
#: how long a request waits for another request's read of a provider
WAIT_SECONDS = 30.0

_READ, _MISSING, _FAILED = 'read', 'missing', 'failed'
_NEVER = float('-inf')
#: reads of one refresh that share one clock reading
_SHARE_CLOCK = 64


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

    def __init__(self, inventories=None):
        self.inventories = dict(inventories or {})

    def __call__(self, context, rp_uuid):
        value = self.inventories.get(rp_uuid, {})
        if isinstance(value, BaseException):
            raise value
        return value


class InventoryCache:
    """Cluster inventories by resource provider uuid, shared by requests."""

    def __init__(self, source=None, clock=time.monotonic):
        self.source = source if source is not None else PlacementSource()
        self._clock = clock
        self._lock = threading.Lock()
        #: {uuid: ClusterInventory}, the last good value read
        self._values = {}
        #: {uuid: clock time of the last read, good or not}
        self._checked = {}
        #: {uuid: why the last read gave no value}
        self._errors = {}
        #: {uuid: threading.Event} of reads under way
        self._inflight = {}

    # -- per host: no I/O -----------------------------------------------------

    def get(self, rp_uuid) -> ty.Optional[ClusterInventory]:
        """The last inventory read for ``rp_uuid``; None if there is none."""
        try:
            return self._values.get(rp_uuid)
        except TypeError:  # unhashable garbage
            return None

    def why_missing(self, rp_uuid):
        """Why :meth:`get` gives None for ``rp_uuid``, for log messages."""
        if rp_uuid is None:
            return 'the host has no compute node uuid'
        try:
            error = self._errors.get(rp_uuid)
        except TypeError:
            return 'the host has no valid compute node uuid'
        return error or 'its inventory has not been read from placement'

    # -- per request ----------------------------------------------------------

    def for_hosts(self, context, host_states, ttl=None):
        """The inventory of each host's cluster, in one pass over the hosts.

        Reads the missing and stale ones first (:meth:`refresh`), all in
        one go. Gives, aligned with ``host_states``, :data:`NOT_A_CLUSTER`
        for a node that is not a VMware cluster, None for a cluster whose
        inventory is not known (:meth:`why_missing` says why), else its
        :class:`ClusterInventory`.
        """
        if ttl is None:
            ttl = _ttl()
        limit = self._clock() - ttl
        cluster_of = cluster.cluster_of
        checked_at = self._checked.get
        value_of = self._values.get
        result = []
        stale = []
        for host_state in host_states:
            if cluster_of(host_state) is None:
                result.append(NOT_A_CLUSTER)
                continue
            rp_uuid = getattr(host_state, 'uuid', None)
            if not isinstance(rp_uuid, str):
                result.append(None)
            elif checked_at(rp_uuid, _NEVER) <= limit:
                stale.append((len(result), rp_uuid))
                result.append(None)
            else:
                result.append(value_of(rp_uuid))
        if stale:
            self.refresh(context, [u for _i, u in stale], ttl)
            for index, rp_uuid in stale:
                result[index] = value_of(rp_uuid)
        return result

    def refresh(self, context, rp_uuids, ttl=None):
        """Read the inventories of ``rp_uuids`` that are missing or stale.

        :param ttl: seconds; ``[vmware_scheduler]
            cluster_inventory_cache_ttl`` when None
        :returns: the number of reads made
        """
        if ttl is None:
            ttl = _ttl()
        now = self._clock()
        checked = self._checked
        # read if checked at or before this (never checked: -inf)
        limit = now - ttl
        checked_at = checked.get
        stale = [u for u in rp_uuids
                 if isinstance(u, str) and checked_at(u, _NEVER) <= limit]
        if not stale:
            return 0
        stale = list(dict.fromkeys(stale))
        mine, theirs = [], []
        with self._lock:
            for u in stale:
                if checked.get(u, _NEVER) > limit:
                    continue  # read by another request meanwhile
                event = self._inflight.get(u)
                if event is not None:
                    theirs.append(event)
                else:
                    self._inflight[u] = threading.Event()
                    mine.append(u)
        reads = 0
        failures = 0
        try:
            for index, u in enumerate(mine):
                reads += 1
                if index % _SHARE_CLOCK == 0:
                    now = self._clock()
                if self._read(context, u, ttl, now) == _FAILED:
                    failures += 1
                else:
                    failures = 0
                if failures >= MAX_FAILURES_IN_A_ROW and index + 1 < len(mine):
                    LOG.debug('%(count)d placement reads of inventories '
                              'failed in a row; leaving %(left)d clusters '
                              'to a later request',
                              {'count': failures,
                               'left': len(mine) - index - 1})
                    break
        finally:
            with self._lock:
                for u in mine:
                    self._inflight.pop(u).set()
                if not self._inflight:
                    # a dict keeps its size when emptied
                    self._inflight = {}
        for event in theirs:
            event.wait(WAIT_SECONDS)
        return reads

    def _read(self, context, rp_uuid, ttl, now):
        """Read one provider; say whether it was _READ, _MISSING, _FAILED.

        ``now`` is the time of the read, taken once per
        :data:`_SHARE_CLOCK` reads, so that they share one float.
        """
        try:
            raw = self.source(context, rp_uuid)
        except Exception as e:
            error = 'reading its inventory from placement failed: %s' % (
                str(e) or type(e).__name__)
            value, outcome = None, _FAILED
        else:
            value = from_placement(raw or {})
            error = None if value is not None else (
                'placement has no valid VCPU and MEMORY_MB inventory for it')
            outcome = _MISSING
        with self._lock:
            self._checked[rp_uuid] = now
            if value is not None:
                self._values[rp_uuid] = value
                self._errors.pop(rp_uuid, None)
                return _READ
            self._errors[rp_uuid] = error
            last = self._values.get(rp_uuid)
        LOG.warning('Resource provider %(uuid)s: %(error)s; %(outcome)s '
                    'until it is read again in %(ttl)s seconds.',
                    {'uuid': rp_uuid, 'error': error, 'ttl': ttl,
                     'outcome': ('keeping the inventory read before'
                                 if last is not None else
                                 'the capacity filter refuses its cluster '
                                 'and the headroom weigher gives it no room')})
        return outcome

    # -- seams ----------------------------------------------------------------

    def prime(self, rp_uuid, inventories):
        """Store ``inventories`` (placement's format) as just read.

        :raises ValueError: if they lack a valid VCPU and MEMORY_MB
        """
        value = from_placement(inventories)
        if value is None:
            raise ValueError('no valid VCPU and MEMORY_MB inventory')
        with self._lock:
            self._values[rp_uuid] = value
            self._checked[rp_uuid] = self._clock()
            self._errors.pop(rp_uuid, None)

    def clear(self):
        """Forget everything (tests, simulators)."""
        with self._lock:
            self._values.clear()
            self._checked.clear()
            self._errors.clear()

    def __len__(self):
        return len(self._values)


def _ttl():
    return vmw_conf.read_option(CONF, 'cluster_inventory_cache_ttl')


def request_context(spec_obj):
    """The context of a RequestSpec, or an admin context."""
    context = getattr(spec_obj, '_context', None)
    if context is None:
        from nova import context as nova_context
        context = nova_context.get_admin_context()
    return context


_cache = InventoryCache()


def get_cache() -> InventoryCache:
    """The process-wide cache the filter and the weigher share."""
    return _cache


def set_source(source):
    """Make ``source`` the process-wide cache's source; return the old one.

    The cache's contents are kept: call ``get_cache().clear()`` for a cold
    cache.
    """
    old, _cache.source = _cache.source, source
    return old
