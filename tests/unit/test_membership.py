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

"""Members: by cluster, one lookup per request, in flight, siblings,
failures.

Also the fakes and the base test case of the server-group filter and
weigher tests (``tests/unit/filters/test_*affinity_filter.py``,
``test_same_host_filter.py``, ``test_different_host_filter.py``,
``tests/unit/weights/test_soft_affinity_weigher.py``): nova's real HostState,
RequestSpec, InstanceGroup and handlers, and a fake of the one collaborator,
the ``members`` of :class:`nova_vmw_sched.data.Data`.
"""

import logging
import uuid as uuid_mod

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
from nova_vmw_sched import data
from nova_vmw_sched.filters import affinity_filter
from nova_vmw_sched.filters import anti_affinity_filter
from nova_vmw_sched.filters import different_host_filter
from nova_vmw_sched.filters import same_host_filter
from nova_vmw_sched import membership
from nova_vmw_sched.weights import soft_affinity_weigher
from tests import data_fixture

CONF = nova.conf.CONF
VC1 = '6f1c2a6e-2f6b-4c39-9d55-3b1f4c1e7a01'
VC2 = '0b7e4d2c-91a3-4f5e-8c6d-2e1f3a4b5c6d'
REBUILD = {'_nova_check_type': ['rebuild']}


def node(n, vcenter=VC1):
    """Node name of cluster domain-c<n> of a vCenter."""
    return 'domain-c%d.%s' % (n, vcenter)


def rp_of(nodename):
    """The resource provider (compute node) uuid of a node, in these tests.
    """
    return str(uuid_mod.uuid5(uuid_mod.NAMESPACE_URL, repr(nodename)))


def host(service, nodename, instances=None):
    """A real nova HostState with room for a small flavor.

    ``nodename`` may be odd data (None, an int): nova's constructor needs a
    string, so it is set afterwards.
    """
    hs = host_manager.HostState(service, str(nodename), uuids.cell1)
    hs.nodename = nodename
    hs.uuid = rp_of(nodename)
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
    """nova's shared state as the membership lookup reads it; records calls.

    ``nodes`` is the cell databases: an instance uuid to its node (None: in
    a cell, no node yet); uuids it lacks are deleted or unknown, and not
    returned, as :class:`nova_vmw_sched.data.NovaSource` would not.
    ``builds`` the build requests of the API database ({uuid: order}),
    ``allocations`` placement ({uuid: [resource provider uuid]}),
    ``providers`` the compute nodes ({rp uuid: node}).
    """

    def __init__(self, nodes=None):
        self.nodes = dict(nodes or {})
        self.builds = {}
        self.allocations = {}
        self.providers = {}
        #: {uuid: (node, flavor id)} for moves
        self.instances = {}
        self.calls = []
        self.contexts = []
        self.reads = []
        self.build_calls = []
        self.provider_calls = []

    def nodes_of(self, context, wanted):
        self.calls.append(sorted(wanted))
        self.contexts.append(context)
        return {u: self.nodes[u] for u in wanted if u in self.nodes}

    def building(self, context, wanted):
        self.build_calls.append(sorted(wanted))
        return {u: self.builds[u] for u in wanted if u in self.builds}

    def allocations_of(self, context, uuid):
        self.reads.append(uuid)
        return list(self.allocations.get(uuid, ()))

    def instance_of(self, context, uuid):
        self.calls.append([uuid])
        return self.instances.get(uuid)

    def nodes_of_providers(self, context, rp_uuids):
        self.provider_calls.append(sorted(rp_uuids))
        return {r: self.providers[r] for r in rp_uuids
                if r in self.providers}


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
        self.useFixture(data_fixture.DataFixture(members=self.source))
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
        # new instances: nothing allocated yet
        for instance_uuid in instance_uuids:
            self.source.allocations.pop(instance_uuid, None)
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
            # nova claims in placement before it consumes
            self.source.allocations[instance_uuid] = [selected.uuid]
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

    def reasons(self, spec_obj, hosts=None):
        """``{node: what check() gives}``: None or the reason it fails."""
        hosts = hosts or self.hosts
        prepared = self.filter.prepare_hosts(spec_obj, hosts)
        return {h.nodename: self.filter.check(h, prepared) for h in hosts}


