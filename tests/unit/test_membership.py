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

"""RequestView: members by cluster, one lookup per request, siblings.

Also the fakes and the base test case of the server-group filter and
weigher tests (``tests/unit/filters/test_*affinity.py``,
``test_same_host.py``, ``test_different_host.py``,
``tests/unit/weights/test_soft_affinity.py``): nova's real HostState,
RequestSpec, InstanceGroup and handlers, and a fake of the one collaborator,
the :data:`nova_vmw_sched.membership.source` of instance nodes.
"""

import logging

import fixtures
import nova.conf
from nova import context as nova_context
from nova import objects
from nova.scheduler import filters as nova_filters
from nova.scheduler import host_manager
from nova.scheduler import manager
from nova.scheduler import weights as nova_weights
from nova import test
from oslo_utils.fixture import uuidsentinel as uuids

from nova_vmw_sched import cluster
from nova_vmw_sched import conf as vmw_conf
from nova_vmw_sched.filters import affinity
from nova_vmw_sched.filters import anti_affinity
from nova_vmw_sched.filters import different_host
from nova_vmw_sched.filters import same_host
from nova_vmw_sched import membership
from nova_vmw_sched.weights import soft_affinity

CONF = nova.conf.CONF
VC1 = '6f1c2a6e-2f6b-4c39-9d55-3b1f4c1e7a01'
VC2 = '0b7e4d2c-91a3-4f5e-8c6d-2e1f3a4b5c6d'
REBUILD = {'_nova_check_type': ['rebuild']}


def node(n, vcenter=VC1):
    """Node name of cluster domain-c<n> of a vCenter."""
    return 'domain-c%d.%s' % (n, vcenter)


def host(service, nodename, instances=None):
    """A real nova HostState with room for a small flavor.

    ``nodename`` may be odd data (None, an int): nova's constructor needs a
    string, so it is set afterwards.
    """
    hs = host_manager.HostState(service, str(nodename), uuids.cell1)
    hs.nodename = nodename
    hs.free_ram_mb = 65536
    hs.free_disk_mb = 1024 * 1024
    hs.vcpus_total = 64
    hs.vcpus_used = 0
    if instances is not None:
        hs.instances = instances
    return hs


def group(policy, members=(), rules=None, hosts=()):
    return objects.InstanceGroup(
        uuid=uuids.group, policy=policy, members=list(members),
        hosts=list(hosts), rules=dict(rules or {}))


def spec(instance_group=None, instance_uuid=None, num_instances=1,
         hints=None):
    """A RequestSpec with what nova's consume_from_request reads.

    ``hints`` as the API gives them: nova stores a single value as a list of
    one, which ``get_scheduler_hint`` gives back as the value.
    """
    spec_obj = objects.RequestSpec(
        flavor=objects.Flavor(memory_mb=512, vcpus=1, root_gb=1,
                              ephemeral_gb=0, extra_specs={}),
        instance_group=instance_group,
        instance_uuid=instance_uuid or uuids.instance,
        num_instances=num_instances,
        numa_topology=None, pci_requests=None, requested_resources=[],
        ignore_hosts=None, force_hosts=None, force_nodes=None,
        requested_destination=None)
    spec_obj._from_hints(dict(hints or {}))
    return spec_obj


class FakeSource:
    """Instance nodes as a cell database would give them; records calls.

    ``nodes`` maps an instance uuid to its node (None: not scheduled yet);
    uuids it lacks are deleted or unknown, and not returned, as
    :class:`nova_vmw_sched.membership.DatabaseSource` would not.
    """

    def __init__(self, nodes=None):
        self.nodes = dict(nodes or {})
        self.calls = []
        self.contexts = []

    def nodes_of(self, context, wanted):
        self.calls.append(sorted(wanted))
        self.contexts.append(context)
        return {u: self.nodes[u] for u in wanted if u in self.nodes}


class Records(logging.Handler):
    """Keep the log records of one level."""

    def __init__(self, level):
        super().__init__(level=level)
        self.wanted = level
        self.records = []

    def emit(self, record):
        if record.levelno == self.wanted:
            self.records.append(record)


