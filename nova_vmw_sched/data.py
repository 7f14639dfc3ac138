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

"""The one seam between the rules and what nova's databases and placement
answer (:class:`Data`), built per process on first use (:func:`get`);
tests, benchmarks and the simulator replace it whole (:func:`use`).
"""

import contextlib
import os
import threading

from oslo_log import log as logging
import sqlalchemy

from nova import context as nova_context
from nova import objects

from nova_vmw_sched import cluster
from nova_vmw_sched import duties
from nova_vmw_sched import inventory as inventory_mod
from nova_vmw_sched import keeper as keeper_mod

LOG = logging.getLogger(__name__)


class LookupFailed(Exception):
    """A database or placement lookup of instances did not answer."""


class SettledSource:
    """:attr:`Data.members` of stand-ins whose instances are settled."""

    def nodes_of(self, context, uuids):
        """``{uuid: node}`` of the instances in a cell (node may be None)."""
        raise NotImplementedError()

    def instance_of(self, context, uuid):
        """``(node, flavor id)`` of an instance, or None."""
        return None

    def building(self, context, uuids):
        """``{uuid: order}`` of the instances still build requests: the
        order in which they joined their server group, which every
        scheduler process reads the same (None: in no group)."""
        return {}

    def allocations_of(self, context, uuid):
        """The resource providers holding ``uuid``'s allocation."""
        return []

    def nodes_of_providers(self, context, rp_uuids):
        """``{resource provider uuid: node}`` of compute nodes."""
        return {}


class NovaSource(SettledSource):
    """Answers from nova's cell and API databases and placement."""

    def nodes_of(self, context, uuids):
        return {uuid: inst.node
                for uuid, inst in _instances(context, uuids).items()}

    def instance_of(self, context, uuid):
        inst = _instances(context, [uuid]).get(uuid)
        return None if inst is None else (inst.node, inst.instance_type_id)

    def building(self, context, uuids):
        """The order is the id of the row that added each to its group
        (nova-api adds it after creating the build request: another
        request's can come in between). One query, not nova's BuildRequest,
        which decodes the whole serialized instance (50 build requests on
        sqlite: 18-30 ms each against 12 ms for all 50).
        """
        if not uuids:
            return {}
        from nova.db.api import api as api_db
        from nova.db.api import models as api_models

        @api_db.context_manager.reader
        def query(context):
            build = api_models.BuildRequest
            member = api_models.InstanceGroupMember
            # an instance is in one group at most: min() of one row
            return dict(context.session.query(
                build.instance_uuid, sqlalchemy.func.min(member.id)
            ).outerjoin(
                member, member.instance_uuid == build.instance_uuid
            ).filter(
                build.instance_uuid.in_(sorted(uuids))
            ).group_by(build.instance_uuid).all())

        return query(context)

    def allocations_of(self, context, uuid):
        from nova.scheduler.client import report
        client = report.report_client_singleton()
        try:
            found = client.get_allocs_for_consumer(context, uuid)
        except Exception as e:
            raise LookupFailed('placement did not give the allocation of '
                               '%s: %s' % (uuid, e)) from e
        return sorted((found or {}).get('allocations') or {})

    def nodes_of_providers(self, context, rp_uuids):
        rp_uuids = sorted(rp_uuids)
        return _in_every_cell(context, lambda cctxt: {
            cn.uuid: cn.hypervisor_hostname
            for cn in objects.ComputeNodeList.get_all_by_uuids(
                cctxt, rp_uuids)})


def _instances(context, uuids):
    # soft_deleted: nova's database API leaves SOFT_DELETED instances out
    # unless asked; they keep their host and node and can be restored, and
    # nova's ServerGroupAntiAffinityFilter (HostState.instances) counts them
    filters = {'uuid': sorted(uuids), 'deleted': False,
               'soft_deleted': True}

    def in_cell(cell_context):
        return {inst.uuid: inst for inst in objects.InstanceList.
                get_by_filters(cell_context, filters=filters,
                               expected_attrs=[])}

    if getattr(context, 'db_connection', None):
        return in_cell(context)
    return _in_every_cell(context, in_cell)


def _in_every_cell(context, in_cell, strict=True):
    """``in_cell``'s dicts merged over every cell but cell0; a cell that
    does not answer raises :class:`LookupFailed` if ``strict``."""
    found = {}
    results = nova_context.scatter_gather_skip_cell0(context, in_cell)
    for cell_uuid, result in results.items():
        if not nova_context.is_cell_failure_sentinel(result):
            found.update(result)
        elif strict:
            raise LookupFailed('cell %s did not answer' % cell_uuid)
    return found


class DatabaseLookup:
    """Find a cluster's compute node records and their services."""

    def records_of(self, context, ref):
        """``[(service host, disabled, disabled_reason)]`` of the nodes of
        the cluster(s) ``ref`` matches (cells that do not answer left out)"""

        def in_cell(cctxt):
            result = {}
            for node in objects.ComputeNodeList.get_by_hypervisor(
                    cctxt, ref.moref):
                if ref.matches(cluster.cluster_of_node(
                        node.hypervisor_hostname)):
                    service = objects.Service.get_by_compute_host(
                        cctxt, node.host)
                    result[node.uuid] = (node.host, service.disabled,
                                         service.disabled_reason)
            return result

        return list(_in_every_cell(context, in_cell, strict=False).values())


class Data:
    """Every lookup of nova's databases and placement, for one process."""

    def __init__(self, members=None, lookup=None, inventory=None,
                 keeper=None):
        #: the placement keeper, which knows the HA reserve it holds
        self.keeper = keeper if keeper is not None else keeper_mod.Keeper(
            duties.run_once)
        #: where instances are (:class:`SettledSource` interface)
        self.members = members if members is not None else NovaSource()
        #: a pinned cluster's node records
        self.lookup = lookup if lookup is not None else DatabaseLookup()
        self.inventory = inventory if inventory is not None else \
            inventory_mod.InventoryCache(
                usage_source=inventory_mod.PlacementUsageSource(
                    held=self.keeper.held))


_current = None
_lock = threading.Lock()


def get() -> Data:
    """The process's :class:`Data` (built on first use)."""
    global _current
    if _current is None:  # no lock once built (a forked child's may be held)
        with _lock:
            if _current is None:
                _current = Data()
    return _current


def replace(data):
    """Make ``data`` the process's :class:`Data`; return the old one."""
    global _current
    with _lock:
        old, _current = _current, data
    return old


@contextlib.contextmanager
def use(data):
    """``data`` is the process's :class:`Data` within the block."""
    old = replace(data)
    try:
        yield data
    finally:
        replace(old)


def start_keeper():
    """Called by the filters when nova's HostManager loads them."""
    try:
        get().keeper.start()
    except Exception as e:  # never keep the scheduler from starting
        LOG.warning('Could not start the placement keeper: %s', e)


def _after_fork_in_child():
    # nova-scheduler with [scheduler] workers > 1 loads the filters in the
    # parent and forks: the parent's thread is not in the child
    keeper = _current.keeper if _current is not None else None
    if getattr(keeper, '_pid', None) not in (None, os.getpid()):
        keeper._pid = None
        start_keeper()


os.register_at_fork(after_in_child=_after_fork_in_child)