class TestMembers(GroupTestCase):

    def test_admin_context(self):
        ctxt = nova_context.RequestContext('user', 'project')
        spec_obj = spec(None)
        spec_obj._context = ctxt
        found = membership.admin_context(spec_obj)
        self.assertTrue(found.is_admin)
        self.assertEqual(ctxt.global_id, found.global_id)
        self.assertTrue(membership.admin_context(object()).is_admin)

    def test_one_view_and_one_lookup_per_request(self):
        ctxt = nova_context.RequestContext('user', 'project')
        self.source.nodes = {uuids.m1: node(1), uuids.m2: node(2),
                             uuids.same: node(3), uuids.diff: node(4)}
        spec_obj = spec(group('anti-affinity', [uuids.m1, uuids.m2]),
                        hints={'same_host': [uuids.same],
                               'different_host': uuids.diff})
        spec_obj._context = ctxt
        members = membership.members_of(spec_obj)
        self.assertIs(members, membership.members_of(spec_obj))
        self.assertEqual([], self.source.calls)  # lazy
        for _ in range(3):
            self.assertEqual({cluster.node_key(node(1)): 1,
                              cluster.node_key(node(2)): 1},
                             dict(members.counts(members.members)))
            for hint, n in (('same_host', 3), ('different_host', 4)):
                self.assertEqual({cluster.node_key(node(n)): 1},
                                 dict(members.counts(members.hints[hint])))
        # members and hints together; a settled group asks nothing else
        self.assertEqual(
            [sorted([uuids.m1, uuids.m2, uuids.same, uuids.diff])],
            self.source.calls)
        self.assertEqual(([], []), (self.source.reads,
                                    self.source.build_calls))
        # with an elevated copy of the request's context: members of other
        # projects count too
        used = self.source.contexts[0]
        self.assertTrue(used.is_admin)
        self.assertFalse(ctxt.is_admin)
        self.assertEqual('project', used.project_id)
        # another request has its own view and looks up again
        other = spec(group('anti-affinity', [uuids.m1]))
        self.assertIsNot(members, membership.members_of(other))
        membership.members_of(other).counts([uuids.m1])
        self.assertEqual(2, len(self.source.calls))

    def test_nothing_to_look_up_asks_nothing(self):
        members = membership.members_of(spec(group('anti-affinity', [])))
        self.assertEqual({}, dict(members.counts(members.members)))
        self.assertEqual({}, dict(members.counts([uuids.x])))
        self.assertEqual([], self.source.calls)

    def test_hints_as_single_value_or_list(self):
        members = membership.Members(spec(hints={
            'same_host': uuids.a, 'different_host': [uuids.b, uuids.c]}))
        self.assertEqual((uuids.a,), members.hints['same_host'])
        self.assertEqual((uuids.b, uuids.c), members.hints['different_host'])
        members = membership.Members(spec())
        self.assertEqual((), members.hints['same_host'])
        self.assertEqual((), members.hints['different_host'])

    def test_members_count_by_cluster(self):
        self.source.nodes = {
            uuids.m1: node(1), uuids.m2: node(1).upper().replace(
                'DOMAIN-C', 'domain-c'),
            uuids.m3: node(1, VC2), uuids.m4: 'compute1',
            uuids.m5: 'domain-c9(Gold)',
            # in a cell, no node, nothing allocated (ERROR, shelved)
            uuids.never: None, uuids.empty: ''}
        members = membership.members_of(spec(group(
            'anti-affinity', [uuids.m1, uuids.m2, uuids.m3, uuids.m4,
                              uuids.m5, uuids.never, uuids.empty,
                              uuids.deleted])))
        # a vCenter uuid in upper case is the same cluster; the same moref in
        # another vCenter is not; other nodes count by node name; members
        # without a node and an allocation, or deleted, do not count
        self.assertEqual({cluster.node_key(node(1)): 2,
                          cluster.node_key(node(1, VC2)): 1,
                          'compute1': 1,
                          cluster.node_key('domain-c9(Gold)'): 1},
                         dict(members.counts(members.members)))
        self.assertIsNone(members.error)
        # one placement read for each member without a node
        self.assertEqual(sorted([uuids.never, uuids.empty, uuids.deleted]),
                         sorted(self.source.reads))

    def test_exclude_the_instance_being_scheduled(self):
        self.source.nodes = {uuids.m1: node(1), uuids.m2: node(1)}
        members = membership.members_of(spec(group(
            'anti-affinity', [uuids.m1, uuids.m2])))
        self.assertEqual({cluster.node_key(node(1)): 1},
                         dict(members.counts(members.members,
                                             exclude=uuids.m1)))
        self.assertEqual({cluster.node_key(node(1)): 2},
                         dict(members.counts(members.members)))
        self.assertEqual({}, dict(members.counts([uuids.m1],
                                                 exclude=uuids.m1)))
        self.assertEqual({cluster.node_key(node(1)): 1},
                         dict(members.counts([uuids.m1])))