class GroupTestCase(test.NoDBTestCase):
    """Real HostStates and handlers, a fake instance-node source."""

    def setUp(self):
        super().setUp()
        vmw_conf.register_opts(CONF)
        self.source = FakeSource()
        self.useFixture(fixtures.MonkeyPatch(
            'nova_vmw_sched.membership.source', self.source))
        # The shadowing check runs once per process and reads the
        # configuration of whichever test comes first; its own tests reset
        # this flag.
        self.useFixture(fixtures.MonkeyPatch(
            'nova_vmw_sched.filters._shadow_checked', True))
        self.filter_handler = nova_filters.HostFilterHandler()
        self.weight_handler = nova_weights.HostWeightHandler()

    def run_filters(self, filters, hosts, spec_obj, index=0):
        """Node names that pass ``filters`` through nova's handler."""
        if not isinstance(filters, (list, tuple)):
            filters = [filters]
        result = self.filter_handler.get_filtered_objects(
            filters, hosts, spec_obj, index)
        return [h.nodename for h in result]

    def schedule(self, hosts, spec_obj, instance_uuids, filters=(),
                 weighers=()):
        """Place a multi-create as nova's SchedulerManager._schedule does.

        For each instance: set ``spec_obj.instance_uuid``, filter and weigh
        through nova's handlers the hosts left from the previous instance,
        take the best and consume it with nova's own
        ``SchedulerManager._consume_selected_host`` (resources,
        ``num_instances``, ``group.hosts``, a stub in ``instances``).

        :returns: the chosen node names; None for an instance that found no
            host (and the rest are not tried, as in nova)
        """
        chosen = []
        for index, instance_uuid in enumerate(instance_uuids):
            spec_obj.instance_uuid = instance_uuid
            spec_obj.obj_reset_changes(['instance_uuid'])
            filtered = self.filter_handler.get_filtered_objects(
                list(filters), hosts, spec_obj, index)
            if not filtered:
                chosen.append(None)
                break
            weighed = self.weight_handler.get_weighed_objects(
                list(weighers), filtered, spec_obj)
            hosts = [w.obj for w in weighed]
            selected = hosts[0]
            manager.SchedulerManager._consume_selected_host(
                selected, spec_obj, instance_uuid=instance_uuid)
            chosen.append(selected.nodename)
        return chosen



class FilterTestCase(GroupTestCase):
    """One of our group/hint filters over two clusters of svc1, one of svc2.
    """

    #: the filter class under test
    FILTER = None

    def setUp(self):
        super().setUp()
        self.filter = self.FILTER()
        self.hosts = [host('svc1', node(1)), host('svc1', node(2)),
                      host('svc2', node(3))]
        self.all = [node(1), node(2), node(3)]

    def passing(self, spec_obj, hosts=None, index=0):
        return self.run_filters(self.filter, hosts or self.hosts, spec_obj,
                                index)

