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

"""Where a request's server-group members and hinted instances are, by
cluster, while other requests of the same group are scheduled at once.

nova's own group filters read ``HostState.instances``, which holds the
instances of the whole *service host*. Here an instance counts on the unit
of its location (:func:`nova_vmw_sched.cluster.node_key`: the cluster,
whatever service host manages it now; for non-VMware nodes the node).

Per request, :class:`Members` (a part of the request's
:mod:`nova_vmw_sched.view`) locates the group's members and the
``same_host``/``different_host`` instances once, shared by all our group
filters and weighers and by every instance of a multi-create:

1. the cell databases give each instance's ``node`` (one query per cell,
   elevated context; deleted instances do not count, soft-deleted ones
   (``SOFT_DELETED``, restorable) do, as nova's
   ``ServerGroupAntiAffinityFilter`` counts them);
2. for instances without a node, the API database tells which are still
   build requests, and which group member joined first (one query);
3. placement gives where each instance without a node holds its
   allocation (one read per such instance): the scheduler claims there
   before it returns, long before the compute sets ``instance.node``;
4. a member that joined the group before this request and is still a
   build request without an allocation is being scheduled right now: the
   request waits for it, up to ``[vmware_scheduler]
   server_group_wait_timeout``, looking again every
   ``server_group_wait_interval`` (the API database, then placement). The
   order of joining is a total order every scheduler process agrees on, so
   two requests never wait for each other; members of the same
   multi-create (same reservation id) are never waited for;
5. within a multi-create, each next instance reads where placement holds
   the previous one (one read per instance), so siblings count exactly
   where nova claimed them.

Nothing else is waited for: instances in ERROR, deleted, or never
scheduled (no build request, no allocation, no node) do not count. The
instance being scheduled never counts against itself (moves).

If a lookup fails (a cell that does not answer, a database or placement
error) or members are still in flight after the wait, :attr:`Members.error`
says why: the hard-policy filters then refuse every host (fail closed,
with one WARNING per request), the soft-policy weighers count what is
known (fail open).
"""

import collections
import threading
import time
import typing as ty

from oslo_log import log as logging
from oslo_serialization import jsonutils

import nova.conf
from nova import context as nova_context
from nova import objects

from nova_vmw_sched import cluster
from nova_vmw_sched import conf as vmw_conf
from nova_vmw_sched import view as view_mod

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF


class LookupFailed(Exception):
    """A database or placement lookup of instances did not answer."""


class Building(ty.NamedTuple):
    """An instance that is still a build request (not yet in a cell)."""

    #: the position of its row in ``instance_group_member`` (None if it is
    #: in no group): who joined first
    order: ty.Optional[int] = None
    #: the reservation id shared by the instances of one create request
    reservation_id: ty.Optional[str] = None


class SettledSource:
    """The interface of :data:`source`, for stand-ins whose instances are
    all settled (nothing in flight): the dry-run simulator and the
    benchmarks subclass it and answer :meth:`nodes_of` (and what else they
    know)."""

    def nodes_of(self, context, uuids):
        """``{uuid: node}`` of the instances in a cell (node may be None)."""
        raise NotImplementedError()

    def instance_of(self, context, uuid):
        """``(node, flavor id)`` of an instance, or None."""
        return None

    def building(self, context, uuids):
        """``{uuid: Building}`` of the instances still build requests."""
        return {}

    def allocations_of(self, context, uuid):
        """The resource providers holding ``uuid``'s allocation."""
        return []

    def nodes_of_providers(self, context, rp_uuids):
        """``{resource provider uuid: node}`` of compute nodes."""
        return {}