class Broken(FakeSource):
    """A source whose lookups fail, as a cell that does not answer."""

    def __init__(self, fail='nodes_of'):
        super().__init__()
        self.fail = fail
        self.failures = 0

    def _maybe_fail(self, name):
        if name == self.fail:
            self.failures += 1
            raise data.LookupFailed('cell %s did not answer'
                                          % uuids.cell2)

    def nodes_of(self, context, wanted):
        self._maybe_fail('nodes_of')
        return super().nodes_of(context, wanted)

    def allocations_of(self, context, uuid):
        self._maybe_fail('allocations_of')
        return super().allocations_of(context, uuid)


class TestFailClosed(GroupTestCase):
    """A failed lookup: hard rules refuse every host, soft ones count what
    is known; one WARNING per request and rule."""

    def setUp(self):
        super().setUp()
        self.flags(soft_anti_affinity_weight_multiplier=0.0,
                   group='filter_scheduler')
        self.hosts = [host('svc1', node(n)) for n in (1, 2)] + [
            host('svc2', node(3))]
        self.warnings = Records(logging.WARNING)
        self.useFixture(fixtures.LogHandler(
            self.warnings, name='nova_vmw_sched', nuke_handlers=False))

    def _broken(self, fail):
        broken = Broken(fail)
        self.useFixture(data_fixture.DataFixture(members=broken))
        return broken

    def test_hard_filters_refuse_with_one_warning(self):
        cases = [
            (anti_affinity_filter.ServerGroupAntiAffinityFilter(),
             dict(instance_group=group('anti-affinity', [uuids.m1]))),
            (affinity_filter.ServerGroupAffinityFilter(),
             dict(instance_group=group('affinity', [uuids.m1]))),
            (same_host_filter.SameHostFilter(),
             dict(hints={'same_host': [uuids.m1]})),
            (different_host_filter.DifferentHostFilter(),
             dict(hints={'different_host': [uuids.m1]})),
        ]
        for fail in ('nodes_of', 'allocations_of'):
            for filter_obj, kwargs in cases:
                self.warnings.records = []
                broken = self._broken(fail)
                spec_obj = spec(num_instances=2, **kwargs)
                name = type(filter_obj).__name__
                # nova runs the hint filters for the first instance only
                once = filter_obj.run_filter_once_per_request
                for index in ((0,) if once else (0, 1)):
                    self.assertEqual([], self.run_filters(
                        filter_obj, self.hosts, spec_obj, index),
                        (name, fail))
                self.assertEqual(1, broken.failures, (name, fail))
                self.assertEqual(1, len(self.warnings.records),
                                 (name, fail))
                message = self.warnings.records[0].getMessage()
                self.assertIn(name, message)
                self.assertIn(uuids.cell2, message)
                if 'instance_group' in kwargs:
                    self.assertIn(uuids.group, message)
                else:
                    self.assertIn('same_host/different_host', message)

    def test_soft_weigher_fails_open(self):
        self._broken('nodes_of')
        weigher = soft_affinity_weigher.VMwareClusterSoftAntiAffinityWeigher()
        spec_obj = spec(group('soft-anti-affinity', [uuids.m1]))
        weighed = self.weight_handler.get_weighed_objects(
            [weigher], list(self.hosts), spec_obj)
        self.assertEqual([0.0] * 3, [w.weight for w in weighed])
        self.assertEqual([], self.warnings.records)

    def test_filters_without_a_group_or_hint_ask_nothing(self):
        broken = self._broken('nodes_of')
        for filter_obj in (anti_affinity_filter.ServerGroupAntiAffinityFilter(),
                           affinity_filter.ServerGroupAffinityFilter(),
                           same_host_filter.SameHostFilter(),
                           different_host_filter.DifferentHostFilter()):
            self.assertEqual(3, len(self.run_filters(
                filter_obj, self.hosts, spec())))
        self.assertEqual(0, broken.failures)


