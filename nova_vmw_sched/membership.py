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
   build requests, and in which order nova-api created them (one query);
3. placement gives where each instance without a node holds its
   allocation (one read per such instance): the scheduler claims there
   before it returns, long before the compute sets ``instance.node``;
4. a member that joined the group before this request and is still a
   build request without an allocation is being scheduled right now: the
   request waits for it, up to ``[vmware_scheduler]
   server_group_wait_timeout``, looking again every
   ``server_group_wait_interval`` (the API database, then placement). The
   order of the build requests is a total order every scheduler process
   agrees on, so two requests never wait for each other. Build requests
   newer than this request's are not read at all: the later instances of
   this multi-create (placed by this request, step 5) or requests that
   wait for this one;
5. within a multi-create, each next instance reads where placement holds
   the previous one (one read per instance), so siblings count exactly
   where nova claimed them.

Nothing else is waited for: instances in ERROR, deleted, or never
scheduled (no build request, no allocation, no node) do not count. The
instance being scheduled never counts against itself (moves).

The lookups go through :attr:`nova_vmw_sched.data.Data.members`.
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

import nova.conf
from nova import context as nova_context

from nova_vmw_sched import cluster
from nova_vmw_sched import conf as vmw_conf
from nova_vmw_sched import data
from nova_vmw_sched import view as view_mod

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF


def group_of(spec_obj):
    """The request's InstanceGroup, or None."""
    return _field(spec_obj, 'instance_group')


def group_policy(spec_obj):
    return _field(group_of(spec_obj), 'policy')


def group_name(spec_obj):
    """How a log line names the request's group: ``name (uuid)``."""
    group = group_of(spec_obj)
    name, uuid = _field(group, 'name'), _field(group, 'uuid')
    if name and uuid:
        return '%s (%s)' % (name, uuid)
    return str(name or uuid or '?')


def instance_uuid(spec_obj):
    """The instance being scheduled, or None (never raises)."""
    return _field(spec_obj, 'instance_uuid')


def admin_context(spec_obj):
    """An elevated copy of the request's context (lookups see every
    project's instances)."""
    try:
        return spec_obj._context.elevated()
    except Exception:  # no context, or an odd one
        return nova_context.get_admin_context()


def _field(obj, field):
    try:
        return getattr(obj, field) if obj is not None else None
    except Exception:  # not set, lazy-load failure, odd object
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
    return Counted(members.counts(members.members, host_states,
                                  instance_uuid(spec_obj)), members.error)


def hint_units(spec_obj, host_states, hint):
    """:class:`Located` units of the ``same_host`` or ``different_host``
    instances; None when the request has no such hint."""
    members = members_of(spec_obj)
    uuids = members.hints.get(hint)
    if not uuids:
        return None
    return Located(frozenset(members.counts(
        uuids, host_states, instance_uuid(spec_obj))), members.error)


def _hint_uuids(spec_obj, name):
    try:
        value = spec_obj.get_scheduler_hint(name)
    except Exception:
        return ()
    if isinstance(value, str):
        return (value,)
    try:
        return tuple(v for v in value or () if isinstance(v, str))
    except TypeError:
        return ()


class Members:
    """Where one request's members and hinted instances are (see module
    docstring)."""

    def __init__(self, spec_obj):
        self._lock = threading.RLock()
        self._source = data.get().members
        group = group_of(spec_obj)
        self.group = group_name(spec_obj) if group is not None else None
        members = _field(group, 'members')
        self.members = tuple(members) if isinstance(
            members, (list, tuple, set)) else ()
        self.hints = {name: _hint_uuids(spec_obj, name)
                      for name in ('same_host', 'different_host')}
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

    # -- the lookup, once per request --------------------------------------

    def _locations(self):
        if self._where is None:
            with self._lock:
                if self._where is None:
                    self._where = self._look_up()
        return self._where

    def admin_context(self):
        return admin_context(self)  # self._context: the request's

    def _look_up(self):
        wanted = set(self._wanted)
        if not wanted:
            return {}
        try:
            return self._locate(self.admin_context(), wanted)
        except Exception as e:
            self.error = 'could not look up %s: %s' % (
                self._what(), e if isinstance(e, data.LookupFailed) else
                '%s: %s' % (type(e).__name__, e))
            LOG.debug('Lookup of instances %s failed', sorted(wanted),
                      exc_info=True)
            return {}

    def _locate(self, context, wanted):
        source = self._source
        where = {uuid: node for uuid, node in
                 source.nodes_of(context, wanted).items() if node}
        me = self._first
        unplaced = wanted - set(where) - {me}
        if not unplaced:
            return where
        # The build requests first, then placement: an instance that is no
        # longer a build request has had its allocation claimed before (or
        # never will).
        building = source.building(context, unplaced | ({me} if me else
                                                        set()))
        mine = building.get(me)
        waiting = []
        for uuid in sorted(unplaced):
            order = building.get(uuid)
            if order is not None and mine is not None and order > mine:
                # newer than ours: a later instance of this multi-create
                # (see observe()) or a request that waits for this one
                continue
            providers = source.allocations_of(context, uuid)
            if providers:
                where[uuid] = _Allocated(tuple(providers))
            elif order is not None and (mine is not None or
                                        uuid not in self.members):
                # older than ours, or a hinted instance: placed before us.
                # (An instance being moved has no build request: newer
                # members wait for it, it does not wait for them.)
                waiting.append(uuid)
        if waiting:
            self._wait(context, where, waiting)
        return where

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
            building = self._source.building(context, waiting)
            left = []
            for uuid in waiting:
                providers = self._source.allocations_of(context, uuid)
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
            if any(self.hints.values()):
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
                providers = self._source.allocations_of(
                    self.admin_context(), previous)
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
        for host_state in host_states or ():
            rp_uuid = getattr(host_state, 'uuid', None)
            if rp_uuid in wanted:
                self._provider_keys[rp_uuid] = cluster.host_key(host_state)
                wanted.discard(rp_uuid)
        if not wanted:
            return
        try:
            nodes = self._source.nodes_of_providers(self.admin_context(),
                                                    wanted)
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

    def counts(self, uuids, host_states=(), exclude=None):
        """Counter of these instances by unit, without ``exclude``."""
        where = self._locations()
        counts = collections.Counter()
        with self._lock:
            for uuid in uuids:
                if uuid == exclude or uuid not in where:
                    continue
                key = self._key(where[uuid], host_states)
                if key is not None:
                    counts[key] += 1
        return counts

    def warn_once(self, what, instance):
        """One WARNING per request and rule: ``what`` refuses every host."""
        with self._lock:
            if what in self._warned:
                return
            self._warned.add(what)
        LOG.warning('%(what)s: no host passes for instance %(instance)s: '
                    '%(error)s', {'what': what, 'instance': instance,
                                  'error': self.error})