class NovaSource(SettledSource):
    """Answers from nova's cell databases, API database and placement.

    The dry-run simulator and the benchmarks replace :data:`source` with a
    :class:`SettledSource` of their own.
    """

    def nodes_of(self, context, uuids):
        """``{uuid: node}`` of the instances in a cell (node may be None).

        One query per cell; raises :class:`LookupFailed` if a cell does not
        answer.
        """
        return {uuid: inst.node
                for uuid, inst in self._instances(context, uuids).items()}

    def instance_of(self, context, uuid):
        """``(node, flavor id)`` of a non-deleted instance in a cell, or
        None. One query per cell."""
        inst = self._instances(context, [uuid]).get(uuid)
        return None if inst is None else (inst.node, inst.instance_type_id)

    @staticmethod
    def _instances(context, uuids):
        uuids = sorted(uuids)

        def in_cell(cell_context):
            # soft_deleted: nova's database API leaves SOFT_DELETED
            # instances out unless asked; they keep their host and node and
            # can be restored, and nova's ServerGroupAntiAffinityFilter
            # (HostState.instances) counts them
            instances = objects.InstanceList.get_by_filters(
                cell_context, filters={'uuid': uuids, 'deleted': False,
                                       'soft_deleted': True},
                expected_attrs=[])
            return {inst.uuid: inst for inst in instances}

        if getattr(context, 'db_connection', None):
            return in_cell(context)
        return _in_every_cell(context, in_cell)

    def building(self, context, uuids):
        """``{uuid: Building}`` of the instances still build requests.

        One query of nova's API database.
        """
        return _building_in_api_db(context, sorted(uuids))

    def allocations_of(self, context, uuid):
        """The resource providers where placement holds ``uuid``'s
        allocation (empty if none). One placement read."""
        from nova.scheduler.client import report
        client = report.report_client_singleton()
        try:
            found = client.get_allocs_for_consumer(context, uuid)
        except Exception as e:
            raise LookupFailed('placement did not give the allocation of '
                               '%s: %s' % (uuid, e)) from e
        return sorted((found or {}).get('allocations') or {})

    def nodes_of_providers(self, context, rp_uuids):
        """``{resource provider uuid: node}`` of compute nodes, from the
        cell databases (one query per cell)."""
        rp_uuids = sorted(rp_uuids)

        def in_cell(cell_context):
            return {cn.uuid: cn.hypervisor_hostname
                    for cn in objects.ComputeNodeList.get_all_by_uuids(
                        cell_context, rp_uuids)}

        return _in_every_cell(context, in_cell)


def _in_every_cell(context, in_cell):
    """``in_cell`` (a dict each) merged over every cell but cell0; raises
    :class:`LookupFailed` if a cell does not answer."""
    found = {}
    results = nova_context.scatter_gather_skip_cell0(context, in_cell)
    for cell_uuid, result in results.items():
        if nova_context.is_cell_failure_sentinel(result):
            raise LookupFailed('cell %s did not answer' % cell_uuid)
        found.update(result)
    return found


def _building_in_api_db(context, uuids):
    from nova.db.api import api as api_db
    from nova.db.api import models as api_models

    @api_db.context_manager.reader
    def query(context):
        requests = context.session.query(
            api_models.BuildRequest.instance_uuid,
            api_models.BuildRequest.instance).filter(
                api_models.BuildRequest.instance_uuid.in_(uuids)).all()
        if not requests:
            return {}
        order = dict(context.session.query(
            api_models.InstanceGroupMember.instance_uuid,
            api_models.InstanceGroupMember.id).filter(
                api_models.InstanceGroupMember.instance_uuid.in_(
                    [r[0] for r in requests])).all())
        return {uuid: Building(order.get(uuid), _reservation_id(blob))
                for uuid, blob in requests}

    return query(context)


def _reservation_id(blob):
    """The reservation id in a build request's serialized instance."""
    try:
        return jsonutils.loads(blob)['nova_object.data'].get(
            'reservation_id')
    except Exception:  # an old or odd row: no sibling is recognised
        return None


#: Where instance locations come from (see :class:`NovaSource`).
source = NovaSource()


def group_of(spec_obj):
    """The request's InstanceGroup, or None."""
    try:
        return spec_obj.instance_group
    except Exception:  # field not set, lazy-load failure
        return None


def group_policy(spec_obj):
    group = group_of(spec_obj)
    try:
        return group.policy if group is not None else None
    except Exception:
        return None


def group_name(spec_obj):
    """How a log line names the request's group: ``name (uuid)``."""
    group = group_of(spec_obj)
    name, uuid = _field(group, 'name'), _field(group, 'uuid')
    if name and uuid:
        return '%s (%s)' % (name, uuid)
    return str(name or uuid or '?')


def _field(obj, field):
    try:
        return getattr(obj, field)
    except Exception:  # not set, lazy-load failure
        return None


class _Allocated(ty.NamedTuple):
    """An instance located by its allocation, not (yet) by its node."""

    providers: tuple


class Counted(ty.NamedTuple):
    """Members of a group by unit, or why they cannot be counted."""

    counts: collections.Counter
    #: set when the hard policies must refuse every host
    error: ty.Optional[str] = None


class Located(ty.NamedTuple):
    """Units of hinted instances, or why they cannot be told."""

    units: frozenset
    error: ty.Optional[str] = None


def members_of(spec_obj):
    """The request's :class:`Members` (created on first use)."""
    return view_mod.of(spec_obj).part('members',
                                      lambda: Members(spec_obj))


def group_counts(spec_obj, host_states, policy):
    """:class:`Counted` members of the request's group, if its policy is
    ``policy``; None for a request without such a group.

    Records first where nova put the previous instance of a multi-create;
    the instance being scheduled does not count.
    """
    if group_policy(spec_obj) != policy:
        return None
    members = members_of(spec_obj)
    members.observe(spec_obj, host_states)
    current = instance_uuid(spec_obj)
    return Counted(members.member_counts(host_states, exclude=current),
                   members.error)