class EventuallyAllocated(FakeSource):
    """A member being scheduled elsewhere: its allocation appears after
    ``after`` reads (or never), its build request goes away with it."""

    def __init__(self, uuid, rp_uuid, after=2):
        super().__init__()
        self.pending = uuid
        self.rp_uuid = rp_uuid
        self.after = after

    def allocations_of(self, context, uuid):
        found = super().allocations_of(context, uuid)
        if uuid == self.pending and self.after is not None and \
                self.reads.count(uuid) > self.after:
            self.builds.pop(uuid, None)
            return [self.rp_uuid]
        return found


class TestInFlight(GroupTestCase):
    """Members placed but not claimed by their compute; members still
    being scheduled by another request."""

    def setUp(self):
        super().setUp()
        self.hosts = [host('svc1', node(n)) for n in (1, 2, 3)] + [
            host('svc2', node(4))]
        self.anti = anti_affinity_filter.ServerGroupAntiAffinityFilter()
        self.aff = affinity_filter.ServerGroupAffinityFilter()
        self.flags(server_group_wait_interval=0.01,
                   group='vmware_scheduler')

    def _use(self, source):
        self.useFixture(data_fixture.DataFixture(members=source))
        self.source = source
        return source

    def _me_building(self, order=5):
        self.source.builds[uuids.me] = order

    def test_allocated_member_counts_where_placement_holds_it(self):
        # m1 is in a cell without a node: its compute has not claimed yet
        self.source.nodes = {uuids.m1: None, uuids.m2: node(4)}
        self.source.allocations = {uuids.m1: [self.hosts[1].uuid]}
        self._me_building()
        anti = spec(group('anti-affinity', [uuids.m1, uuids.m2, uuids.me]),
                    instance_uuid=uuids.me)
        self.assertEqual([node(1), node(3)],
                         self.run_filters(self.anti, self.hosts, anti))
        aff = spec(group('affinity', [uuids.m1, uuids.me]),
                   instance_uuid=uuids.me)
        self.assertEqual([node(2)],
                         self.run_filters(self.aff, self.hosts, aff))
        # one read per member without a node and per request; none for m2
        self.assertEqual([uuids.m1, uuids.m1], self.source.reads)

    def test_provider_outside_the_candidates(self):
        elsewhere = rp_of(node(7))
        self.source.allocations = {uuids.m1: [elsewhere],
                                   uuids.m2: [uuids.unknown_rp]}
        self.source.providers = {elsewhere: node(7)}
        # m1 is on c7, which is no candidate: anti-affinity passes all
        anti = spec(group('anti-affinity', [uuids.m1]))
        self.assertEqual(4, len(self.run_filters(self.anti, self.hosts,
                                                 anti)))
        self.assertEqual([[elsewhere]], self.source.provider_calls)
        # affinity: the members' clusters are no candidates, none passes
        for members in ([uuids.m1], [uuids.m2]):
            aff = spec(group('affinity', members))
            self.assertEqual([], self.run_filters(self.aff, self.hosts, aff))

    def test_waits_for_an_earlier_member_being_scheduled(self):
        source = self._use(EventuallyAllocated(uuids.m1,
                                               self.hosts[2].uuid))
        source.builds[uuids.m1] = 3
        self._me_building()
        spec_obj = spec(group('anti-affinity', [uuids.m1, uuids.me]),
                        instance_uuid=uuids.me)
        self.assertEqual([node(1), node(2), node(4)],
                         self.run_filters(self.anti, self.hosts, spec_obj))
        # the build requests looked at once, then before each look at
        # placement while waiting
        self.assertEqual(3, source.reads.count(uuids.m1))
        self.assertEqual(3, len(source.build_calls))
        self.assertIsNone(membership.members_of(spec_obj).error)

    def test_never_waits_for_later_members_siblings_or_the_gone(self):
        source = self._use(EventuallyAllocated(uuids.later,
                                               self.hosts[2].uuid,
                                               after=None))
        self._me_building(order=5)
        # a later request's member and the next instance of this
        # multi-create: both build requests newer than ours
        source.builds[uuids.later] = 9
        source.builds[uuids.sibling] = 6
        # uuids.gone: no build request, no node, nothing allocated
        # (buried in cell0 after NoValidHost, or deleted)
        self.flags(server_group_wait_timeout=30,
                   group='vmware_scheduler')
        spec_obj = spec(group('anti-affinity', [
            uuids.later, uuids.sibling, uuids.gone, uuids.me]),
            instance_uuid=uuids.me, num_instances=2)
        self.assertEqual(4, len(self.run_filters(self.anti, self.hosts,
                                                 spec_obj)))
        self.assertEqual(1, len(source.build_calls))
        # the sibling is not even read: this request places it
        self.assertNotIn(uuids.sibling, source.reads)
        self.assertIsNone(membership.members_of(spec_obj).error)

    def test_a_moved_member_does_not_wait_for_new_ones(self):
        # no build request for the instance being moved
        source = self._use(EventuallyAllocated(uuids.new,
                                               self.hosts[2].uuid,
                                               after=None))
        source.nodes = {uuids.me: node(1)}
        source.builds[uuids.new] = 9
        spec_obj = spec(group('anti-affinity', [uuids.new, uuids.me]),
                        instance_uuid=uuids.me)
        self.assertEqual(4, len(self.run_filters(self.anti, self.hosts,
                                                 spec_obj)))
        self.assertEqual(1, len(source.build_calls))

    def test_times_out_and_fails_closed(self):
        source = self._use(EventuallyAllocated(uuids.m1,
                                               self.hosts[2].uuid,
                                               after=None))
        source.builds[uuids.m1] = 3
        self._me_building()
        self.flags(server_group_wait_timeout=0.05,
                   group='vmware_scheduler')
        spec_obj = spec(group('anti-affinity', [uuids.m1, uuids.me]),
                        instance_uuid=uuids.me)
        self.assertEqual([], self.run_filters(self.anti, self.hosts,
                                              spec_obj))
        error = membership.members_of(spec_obj).error
        self.assertIn(uuids.m1, error)
        self.assertIn('server_group_wait_timeout', error)
        self.assertIn('still being scheduled', error)
        # a soft policy counts what it knows
        spec_obj = spec(group('soft-anti-affinity', [uuids.m1, uuids.me]),
                        instance_uuid=uuids.me)
        weigher = soft_affinity_weigher.VMwareClusterSoftAntiAffinityWeigher()
        self.assertEqual(4, len(self.weight_handler.get_weighed_objects(
            [weigher], list(self.hosts), spec_obj)))

    def test_zero_timeout_does_not_wait(self):
        source = self._use(EventuallyAllocated(uuids.m1,
                                               self.hosts[2].uuid))
        source.builds[uuids.m1] = 3
        self._me_building()
        self.flags(server_group_wait_timeout=0, group='vmware_scheduler')
        spec_obj = spec(group('anti-affinity', [uuids.m1, uuids.me]),
                        instance_uuid=uuids.me)
        self.assertEqual([], self.run_filters(self.anti, self.hosts,
                                              spec_obj))
        self.assertEqual(1, len(source.build_calls))

    def test_waits_for_a_hinted_instance_being_scheduled(self):
        source = self._use(EventuallyAllocated(uuids.anchor,
                                               self.hosts[3].uuid))
        source.builds[uuids.anchor] = 3
        self._me_building(order=5)
        spec_obj = spec(hints={'same_host': [uuids.anchor]},
                        instance_uuid=uuids.me)
        self.assertEqual([node(4)], self.run_filters(
            same_host_filter.SameHostFilter(), self.hosts, spec_obj))

    def test_waits_for_a_hinted_instance_of_another_group(self):
        # the order of joining a group compares members of one group: a
        # hinted instance that joined another group later is still waited
        # for
        source = self._use(EventuallyAllocated(uuids.anchor,
                                               self.hosts[3].uuid))
        source.builds[uuids.anchor] = 9
        self._me_building(order=5)
        spec_obj = spec(group('anti-affinity', [uuids.me]),
                        hints={'same_host': [uuids.anchor]},
                        instance_uuid=uuids.me)
        self.assertEqual([node(4)], self.run_filters(
            same_host_filter.SameHostFilter(), self.hosts, spec_obj))

    def test_a_member_that_fails_stops_the_wait(self):
        # its build request goes away without an allocation (NoValidHost:
        # nova buries it in cell0)
        class Fails(FakeSource):
            def allocations_of(self, context, uuid):
                if self.reads.count(uuid) >= 1:
                    self.builds.pop(uuid, None)
                return super().allocations_of(context, uuid)

        source = self._use(Fails())
        source.builds[uuids.m1] = 3
        self._me_building()
        spec_obj = spec(group('anti-affinity', [uuids.m1, uuids.me]),
                        instance_uuid=uuids.me)
        self.assertEqual(4, len(self.run_filters(self.anti, self.hosts,
                                                 spec_obj)))
        self.assertIsNone(membership.members_of(spec_obj).error)


