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

"""ServerGroupAntiAffinityFilter by cluster, through nova's filter handler."""

from nova import objects
from nova.scheduler.filters import affinity_filter as nova_affinity
from nova.scheduler import manager
from oslo_utils.fixture import uuidsentinel as uuids

from nova_vmw_sched.filters import anti_affinity_filter
from tests.unit import test_membership as fakes

node = fakes.node
host = fakes.host
group = fakes.group
spec = fakes.spec


class AntiAffinityTestCase(fakes.FilterTestCase):

    FILTER = anti_affinity_filter.ServerGroupAntiAffinityFilter


class TestAntiAffinity(AntiAffinityTestCase):

    def test_reasons(self):
        self.source.nodes = {uuids.m1: node(1)}
        spec_obj = spec(group('anti-affinity', [uuids.m1, uuids.new],
                              hosts=['svc1']), instance_uuid=uuids.new)
        self.assertEqual(
            {node(1): 'anti-affinity: 1 group member(s) on its cluster, at '
                      'most 1 allowed',
             node(2): None, node(3): None}, self.reasons(spec_obj))

    def test_member_blocks_its_cluster_not_the_sibling(self):
        self.source.nodes = {uuids.m1: node(1)}
        spec_obj = spec(group('anti-affinity', [uuids.m1, uuids.new],
                              hosts=['svc1']), instance_uuid=uuids.new)
        self.assertEqual([node(2), node(3)], self.passing(spec_obj))
        self.assertFalse(self.filter.host_passes(self.hosts[0], spec_obj))
        self.assertTrue(self.filter.host_passes(self.hosts[1], spec_obj))

    def test_stock_filter_would_block_the_sibling(self):
        # What the package is for: nova's filter reads the service host's
        # instances, which every cluster of the service sees.
        shared = {uuids.m1: objects.Instance(uuid=uuids.m1)}
        hosts = [host('svc1', node(1), shared), host('svc1', node(2), shared),
                 host('svc2', node(3))]
        self.source.nodes = {uuids.m1: node(1)}
        spec_obj = spec(group('anti-affinity', [uuids.m1, uuids.new],
                              hosts=['svc1']), instance_uuid=uuids.new)
        self.assertEqual([node(3)], self.run_filters(
            nova_affinity.ServerGroupAntiAffinityFilter(), hosts, spec_obj))
        self.assertEqual([node(2), node(3)], self.passing(spec_obj, hosts))

    def test_no_member_placed_other_policy_or_no_group_pass_all(self):
        spec_obj = spec(group('anti-affinity', [uuids.new]),
                        instance_uuid=uuids.new)
        self.assertEqual(self.all, self.passing(spec_obj))
        self.source.nodes = {uuids.m1: node(1), uuids.m2: node(2)}
        self.source.calls.clear()
        for policy in ('affinity', 'soft-anti-affinity', 'soft-affinity'):
            self.assertEqual(self.all, self.passing(spec(group(
                policy, [uuids.m1, uuids.m2]))), policy)
        self.assertEqual(self.all, self.passing(spec()))
        self.assertEqual(self.all, self.passing(objects.RequestSpec()))
        self.assertEqual([], self.source.calls)

    def test_max_server_per_host_counts_per_cluster(self):
        spec_obj = spec(group('anti-affinity',
                              [uuids.m1, uuids.m2, uuids.m3],
                              rules={'max_server_per_host': '2'}))
        # one member on c1, one on its sibling c2: both still have room
        self.source.nodes = {uuids.m1: node(1), uuids.m2: node(2)}
        self.assertEqual(self.all, self.passing(spec_obj))
        # two on c1: c1 is full, the sibling c2 is not
        spec_obj = spec(group('anti-affinity',
                              [uuids.m1, uuids.m2, uuids.m3],
                              rules={'max_server_per_host': '2'}))
        self.source.nodes = {uuids.m1: node(1), uuids.m2: node(1),
                             uuids.m3: node(2)}
        self.assertEqual([node(2), node(3)], self.passing(spec_obj))

    def test_bad_or_absent_rule_means_one(self):
        self.source.nodes = {uuids.m1: node(1)}
        for rules in ({}, {'max_server_per_host': 'many'},
                      {'max_server_per_host': '0'},
                      {'max_server_per_host': '-3'},
                      {'max_server_per_host': ''}):
            spec_obj = spec(group('anti-affinity', [uuids.m1], rules=rules))
            self.assertEqual([node(2), node(3)], self.passing(spec_obj),
                             rules)
        spec_obj = spec(group('anti-affinity', [uuids.m1],
                              rules={'max_server_per_host': '2'}))
        self.assertEqual(self.all, self.passing(spec_obj))

    def test_moving_instance_does_not_count_against_itself(self):
        self.source.nodes = {uuids.moving: node(1), uuids.other: node(2)}
        spec_obj = spec(group('anti-affinity', [uuids.moving, uuids.other]),
                        instance_uuid=uuids.moving)
        self.assertEqual([node(1), node(3)], self.passing(spec_obj))
        # another member on the same cluster still does
        self.source.nodes[uuids.other] = node(1)
        spec_obj = spec(group('anti-affinity', [uuids.moving, uuids.other]),
                        instance_uuid=uuids.moving)
        self.assertEqual([node(2), node(3)], self.passing(spec_obj))

    def test_deleted_and_unscheduled_members_do_not_count(self):
        # m1 never got a node, m2 is deleted (the source does not return
        # it); m3 is real
        self.source.nodes = {uuids.m1: None}
        members = [uuids.m1, uuids.m2, uuids.new]
        self.assertEqual(self.all, self.passing(spec(group(
            'anti-affinity', members), instance_uuid=uuids.new)))
        self.source.nodes[uuids.m3] = node(3)
        self.assertEqual([node(1), node(2)], self.passing(spec(group(
            'anti-affinity', members + [uuids.m3]),
            instance_uuid=uuids.new)))

    def test_member_counts_on_its_cluster_under_another_service(self):
        # c1 was handed over from svc1 to svc9; the member's instance.node
        # is still the cluster's node name
        self.source.nodes = {uuids.m1: node(1)}
        hosts = [host('svc9', node(1)), host('svc1', node(2)),
                 host('svc2', node(3))]
        spec_obj = spec(group('anti-affinity', [uuids.m1],
                              hosts=['svc1']))
        self.assertEqual([node(2), node(3)], self.passing(spec_obj, hosts))

    def test_units_by_vcenter_and_non_vmware_nodes_by_node_name(self):
        # the same moref in another vCenter is another cluster; an ironic
        # service with many nodes, KVM hosts
        self.source.nodes = {uuids.m1: node(1), uuids.m2: 'bm-1',
                             uuids.m3: 'kvm1'}
        hosts = [host('svc1', node(1)), host('svc1', node(1, fakes.VC2)),
                 host('ironic', 'bm-1'), host('ironic', 'bm-2'),
                 host('kvm1', 'kvm1'), host('kvm2', 'kvm2')]
        self.assertEqual([node(1, fakes.VC2), 'bm-2', 'kvm2'], self.passing(
            spec(group('anti-affinity', [uuids.m1, uuids.m2, uuids.m3])),
            hosts))

    def test_rebuild_passes_all_other_requests_every_instance(self):
        self.assertFalse(self.filter.RUN_ON_REBUILD)
        self.assertFalse(self.filter.run_filter_once_per_request)
        self.assertTrue(self.filter.run_filter_for_index(1))
        self.source.nodes = {uuids.m1: node(1), uuids.m2: node(2)}
        members = [uuids.m1, uuids.m2]
        self.assertEqual([node(3)], self.passing(spec(group(
            'anti-affinity', members))))
        self.assertEqual(self.all, self.passing(spec(
            group('anti-affinity', members), hints=fakes.REBUILD)))