class TestRequestView(GroupTestCase):

    def test_one_view_and_one_lookup_per_request(self):
        ctxt = nova_context.RequestContext('user', 'project')
        self.source.nodes = {uuids.m1: node(1), uuids.m2: node(2),
                             uuids.same: node(3), uuids.diff: node(4)}
        spec_obj = spec(group('anti-affinity', [uuids.m1, uuids.m2]),
                        hints={'same_host': [uuids.same],
                               'different_host': uuids.diff})
        spec_obj._context = ctxt
        view = membership.view_for(spec_obj)
        self.assertIs(view, membership.view_for(spec_obj))
        self.assertEqual([], self.source.calls)  # lazy
        for _ in range(3):
            self.assertEqual({cluster.node_key(node(1)): 1,
                              cluster.node_key(node(2)): 1},
                             dict(view.member_counts()))
            self.assertEqual({cluster.node_key(node(3))},
                             view.units_of(view.same_host))
            self.assertEqual({cluster.node_key(node(4))},
                             view.units_of(view.different_host))
        # members and hints together, in the request's context
        self.assertEqual(
            [sorted([uuids.m1, uuids.m2, uuids.same, uuids.diff])],
            self.source.calls)
        self.assertEqual([ctxt], self.source.contexts)
        # another request has its own view and looks up again
        other = spec(group('anti-affinity', [uuids.m1]))
        self.assertIsNot(view, membership.view_for(other))
        membership.view_for(other).member_counts()
        self.assertEqual(2, len(self.source.calls))

    def test_nothing_to_look_up_asks_nothing(self):
        view = membership.view_for(spec(group('anti-affinity', [])))
        self.assertEqual({}, dict(view.member_counts()))
        self.assertEqual(set(), view.units_of([uuids.x]))
        self.assertEqual([], self.source.calls)

    def test_hints_as_single_value_or_list(self):
        view = membership.RequestView(spec(hints={
            'same_host': uuids.a, 'different_host': [uuids.b, uuids.c]}))
        self.assertEqual((uuids.a,), view.same_host)
        self.assertEqual((uuids.b, uuids.c), view.different_host)
        view = membership.RequestView(spec())
        self.assertEqual((), view.same_host)
        self.assertEqual((), view.different_host)

    def test_members_count_by_cluster(self):
        self.source.nodes = {
            uuids.m1: node(1), uuids.m2: node(1).upper().replace(
                'DOMAIN-C', 'domain-c'),
            uuids.m3: node(1, VC2), uuids.m4: 'compute1',
            uuids.m5: 'domain-c9(Gold)',
            # never scheduled
            uuids.never: None, uuids.empty: ''}
        view = membership.view_for(spec(group(
            'anti-affinity', [uuids.m1, uuids.m2, uuids.m3, uuids.m4,
                              uuids.m5, uuids.never, uuids.empty,
                              uuids.deleted])))
        # a vCenter uuid in upper case is the same cluster; the same moref in
        # another vCenter is not; other nodes count by node name; members
        # without a node or deleted (not returned) do not count
        self.assertEqual({cluster.node_key(node(1)): 2,
                          cluster.node_key(node(1, VC2)): 1,
                          'compute1': 1,
                          cluster.node_key('domain-c9(Gold)'): 1},
                         dict(view.member_counts()))

    def test_exclude_the_instance_being_scheduled(self):
        self.source.nodes = {uuids.m1: node(1), uuids.m2: node(1)}
        view = membership.view_for(spec(group(
            'anti-affinity', [uuids.m1, uuids.m2])))
        self.assertEqual({cluster.node_key(node(1)): 1},
                         dict(view.member_counts(exclude=uuids.m1)))
        self.assertEqual({cluster.node_key(node(1)): 2},
                         dict(view.member_counts()))
        self.assertEqual(set(), view.units_of([uuids.m1],
                                              exclude=uuids.m1))
        self.assertEqual({cluster.node_key(node(1))},
                         view.units_of([uuids.m1]))

    def test_failed_lookup_counts_nothing_and_logs(self):
        class Broken:
            calls = 0

            def nodes_of(self, context, wanted):
                Broken.calls += 1
                raise RuntimeError('cell down')

        self.useFixture(fixtures.MonkeyPatch(
            'nova_vmw_sched.membership.source', Broken()))
        errors = Records(logging.ERROR)
        self.useFixture(fixtures.LogHandler(
            errors, name='nova_vmw_sched.membership', nuke_handlers=False))
        view = membership.view_for(spec(group('anti-affinity',
                                              [uuids.m1])))
        self.assertEqual({}, dict(view.member_counts()))
        self.assertEqual({}, dict(view.member_counts()))
        self.assertEqual(1, Broken.calls)
        self.assertEqual(1, len(errors.records))
        self.assertIn(uuids.m1, errors.records[0].getMessage())


