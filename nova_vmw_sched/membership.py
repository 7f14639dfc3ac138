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
cluster.

nova's own group filters read ``HostState.instances``, which holds the
instances of the whole *service host*: every cluster of a shared service
sees every instance of that service. Here an instance counts on the unit of
its ``instance.node`` (:func:`nova_vmw_sched.cluster.node_key`: the cluster,
whatever service host manages it now; for non-VMware nodes the node).

Per request, :func:`view_for` gives one :class:`RequestView`, shared by all
our group filters and weighers and by every instance of a multi-create:

* one lookup of the nodes of the group's members and of the
  ``same_host``/``different_host`` hint instances, through the
  :data:`source` seam (by default one database query per cell, like nova's
  ``InstanceGroup.get_hosts``); deleted instances and instances without a
  node do not count;
* the clusters chosen for earlier instances of the same multi-create
  request. nova records only the service host (``group.hosts``) and puts a
  uuid-only stub into ``HostState.instances``, a dict that sibling clusters
  of a service may share, so the view notices which HostState nova consumed
  (its ``num_instances`` grew) and records that node itself;
* the instance being scheduled never counts against itself (moves).
"""

import collections
import threading
import weakref

from oslo_log import log as logging

from nova import context as nova_context
from nova import objects

from nova_vmw_sched import cluster

LOG = logging.getLogger(__name__)


class DatabaseSource:
    """Read instance nodes from the cell databases, one query per cell."""

    def nodes_of(self, context, uuids):
        """Return ``{instance uuid: node name}`` of non-deleted instances."""
        uuids = sorted(uuids)

        def nodes_in_cell(cell_context):
            instances = objects.InstanceList.get_by_filters(
                cell_context, filters={'uuid': uuids, 'deleted': False},
                expected_attrs=[])
            return {inst.uuid: inst.node for inst in instances}

        if getattr(context, 'db_connection', None):
            return nodes_in_cell(context)
        nodes = {}
        results = nova_context.scatter_gather_skip_cell0(
            context, nodes_in_cell)
        for cell_uuid, result in results.items():
            if nova_context.is_cell_failure_sentinel(result):
                LOG.warning('Cell %s did not answer for the nodes of '
                            'instances %s; they do not count.',
                            cell_uuid, uuids)
                continue
            nodes.update(result)
        return nodes


#: Where instance nodes come from. The dry-run simulator and the benchmark
#: replace it with an object of the same interface.
source = DatabaseSource()

_views = weakref.WeakKeyDictionary()
_views_lock = threading.Lock()


def view_for(spec_obj):
    """The :class:`RequestView` of this request (created on first use)."""
    try:
        return _views[spec_obj]
    except KeyError:
        pass
    except TypeError:  # not weak-referenceable: no sharing, still correct
        return RequestView(spec_obj)
    with _views_lock:
        view = _views.get(spec_obj)
        if view is None:
            view = _views[spec_obj] = RequestView(spec_obj)
        return view


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


def group_counts(spec_obj, host_states, policy):
    """Members of the request's group by unit, if its policy is ``policy``.

    None for a request without such a group. Records first where nova put
    the previous instance of a multi-create (:meth:`RequestView.observe`);
    the instance being scheduled does not count.
    """
    if group_policy(spec_obj) != policy:
        return None
    view = view_for(spec_obj)
    view.observe(spec_obj, host_states)
    return view.member_counts(
        exclude=getattr(spec_obj, 'instance_uuid', None))


def _hint_uuids(spec_obj, name):
    try:
        value = spec_obj.get_scheduler_hint(name)
    except Exception:
        return ()
    if not value:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(v for v in value if isinstance(v, str))


class RequestView:
    """One request's instances by scheduling unit (see module docstring)."""

    def __init__(self, spec_obj):
        self._lock = threading.Lock()
        self._spec = weakref.ref(spec_obj) if _weakrefable(spec_obj) \
            else (lambda: spec_obj)
        group = group_of(spec_obj)
        self.members = tuple(_safe_list(group, 'members'))
        self.same_host = _hint_uuids(spec_obj, 'same_host')
        self.different_host = _hint_uuids(spec_obj, 'different_host')
        self._known = None
        #: {instance uuid: unit key} of instances placed by this request
        self.placed = {}
        self._current_uuid = None
        self._group_hosts_seen = None
        self._by_service = None

    # -- existing instances --------------------------------------------------

    def _known_keys(self):
        """{uuid: unit key} of existing instances, looked up once."""
        if self._known is None:
            with self._lock:
                if self._known is None:
                    self._known = self._lookup()
        return self._known

    def _lookup(self):
        wanted = set(self.members) | set(self.same_host) | \
            set(self.different_host)
        if not wanted:
            return {}
        spec_obj = self._spec()
        context = getattr(spec_obj, '_context', None) or \
            nova_context.get_admin_context()
        try:
            nodes = source.nodes_of(context, wanted)
        except Exception:
            LOG.exception('Could not look up the nodes of instances %s; '
                          'they do not count for this request.',
                          sorted(wanted))
            return {}
        keys = {}
        for uuid, node in nodes.items():
            key = cluster.node_key(node)
            if key is not None:
                keys[uuid] = key
        return keys

    # -- siblings of a multi-create --------------------------------------------

    def observe(self, spec_obj, host_states):
        """Record where nova put the previous instance of this request.

        Call with the hosts a filter or weigher is given, before using the
        counts. Cheap unless the request is a multi-create with a group.
        """
        group = group_of(spec_obj)
        if group is None or _num_instances(spec_obj) <= 1:
            return
        instance_uuid = getattr(spec_obj, 'instance_uuid', None)
        group_hosts = _safe_list(group, 'hosts')
        with self._lock:
            if self._by_service is None:
                self._index(host_states)
                self._group_hosts_seen = len(group_hosts)
            elif len(group_hosts) > self._group_hosts_seen:
                for host in group_hosts[self._group_hosts_seen:]:
                    self._record_consumed(host)
                self._group_hosts_seen = len(group_hosts)
            self._current_uuid = instance_uuid

    def _index(self, host_states):
        by_service = collections.defaultdict(list)
        for host_state in host_states:
            by_service[getattr(host_state, 'host', None)].append(
                [host_state, getattr(host_state, 'num_instances', 0)])
        self._by_service = by_service

    def _record_consumed(self, service_host):
        """nova consumed a node of ``service_host``: find it by its count."""
        for entry in self._by_service.get(service_host, ()):
            host_state, seen = entry
            now = getattr(host_state, 'num_instances', 0)
            if now != seen:
                entry[1] = now
                if self._current_uuid is not None:
                    key = cluster.host_key(host_state)
                    if key is not None:
                        self.placed[self._current_uuid] = key
                return

    # -- what filters and weighers ask -------------------------------------------

    def member_counts(self, exclude=None):
        """Counter of group members by unit, without ``exclude``."""
        known = self._known_keys()
        counts = collections.Counter()
        for uuid in self.members:
            if uuid == exclude:
                continue
            key = self.placed.get(uuid) or known.get(uuid)
            if key is not None:
                counts[key] += 1
        return counts

    def units_of(self, uuids, exclude=None):
        """Set of units of these instances (existing or placed)."""
        known = self._known_keys()
        units = set()
        for uuid in uuids:
            if uuid == exclude:
                continue
            key = self.placed.get(uuid) or known.get(uuid)
            if key is not None:
                units.add(key)
        return units


def _weakrefable(obj):
    try:
        weakref.ref(obj)
    except TypeError:
        return False
    return True


def _safe_list(obj, field):
    try:
        value = getattr(obj, field)
    except Exception:
        return []
    return list(value) if isinstance(value, (list, tuple, set)) else []


def _num_instances(spec_obj):
    try:
        return int(spec_obj.num_instances)
    except Exception:
        return 1