class TestSiblingsOfMultiCreate(GroupTestCase):
    """Where nova put the previous instance: read from placement."""

    def test_siblings_exact_while_another_request_consumes(self):
        for shared in (True, False):
            common = {}
            hosts = [host('svc1', node(n), common if shared else {})
                     for n in (1, 2, 3)] + [host('svc2', node(4))]
            instance_uuids = [uuids.i0, uuids.i1, uuids.i2]
            self.source.allocations = {}
            for order, u in enumerate(instance_uuids):
                self.source.builds[u] = order
            spec_obj = spec(group('anti-affinity', instance_uuids),
                            num_instances=3)
            anti = anti_affinity_filter.ServerGroupAntiAffinityFilter()
            landed = []
            for index, (instance_uuid, chosen) in enumerate(
                    zip(instance_uuids, (hosts[1], hosts[2], None))):
                spec_obj.instance_uuid = instance_uuid
                passed = self.run_filters(anti, hosts, spec_obj, index)
                landed.append(passed)
                if chosen is None:
                    break
                self.source.allocations[instance_uuid] = [chosen.uuid]
                manager.SchedulerManager._consume_selected_host(
                    chosen, spec_obj, instance_uuid=instance_uuid)
                # another request consumes c1 of the same service (nova's
                # HostStates are shared): nothing is inferred from it
                hosts[0].consume_from_request(spec(instance_uuid=uuids.x))
            self.assertEqual([node(1), node(4)], landed[2], shared)
            self.assertEqual([uuids.i0, uuids.i1], self.source.reads)
            self.source.reads = []

    def _joined_between_siblings(self, source):
        """nova-api added i0, then another request's member s, then i1; s
        is still being scheduled when this request places i0 on c1 (s on
        c3 once ``source`` allocates it): the hosts i1 may go to."""
        self.useFixture(data_fixture.DataFixture(members=source))
        self.flags(server_group_wait_interval=0.01,
                   group='vmware_scheduler')
        source.builds.update({uuids.i0: 1, uuids.s: 2, uuids.i1: 3})
        spec_obj = spec(group('anti-affinity', [uuids.i0, uuids.s,
                                                uuids.i1]),
                        instance_uuid=uuids.i0, num_instances=2)
        anti = anti_affinity_filter.ServerGroupAntiAffinityFilter()
        # s joined after i0: it waits for i0, i0 does not count it
        self.assertEqual(4, len(self.run_filters(anti, self.hosts,
                                                 spec_obj)))
        self.assertNotIn(uuids.s, source.reads)
        source.allocations[uuids.i0] = [self.hosts[0].uuid]
        source.builds.pop(uuids.i0)
        # i1 joined after s: it waits for s and counts it
        spec_obj.instance_uuid = uuids.i1
        passed = self.run_filters(anti, self.hosts, spec_obj, 1)
        self.assertIsNone(membership.members_of(spec_obj).error)
        return passed

    def test_a_member_that_joined_between_siblings_counts(self):
        self.hosts = [host('svc1', node(n)) for n in (1, 2, 3)] + [
            host('svc2', node(4))]
        source = EventuallyAllocated(uuids.s, self.hosts[2].uuid, after=1)
        self.assertEqual([node(2), node(4)],
                         self._joined_between_siblings(source))
        # one read, then one more after a wait
        self.assertEqual(2, source.reads.count(uuids.s))

    def test_a_member_claimed_between_the_reads_of_a_catch_up_counts(self):
        # s is claimed (and its build request deleted) just after
        # placement answered that it holds nothing for s: only build
        # requests read before placement tell that s is to be counted
        hosts = self.hosts = [host('svc1', node(n)) for n in (1, 2, 3)] + [
            host('svc2', node(4))]

        class ClaimedAfterItsRead(FakeSource):
            def allocations_of(self, context, uuid):
                found = super().allocations_of(context, uuid)
                if uuid == uuids.s and uuid in self.builds:
                    del self.builds[uuid]
                    self.allocations[uuid] = [hosts[2].uuid]
                return found

        self.assertEqual([node(2), node(4)],
                         self._joined_between_siblings(ClaimedAfterItsRead()))

    def test_odd_hosts_and_groups_do_not_raise(self):
        class Bare:
            pass

        spec_obj = spec(group('anti-affinity', [uuids.i0, uuids.i1]),
                        num_instances=2, instance_uuid=uuids.i0)
        members = membership.members_of(spec_obj)
        members.observe(spec_obj, [Bare(), host('svc1', None),
                                   host('svc1', 42)])
        self.source.allocations[uuids.i0] = [uuids.nowhere]
        spec_obj.instance_group.hosts.append('svc1')
        spec_obj.instance_uuid = uuids.i1
        members.observe(spec_obj, [Bare()])
        self.assertEqual({'resource provider %s' % uuids.nowhere: 1},
                         dict(members.counts(members.members, [Bare()])))
        # a group without members, hosts or rules set
        bare_group = objects.InstanceGroup(policy='anti-affinity')
        spec_obj = spec(bare_group, num_instances=2)
        members = membership.members_of(spec_obj)
        members.observe(spec_obj, [host('svc1', node(1))])
        self.assertEqual((), members.members)
        self.assertEqual({}, dict(members.counts(members.members)))
        # a RequestSpec with nothing set
        self.assertIsNone(membership.group_counts(
            objects.RequestSpec(), [], 'anti-affinity'))
        self.assertIsNone(membership.hint_units(
            objects.RequestSpec(), [], 'same_host'))