class TestSiblingsOfMultiCreate(GroupTestCase):
    """observe(): where nova put the previous instance of the request."""

    def _estate(self, shared):
        # After the compute reported, nova's HostStates of one service
        # share one instances dict; before, each has its own.
        common = {}
        return [host('svc1', node(n), common if shared else {})
                for n in (1, 2, 3)] + [host('svc2', node(4))]

    def _run(self, shared):
        hosts = self._estate(shared)
        instance_uuids = [uuids.i0, uuids.i1, uuids.i2]
        spec_obj = spec(group('anti-affinity', instance_uuids),
                        num_instances=3)
        view = membership.view_for(spec_obj)
        # nova's loop, by hand: observe, then consume the 2nd cluster of
        # svc1 for i0 and the 3rd for i1
        for instance_uuid, chosen in zip(instance_uuids,
                                         (hosts[1], hosts[2], None)):
            spec_obj.instance_uuid = instance_uuid
            view.observe(spec_obj, hosts)
            if chosen is not None:
                manager.SchedulerManager._consume_selected_host(
                    chosen, spec_obj, instance_uuid=instance_uuid)
        return view

    def test_placed_siblings_by_node_in_both_instance_views(self):
        for shared in (True, False):
            # the database still says "no node" for the siblings
            self.source.nodes = dict.fromkeys([uuids.i0, uuids.i1])
            view = self._run(shared)
            self.assertEqual({uuids.i0: cluster.node_key(node(2)),
                              uuids.i1: cluster.node_key(node(3))},
                             view.placed, shared)
            self.assertEqual({cluster.node_key(node(2)): 1,
                              cluster.node_key(node(3)): 1},
                             dict(view.member_counts(exclude=uuids.i2)),
                             shared)

    def test_only_growth_of_this_multi_create_is_recorded(self):
        hosts = self._estate(shared=True)
        # a single-instance request
        spec_obj = spec(group('anti-affinity', [uuids.i0]))
        view = membership.view_for(spec_obj)
        view.observe(spec_obj, hosts)
        manager.SchedulerManager._consume_selected_host(
            hosts[0], spec_obj, instance_uuid=uuids.i0)
        view.observe(spec_obj, hosts)
        self.assertEqual({}, view.placed)
        # resources consumed by someone else, group.hosts unchanged
        hosts = self._estate(shared=False)
        spec_obj = spec(group('anti-affinity', [uuids.i0, uuids.i1]),
                        num_instances=2, instance_uuid=uuids.i0)
        view = membership.view_for(spec_obj)
        view.observe(spec_obj, hosts)
        hosts[0].consume_from_request(spec_obj)
        spec_obj.instance_uuid = uuids.i1
        view.observe(spec_obj, hosts)
        self.assertEqual({}, view.placed)

    def test_odd_hosts_and_groups_do_not_raise(self):
        class Bare:
            pass

        spec_obj = spec(group('anti-affinity', [uuids.i0, uuids.i1]),
                        num_instances=2, instance_uuid=uuids.i0)
        view = membership.view_for(spec_obj)
        view.observe(spec_obj, [Bare(), host('svc1', None),
                                host('svc1', 42)])
        spec_obj.instance_group.hosts.append('svc1')
        spec_obj.instance_uuid = uuids.i1
        view.observe(spec_obj, [Bare()])
        self.assertEqual({}, dict(view.member_counts()))
        # a group without members, hosts or rules set
        bare_group = objects.InstanceGroup(policy='anti-affinity')
        spec_obj = spec(bare_group, num_instances=2)
        view = membership.view_for(spec_obj)
        view.observe(spec_obj, [host('svc1', node(1))])
        self.assertEqual((), view.members)
        self.assertEqual({}, dict(view.member_counts()))