class TestAntiAffinityMultiCreate(AntiAffinityTestCase):
    """Siblings of one request, in both states of nova's instance view."""

    def _multi_create(self, shared, count=4, rules=None):
        common = {}
        hosts = [host('svc1', node(n), common if shared else {})
                 for n in (1, 2, 3)] + [host('svc2', node(4))]
        instance_uuids = [getattr(uuids, 'i%d' % i) for i in range(count)]
        # nova's API adds the new instances to the group before scheduling;
        # the database has no node for them yet
        self.source.nodes = dict.fromkeys(instance_uuids)
        self.source.allocations = {}
        spec_obj = spec(group('anti-affinity', instance_uuids, rules=rules,
                              hosts=[]), num_instances=count)
        return self.schedule(hosts, spec_obj, instance_uuids,
                             filters=[self.filter])

    def test_siblings_spread_over_clusters(self):
        for shared in (True, False):
            self.assertEqual([node(1), node(2), node(3), node(4)],
                             self._multi_create(shared=shared), shared)
            # a fifth finds no cluster
            self.assertEqual([node(1), node(2), node(3), node(4), None],
                             self._multi_create(shared=shared, count=5),
                             shared)

    def test_siblings_with_max_server_per_host(self):
        for shared in (True, False):
            self.assertEqual(
                [node(1), node(1), node(2), node(2), node(3)],
                self._multi_create(shared=shared, count=5,
                                   rules={'max_server_per_host': '2'}))

    def test_placed_sibling_rejected_for_the_next_instance(self):
        # the step by step view of one step: after i0 went to c2, i1 may
        # not go to c2 but may go to its sibling c1
        for shared in (True, False):
            common = {}
            hosts = [host('svc1', node(n), common if shared else {})
                     for n in (1, 2)]
            spec_obj = spec(group('anti-affinity', [uuids.i0, uuids.i1],
                                  hosts=[]),
                            num_instances=2, instance_uuid=uuids.i0)
            self.assertEqual([node(1), node(2)],
                             self.passing(spec_obj, hosts))
            self.source.allocations[uuids.i0] = [hosts[1].uuid]
            manager.SchedulerManager._consume_selected_host(
                hosts[1], spec_obj, instance_uuid=uuids.i0)
            spec_obj.instance_uuid = uuids.i1
            self.assertEqual([node(1)],
                             self.passing(spec_obj, hosts, index=1))