def hint_units(spec_obj, host_states, hint):
    """:class:`Located` units of the ``same_host`` or ``different_host``
    instances; None when the request has no such hint."""
    members = members_of(spec_obj)
    uuids = members.hints.get(hint)
    if not uuids:
        return None
    return Located(frozenset(members.units_of(
        uuids, host_states, exclude=instance_uuid(spec_obj))),
        members.error)


def _hint_uuids(spec_obj, name):
    try:
        value = spec_obj.get_scheduler_hint(name)
    except Exception:
        return ()
    if not value:
        return ()
    if isinstance(value, str):
        return (value,)
    try:
        return tuple(v for v in value if isinstance(v, str))
    except TypeError:
        return ()


class Members:
    """Where one request's members and hinted instances are (see module
    docstring)."""

    def __init__(self, spec_obj):
        self._lock = threading.RLock()
        group = group_of(spec_obj)
        self.group = group_name(spec_obj) if group is not None else None
        self.members = tuple(_safe_list(group, 'members'))
        self.hints = {'same_host': _hint_uuids(spec_obj, 'same_host'),
                      'different_host': _hint_uuids(spec_obj,
                                                    'different_host')}
        #: every instance the request asks about
        self._wanted = frozenset(self.members).union(*self.hints.values())
        self._context = getattr(spec_obj, '_context', None)
        self._first = instance_uuid(spec_obj)
        #: {uuid: node name, or _Allocated}
        self._where = None
        #: {rp uuid: unit key}
        self._provider_keys = {}
        #: why the hard policies must refuse; None if all is known
        self.error = None
        #: instance uuids of this request in the order nova placed them
        self._sequence = []
        self._warned = set()

    @property
    def same_host(self):
        return self.hints['same_host']

    @property
    def different_host(self):
        return self.hints['different_host']

    # -- the lookup, once per request --------------------------------------

    def _locations(self):
        if self._where is None:
            with self._lock:
                if self._where is None:
                    self._where = self._look_up()
        return self._where

    def admin_context(self):
        return _elevated(self._context)

    def _look_up(self):
        wanted = set(self._wanted)
        if not wanted:
            return {}
        context = self.admin_context()
        try:
            return self._locate(context, wanted)
        except Exception as e:
            self.error = 'could not look up %s: %s' % (
                self._what(), e if isinstance(e, LookupFailed) else
                '%s: %s' % (type(e).__name__, e))
            LOG.debug('Lookup of instances %s failed', sorted(wanted),
                      exc_info=True)
            return {}

    def _locate(self, context, wanted):
        where = {}
        for uuid, node in source.nodes_of(context, wanted).items():
            if node:
                where[uuid] = node
        me = self._first
        unplaced = wanted - set(where) - {me}
        if not unplaced:
            return where
        # The build requests first, then placement: an instance that is no
        # longer a build request has had its allocation claimed before (or
        # never will).
        building = source.building(context, unplaced | ({me} if me else set()))
        mine = building.get(me)
        waiting = []
        for uuid in sorted(unplaced):
            other = building.get(uuid)
            if other is not None and _siblings(other, mine):
                continue  # placed by this request: see observe()
            providers = source.allocations_of(context, uuid)
            if providers:
                where[uuid] = _Allocated(tuple(providers))
            elif other is not None and self._must_wait(uuid, other, mine):
                waiting.append(uuid)
        if waiting:
            self._wait(context, where, waiting)
        return where

    def _must_wait(self, uuid, other, mine):
        """Whether ``uuid``, still being scheduled, is placed before us."""
        if uuid not in self.members:
            return True  # a hinted instance: it was there before us
        if mine is None or mine.order is None or other.order is None:
            # we are an instance being moved (it joined long ago), or either
            # left the group: whoever comes later waits
            return False
        return other.order < mine.order

    def _wait(self, context, where, waiting):
        # a bad value: read_option warns once and gives the default (the
        # hard policies still refuse if members are in flight after it)
        timeout = vmw_conf.read_option(CONF, 'server_group_wait_timeout')
        interval = vmw_conf.read_option(CONF, 'server_group_wait_interval')
        started = time.monotonic()
        deadline = started + timeout
        LOG.debug('Waiting up to %(timeout)s s for %(what)s still being '
                  'scheduled: %(uuids)s',
                  {'timeout': timeout, 'what': self._what(),
                   'uuids': ', '.join(waiting)})
        while waiting and time.monotonic() < deadline:
            time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
            building = source.building(context, waiting)
            left = []
            for uuid in waiting:
                providers = source.allocations_of(context, uuid)
                if providers:
                    where[uuid] = _Allocated(tuple(providers))
                elif uuid in building:
                    left.append(uuid)
            waiting = left
        waited = time.monotonic() - started
        if waiting:
            self.error = ('%s still being scheduled after %.1f s '
                          '([vmware_scheduler] server_group_wait_timeout): '
                          '%s' % (self._what(), waited, ', '.join(waiting)))
        else:
            LOG.debug('Waited %.2f s for %s', waited, self._what())

    def _what(self):
        if self.group is not None and self.members:
            text = 'members of server group %s' % self.group
            if self.same_host or self.different_host:
                text += ' or hinted instances'
            return text
        return 'instances of the same_host/different_host hints'

    # -- siblings of a multi-create -------------------------------------------

    def observe(self, spec_obj, host_states):
        """Note the instance being scheduled; where nova put the previous.

        nova calls the filters for each instance of a multi-create in turn,
        after claiming the previous one in placement: its allocation tells
        exactly which node it got. One placement read per instance.
        """
        current = instance_uuid(spec_obj)
        with self._lock:
            if self._sequence and self._sequence[-1] == current:
                return
            previous = self._sequence[-1] if self._sequence else None
            self._sequence.append(current)
            if previous is None or previous not in self._wanted:
                return
            where = self._locations()
            try:
                providers = source.allocations_of(self.admin_context(),
                                                  previous)
            except Exception as e:
                self.error = self.error or (
                    'could not look up where instance %s of this request '
                    'was placed: %s' % (previous, e))
                return
            if providers:
                where[previous] = _Allocated(tuple(providers))

    # -- what filters and weighers ask --------------------------------------

    def _key(self, location, host_states):
        if not isinstance(location, _Allocated):
            return cluster.node_key(location)
        keys = self._provider_keys
        if any(rp not in keys for rp in location.providers):
            self._resolve_providers(host_states)
        for rp_uuid in location.providers:
            key = keys.get(rp_uuid)
            if key is not None:
                return key
        # no provider we can name (a deleted compute node?): a unit of its
        # own, which no host has
        return 'resource provider %s' % ','.join(location.providers)

    def _resolve_providers(self, host_states):
        wanted = set()
        for location in self._locations().values():
            if isinstance(location, _Allocated):
                wanted.update(location.providers)
        wanted -= set(self._provider_keys)
        if not wanted:
            return
        for host_state in host_states or ():
            rp_uuid = getattr(host_state, 'uuid', None)
            if rp_uuid in wanted:
                self._provider_keys[rp_uuid] = cluster.host_key(host_state)
                wanted.discard(rp_uuid)
        if not wanted:
            return
        try:
            nodes = source.nodes_of_providers(self.admin_context(), wanted)
        except Exception as e:
            self.error = self.error or (
                'could not look up the compute nodes of resource providers '
                '%s: %s' % (', '.join(sorted(wanted)), e))
            return
        for rp_uuid in wanted:
            # None for a provider that is no compute node (e.g. shared
            # storage): asked once per request
            self._provider_keys[rp_uuid] = cluster.node_key(
                nodes.get(rp_uuid))

    def member_counts(self, host_states=(), exclude=None):
        """Counter of group members by unit, without ``exclude``."""
        where = self._locations()
        counts = collections.Counter()
        with self._lock:
            for uuid in self.members:
                if uuid == exclude or uuid not in where:
                    continue
                key = self._key(where[uuid], host_states)
                if key is not None:
                    counts[key] += 1
        return counts

    def units_of(self, uuids, host_states=(), exclude=None):
        """Set of units of these instances."""
        where = self._locations()
        units = set()
        with self._lock:
            for uuid in uuids:
                if uuid == exclude or uuid not in where:
                    continue
                key = self._key(where[uuid], host_states)
                if key is not None:
                    units.add(key)
        return units

    def warn_once(self, what, instance):
        """One WARNING per request and rule: ``what`` refuses every host."""
        with self._lock:
            if what in self._warned:
                return
            self._warned.add(what)
        LOG.warning('%(what)s: no host passes for instance %(instance)s: '
                    '%(error)s', {'what': what, 'instance': instance,
                                  'error': self.error})


def admin_context(spec_obj):
    """An elevated copy of the request's context (lookups see every
    project's instances)."""
    return _elevated(getattr(spec_obj, '_context', None))


def _elevated(context):
    try:
        return context.elevated() if context is not None else \
            nova_context.get_admin_context()
    except Exception:
        return nova_context.get_admin_context()


def instance_uuid(spec_obj):
    """The instance being scheduled, or None (never raises)."""
    try:
        return spec_obj.instance_uuid
    except Exception:  # not set, odd object
        return None


def _siblings(other, mine):
    """Whether two build requests come from the same create request."""
    return mine is not None and other.reservation_id is not None and \
        other.reservation_id == mine.reservation_id


def _safe_list(obj, field):
    try:
        value = getattr(obj, field)
    except Exception:
        return []
    return list(value) if isinstance(value, (list, tuple, set)) else []