class TestOneLookupPerRequest(GroupTestCase):
    """Every filter, weigher and instance of a request share one lookup."""

    def setUp(self):
        super().setUp()
        self.flags(soft_affinity_weight_multiplier=0.0,
                   soft_anti_affinity_weight_multiplier=0.0,
                   group='filter_scheduler')
        self.filters = [affinity.ServerGroupAffinityFilter(),
                        anti_affinity.ServerGroupAntiAffinityFilter(),
                        same_host.SameHostFilter(),
                        different_host.DifferentHostFilter()]
        self.weighers = [soft_affinity.VMwareClusterSoftAffinityWeigher(),
                         soft_affinity.VMwareClusterSoftAntiAffinityWeigher()]
        self.hosts = [host('svc1', node(n)) for n in (1, 2, 3, 4)] + [
            host('svc2', node(n)) for n in (5, 6)]
        self.source.nodes = {uuids.old: node(1), uuids.near: node(2),
                             uuids.far: node(6)}
        self.instance_uuids = [uuids.i0, uuids.i1, uuids.i2]
        self.hints = {'same_host': [uuids.near, uuids.far],
                      'different_host': uuids.far}
        self.wanted = sorted(self.instance_uuids + [
            uuids.old, uuids.near, uuids.far])

    def _request(self, policy):
        return spec(group(policy, self.instance_uuids + [uuids.old]),
                    num_instances=3, hints=self.hints)

    def test_hard_policy_multi_create(self):
        spec_obj = self._request('anti-affinity')
        # same_host leaves c2 and c6, different_host c2; anti-affinity then
        # allows one member there
        self.assertEqual([node(2), None], self.schedule(
            self.hosts, spec_obj, self.instance_uuids,
            filters=self.filters, weighers=self.weighers))
        self.assertEqual([self.wanted], self.source.calls)
        # a new request looks up again
        self.schedule(self.hosts, self._request('anti-affinity'),
                      self.instance_uuids, filters=self.filters,
                      weighers=self.weighers)
        self.assertEqual([self.wanted, self.wanted], self.source.calls)

    def test_soft_policy_multi_create(self):
        self.hints = {'different_host': uuids.far}
        spec_obj = self._request('soft-anti-affinity')
        chosen = self.schedule(self.hosts, spec_obj, self.instance_uuids,
                               filters=self.filters, weighers=self.weighers)
        # spread away from old's c1 and far's c6, one per cluster
        self.assertEqual(3, len(set(chosen)))
        self.assertNotIn(node(1), chosen)
        self.assertNotIn(node(6), chosen)
        self.assertEqual(
            [sorted(self.instance_uuids + [uuids.old, uuids.far])],
            self.source.calls)


class TestDatabaseSource(test.NoDBTestCase):
    """The default source: one instance query per cell, non-deleted only."""

    def _instances(self, **nodes):
        return objects.InstanceList(objects=[
            objects.Instance(uuid=getattr(uuids, name), node=value)
            for name, value in nodes.items()])

    def test_targeted_context_queries_its_cell_once(self):
        calls = []

        # fixtures.MonkeyPatch keeps a classmethod a classmethod
        def get_by_filters(cls, context, filters, expected_attrs=None,
                           **kw):
            calls.append((context, filters, expected_attrs))
            return self._instances(a=node(1), b=None)

        self.useFixture(fixtures.MonkeyPatch(
            'nova.objects.InstanceList.get_by_filters', get_by_filters))
        ctxt = nova_context.get_admin_context()
        ctxt.db_connection = object()
        nodes = membership.DatabaseSource().nodes_of(
            ctxt, {uuids.b, uuids.a})
        self.assertEqual({uuids.a: node(1), uuids.b: None}, nodes)
        self.assertEqual(
            [(ctxt, {'uuid': sorted([uuids.a, uuids.b]), 'deleted': False},
              [])], calls)

    def test_cells_gathered_and_failed_cell_skipped(self):
        def scatter_gather_skip_cell0(context, fn):
            # what nova gives back: fn's result per cell, or a sentinel
            return {uuids.cell1: {uuids.a: node(1)},
                    uuids.cell2: nova_context.did_not_respond_sentinel,
                    uuids.cell3: {uuids.c: node(3)}}

        self.useFixture(fixtures.MonkeyPatch(
            'nova.context.scatter_gather_skip_cell0',
            scatter_gather_skip_cell0))
        warnings = Records(logging.WARNING)
        self.useFixture(fixtures.LogHandler(
            warnings, name='nova_vmw_sched.membership', nuke_handlers=False))
        nodes = membership.DatabaseSource().nodes_of(
            nova_context.get_admin_context(), [uuids.a, uuids.c])
        self.assertEqual({uuids.a: node(1), uuids.c: node(3)}, nodes)
        self.assertEqual(1, len(warnings.records))
        self.assertIn(uuids.cell2, warnings.records[0].getMessage())