class TestOneLookupPerRequest(GroupTestCase):
    """Every filter, weigher and instance of a request share one lookup."""

    def setUp(self):
        super().setUp()
        self.flags(soft_affinity_weight_multiplier=0.0,
                   soft_anti_affinity_weight_multiplier=0.0,
                   group='filter_scheduler')
        self.filters = [affinity_filter.ServerGroupAffinityFilter(),
                        anti_affinity_filter.ServerGroupAntiAffinityFilter(),
                        same_host_filter.SameHostFilter(),
                        different_host_filter.DifferentHostFilter()]
        self.weighers = [soft_affinity_weigher.VMwareClusterSoftAffinityWeigher(),
                         soft_affinity_weigher.VMwareClusterSoftAntiAffinityWeigher()]
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


class TestNovaSource(test.NoDBTestCase):
    """The default source: one instance query per cell, non-deleted only;
    a cell that does not answer fails the lookup."""

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
        nodes = data.NovaSource().nodes_of(
            ctxt, {uuids.b, uuids.a})
        self.assertEqual({uuids.a: node(1), uuids.b: None}, nodes)
        self.assertEqual(
            [(ctxt, {'uuid': sorted([uuids.a, uuids.b]), 'deleted': False,
                     'soft_deleted': True}, [])], calls)

    def test_cells_gathered_and_failed_cell_skipped(self):
        def scatter_gather_skip_cell0(context, fn):
            # what nova gives back: fn's result per cell, or a sentinel
            return {uuids.cell1: {uuids.a: node(1)},
                    uuids.cell2: nova_context.did_not_respond_sentinel,
                    uuids.cell3: {uuids.c: node(3)}}

        self.useFixture(fixtures.MonkeyPatch(
            'nova.context.scatter_gather_skip_cell0',
            scatter_gather_skip_cell0))
        self.assertRaisesRegex(
            data.LookupFailed, uuids.cell2,
            data.NovaSource().nodes_of,
            nova_context.get_admin_context(), [uuids.a, uuids.c])

    def test_placement_error_fails_the_lookup(self):
        class Client:
            def get_allocs_for_consumer(self, context, consumer):
                if consumer == uuids.a:
                    return {'allocations': {uuids.rp: {}}}
                raise RuntimeError('placement is down')

        self.useFixture(fixtures.MonkeyPatch(
            'nova.scheduler.client.report.report_client_singleton',
            Client))
        ctxt = nova_context.get_admin_context()
        source = data.NovaSource()
        self.assertEqual([uuids.rp], source.allocations_of(ctxt, uuids.a))
        self.assertRaisesRegex(data.LookupFailed, 'placement is down',
                               source.allocations_of, ctxt, uuids.b)


