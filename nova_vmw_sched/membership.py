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

"""Where a request's server-group members and ``same_host`` /
``different_host`` instances are, by unit, looked up once per request
(doc/source/server-groups.rst, "How members count"). :attr:`Members.error`
says why a lookup failed or members are still in flight: the hard policies
refuse every host, the soft ones count the rest.
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
    return field(spec_obj, 'instance_group')


def instance_uuid(spec_obj):
    """The instance being scheduled, or None (never raises)."""
    return field(spec_obj, 'instance_uuid')


def admin_context(spec_obj):
    """The request's context, elevated to see every project's instances."""
    try:
        return spec_obj._context.elevated()
    except Exception:  # no context, or an odd one
        return nova_context.get_admin_context()


def field(obj, name):
    """``obj.name``, or None (never raises: not set, lazy-load failure)."""
    try:
        return getattr(obj, name) if obj is not None else None
    except Exception:  # not set, lazy-load failure, odd object
        return None


class Counted(ty.NamedTuple):
    """Instances by unit, or why the hard policies must refuse."""

    counts: collections.Counter
    error: ty.Optional[str] = None


def members_of(spec_obj):
    """The request's :class:`Members` (created on first use)."""
    return view_mod.of(spec_obj).part('members',
                                      lambda: Members(spec_obj))


def group_counts(spec_obj, host_states, policy):
    """:class:`Counted` members of the request's group if its policy is
    ``policy``, else None."""
    if field(group_of(spec_obj), 'policy') != policy:
        return None
    members = members_of(spec_obj)
    members.observe(spec_obj, host_states)
    return Counted(members.counts(members.members, host_states,
                                  instance_uuid(spec_obj)), members.error)


def hint_units(spec_obj, host_states, hint):
    """:class:`Counted` instances of the ``same_host`` or ``different_host``
    hint; None when the request has no such hint."""
    members = members_of(spec_obj)
    uuids = members.hints.get(hint)
    if not uuids:
        return None
    return Counted(members.counts(uuids, host_states,
                                  instance_uuid(spec_obj)), members.error)


def _hint_uuids(spec_obj, name):
    try:
        value = spec_obj.get_scheduler_hint(name)
        value = [value] if isinstance(value, str) else value or ()
        return tuple(v for v in value if isinstance(v, str))
    except Exception:  # no hints, an odd value
        return ()


class Members:
    """Where one request's members and hinted instances are."""

    def __init__(self, spec_obj):
        self._lock = threading.RLock()
        self._source = data.get().members
        group = group_of(spec_obj)
        name, uuid = field(group, 'name'), field(group, 'uuid')
        #: how log lines name the group: ``name (uuid)``
        self.group = None if group is None else (
            '%s (%s)' % (name, uuid) if name and uuid else
            str(name or uuid or '?'))
        members = field(group, 'members')
        self.members = tuple(members) if isinstance(
            members, (list, tuple, set)) else ()
        self.hints = {name: _hint_uuids(spec_obj, name)
                      for name in ('same_host', 'different_host')}
        self._wanted = frozenset(self.members).union(*self.hints.values())
        self._context = getattr(spec_obj, '_context', None)
        self._first = instance_uuid(spec_obj)
        self._where = None  # {uuid: node name, or tuple of rp uuids}
        self._provider_keys = {}  # {rp uuid: unit key}
        self.error = None  # why the hard policies must refuse
        self._current = None  # the instance nova schedules now
        self._later = {}  # {uuid: order} of members building, joined later
        self._warned = set()

    def _locations(self):
        if self._where is None:
            with self._lock:
                if self._where is None:
                    self._where = self._look_up()
        return self._where

    def _look_up(self):
        wanted = set(self._wanted)
        if not wanted:
            return {}
        try:
            return self._locate(admin_context(self), wanted)
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
        # build requests before placement: an instance no longer one has
        # had its allocation claimed (or never will)
        building = source.building(context, unplaced | ({me} if me else
                                                        set()))
        mine = building.get(me)
        waiting = []
        for uuid in sorted(unplaced):
            order = building.get(uuid)
            if uuid in self.members and None not in (order, mine) and \
                    order > mine:
                # joined later: waits for us, or is of this multi-create
                # (see _catch_up)
                self._later[uuid] = order
                continue
            if not self._place(context, where, uuid) and uuid in building \
                    and (me in building or uuid not in self.members):
                # joined earlier, or hinted (a moved instance has no build
                # request: it waits for no member)
                waiting.append(uuid)
        if waiting:
            self._wait(context, where, waiting)
        return where

    def _place(self, context, where, uuid):
        """Note where placement holds ``uuid``'s allocation, if it does."""
        providers = self._source.allocations_of(context, uuid)
        if providers:
            where[uuid] = tuple(providers)
        return bool(providers)

    def _wait(self, context, where, waiting):
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
            waiting = [uuid for uuid in waiting if not self._place(
                context, where, uuid) and uuid in building]
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

    def observe(self, spec_obj, host_states):
        """Note the instance being scheduled, and where placement holds the
        previous one of the multi-create (nova claimed it before)."""
        current = instance_uuid(spec_obj)
        with self._lock:
            if self._current == current:
                return
            previous, self._current = self._current, current
            if previous is None:
                return
            context = admin_context(self)
            try:
                if previous in self._wanted:
                    self._place(context, self._locations(), previous)
            except Exception as e:
                self.error = self.error or (
                    'could not look up where instance %s of this request '
                    'was placed: %s' % (previous, e))
            self._catch_up(context, current)

    def _catch_up(self, context, current):
        """Count the members of other requests that joined the group
        between this request's first instance and ``current`` (nova-api
        adds a multi-create's instances one after the other), waiting for
        those still being scheduled: they wait only for the instances of
        this request that joined before them, which nova has claimed."""
        order = self._later.pop(current, None)
        if order is None:
            return
        where = self._locations()
        joined = sorted(uuid for uuid, other in self._later.items()
                        if other < order and uuid not in where)
        if not joined:
            return
        for uuid in joined:
            del self._later[uuid]
        try:
            # build requests before placement, as in _locate
            building = self._source.building(context, joined)
            waiting = [uuid for uuid in joined if not self._place(
                context, where, uuid) and uuid in building]
            if waiting:
                self._wait(context, where, waiting)
        except Exception as e:
            self.error = self.error or 'could not look up %s: %s' % (
                self._what(), e)

    def _key(self, location, host_states):
        if not isinstance(location, tuple):  # a node name
            return cluster.node_key(location)
        keys = self._provider_keys
        if any(rp not in keys for rp in location):
            self._resolve_providers(host_states)
        for rp_uuid in location:
            key = keys.get(rp_uuid)
            if key is not None:
                return key
        # no provider we can name (a deleted compute node?): no host's unit
        return 'resource provider %s' % ','.join(location)

    def _resolve_providers(self, host_states):
        wanted = set()
        for location in self._locations().values():
            if isinstance(location, tuple):
                wanted.update(location)
        wanted -= set(self._provider_keys)
        for host_state in host_states or ():
            rp_uuid = getattr(host_state, 'uuid', None)
            if rp_uuid in wanted:
                self._provider_keys[rp_uuid] = cluster.host_key(host_state)
                wanted.discard(rp_uuid)
        if not wanted:
            return
        try:
            nodes = self._source.nodes_of_providers(admin_context(self),
                                                    wanted)
        except Exception as e:
            self.error = self.error or (
                'could not look up the compute nodes of resource providers '
                '%s: %s' % (', '.join(sorted(wanted)), e))
            return
        for rp_uuid in wanted:  # None: no compute node (asked once)
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