class TestAntiAffinityOddData(AntiAffinityTestCase):

    def test_odd_host_data(self):
        class Bare:
            pass

        self.source.nodes = {uuids.m1: node(1)}
        spec_obj = spec(group('anti-affinity', [uuids.m1]))
        odd = [host('svc1', None), host('svc1', 42), host('svc1', ''),
               host('svc1', 'domain-c1'), Bare()]
        # none of them is the member's cluster
        self.assertEqual(odd, self.filter.filter_all(odd, spec_obj))
        self.assertEqual([None, 42, '', 'domain-c1'],
                         self.passing(spec_obj, odd[:4]))

    def test_odd_group_data(self):
        self.source.nodes = {uuids.m1: node(1)}
        odd_groups = [
            objects.InstanceGroup(policy='anti-affinity', members=None),
            objects.InstanceGroup(policy='anti-affinity'),
            objects.InstanceGroup(policy=None, members=[uuids.m1]),
            objects.InstanceGroup(members=[uuids.m1]),
        ]
        for odd in odd_groups:
            self.assertEqual(self.all, self.passing(spec(odd)), odd)
        # rules that are not even a dict (not possible through the object
        # fields): the default of 1 applies
        spec_obj = spec(group('anti-affinity', [uuids.m1]))
        spec_obj.instance_group._obj__rules = None
        self.assertEqual([node(2), node(3)], self.passing(spec_obj))