class TestNovaSourceDatabase(test.TestCase):
    """The API database query of :meth:`data.NovaSource.building`, on nova's
    own schema (sqlite, as nova's tests set it up)."""

    def _build_request(self, ctxt, uuid):
        instance = objects.Instance(
            ctxt, uuid=uuid, project_id=ctxt.project_id,
            user_id=ctxt.user_id)
        objects.BuildRequest(
            ctxt, instance_uuid=uuid, project_id=ctxt.project_id,
            instance=instance,
            block_device_mappings=objects.BlockDeviceMappingList(),
            tags=objects.TagList()).create()

    def test_build_requests_in_the_order_they_joined_their_group(self):
        ctxt = nova_context.RequestContext('user', 'project')
        admin = ctxt.elevated()
        for name in ('c', 'a', 'b'):
            self._build_request(ctxt, getattr(uuids, name))
        group = objects.InstanceGroup(
            ctxt, name='g', policy='anti-affinity', project_id='project',
            user_id='user')
        group.create()
        # nova-api creates the build request, then adds the instance to its
        # group: another request's may come in between (b joins before a)
        for name in ('b', 'a'):
            objects.InstanceGroup.add_members(admin, group.uuid,
                                              [getattr(uuids, name)])
        # d is in no table at all; c in no group
        found = data.NovaSource().building(
            admin, [uuids.a, uuids.b, uuids.c, uuids.d])
        self.assertEqual({uuids.a, uuids.b, uuids.c}, set(found))
        self.assertIsNone(found[uuids.c])
        self.assertLess(found[uuids.b], found[uuids.a])
        self.assertEqual({}, data.NovaSource().building(admin, []))

    def test_nodes_of_counts_soft_deleted_not_deleted(self):
        # SOFT_DELETED instances keep their node and can be restored: they
        # count, as in nova's ServerGroupAntiAffinityFilter
        ctxt = nova_context.get_admin_context()
        cell = self.cell_mappings[test.CELL1_NAME]
        with nova_context.target_cell(ctxt, cell) as cctxt:
            for name, vm_state in (('live', 'active'),
                                   ('soft', 'soft-delete'),
                                   ('gone', 'deleted')):
                inst = objects.Instance(
                    cctxt, uuid=getattr(uuids, name), node=node(1),
                    host='svc1', compute_id=1, vm_state=vm_state,
                    project_id='p',
                    user_id='u')
                inst.create()
                if name == 'gone':
                    inst.destroy()
        found = data.NovaSource().nodes_of(
            ctxt, [uuids.live, uuids.soft, uuids.gone])
        self.assertEqual({uuids.live: node(1), uuids.soft: node(1)}, found)
