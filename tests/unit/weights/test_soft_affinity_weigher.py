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

"""The soft (anti-)affinity weighers by cluster, through nova's
HostWeightHandler."""

import logging

import fixtures
from nova import objects
from nova.scheduler import manager
from nova.scheduler import weights as nova_weights
from oslo_utils.fixture import uuidsentinel as uuids

from nova_vmw_sched.weights import soft_affinity_weigher
from tests.unit import test_membership as fakes

node = fakes.node
host = fakes.host
group = fakes.group
spec = fakes.spec

AFF_KEY = 'cluster_soft_affinity_weight_multiplier'
ANTI_KEY = 'cluster_soft_anti_affinity_weight_multiplier'


class SoftAffinityTestCase(fakes.GroupTestCase):

    def setUp(self):
        super().setUp()
        # the documented setup: nova's soft weighers loaded, adding nothing
        self.flags(soft_affinity_weight_multiplier=0.0,
                   soft_anti_affinity_weight_multiplier=0.0,
                   group='filter_scheduler')
        self.errors = fakes.Records(logging.ERROR)
        self.useFixture(fixtures.LogHandler(
            self.errors, name='nova_vmw_sched', nuke_handlers=False))
        self.affinity = soft_affinity_weigher.VMwareClusterSoftAffinityWeigher()
        self.anti = soft_affinity_weigher.VMwareClusterSoftAntiAffinityWeigher()
        # c1 and c2 under svc1, c3 under svc2; two members on c1, one on c2
        self.hosts = [host('svc1', node(1)), host('svc1', node(2)),
                      host('svc2', node(3))]
        self.source.nodes = {uuids.m1: node(1), uuids.m2: node(1),
                             uuids.m3: node(2)}
        self.members = [uuids.m1, uuids.m2, uuids.m3, uuids.new]

    def spec(self, policy, **kwargs):
        return spec(group(policy, self.members), instance_uuid=uuids.new,
                    **kwargs)

    def raw(self, weigher, spec_obj, hosts=None):
        """{node: raw weight}, as nova's handler logs them."""
        hosts = self.hosts if hosts is None else hosts
        weights = weigher.weigh_objects(
            [nova_weights.WeighedHost(h, 0.0) for h in hosts], spec_obj)
        return {h.nodename: w for h, w in zip(hosts, weights)}

    def weighed(self, weigher, spec_obj, hosts=None):
        """[(node, weight)] best first, as nova's handler gives them."""
        result = self.weight_handler.get_weighed_objects(
            [weigher], self.hosts if hosts is None else hosts, spec_obj)
        return [(w.obj.nodename, w.weight) for w in result]


class TestSoftAffinity(SoftAffinityTestCase):

    def test_more_members_weigh_more(self):
        spec_obj = self.spec('soft-affinity')
        self.assertEqual({node(1): 2, node(2): 1, node(3): 0},
                         self.raw(self.affinity, spec_obj))
        self.assertEqual([(node(1), 1.0), (node(2), 0.5), (node(3), 0.0)],
                         self.weighed(self.affinity, spec_obj))
        # the documented setup logs no ERROR
        self.assertEqual([], self.errors.records)
        # per cluster, not per service: nova's weigher would give c1 and c2
        # (both svc1) the same weight
        self.source.nodes = {uuids.m1: node(2)}
        spec_obj = spec(group('soft-affinity', [uuids.m1]))
        self.assertEqual({node(1): 0, node(2): 1, node(3): 0},
                         self.raw(self.affinity, spec_obj))

    def test_moving_instance_does_not_count_for_itself(self):
        spec_obj = spec(group('soft-affinity', self.members),
                        instance_uuid=uuids.m1)
        self.assertEqual({node(1): 1, node(2): 1, node(3): 0},
                         self.raw(self.affinity, spec_obj))

    def test_policy_mismatch_has_no_effect(self):
        for policy in ('soft-anti-affinity', 'affinity', 'anti-affinity',
                       None):
            spec_obj = self.spec(policy)
            self.assertEqual({node(1): 0, node(2): 0, node(3): 0},
                             self.raw(self.affinity, spec_obj), policy)
            self.assertEqual({0.0}, {w for _, w in self.weighed(
                self.affinity, spec_obj)})
        self.assertEqual({0.0}, {w for _, w in self.weighed(
            self.affinity, spec())})
        self.assertEqual([], self.source.calls)

    def test_multiplier_option(self):
        self.flags(**{AFF_KEY: 3.0, 'group': 'vmware_scheduler'})
        self.assertEqual([(node(1), 3.0), (node(2), 1.5), (node(3), 0.0)],
                         self.weighed(self.affinity,
                                      self.spec('soft-affinity')))
        self.flags(**{AFF_KEY: 0.0, 'group': 'vmware_scheduler'})
        self.assertEqual({0.0}, {w for _, w in self.weighed(
            self.affinity, self.spec('soft-affinity'))})

    def test_aggregate_metadata_overrides_the_option(self):
        # aggregates hold service hosts: both clusters of svc1
        agg = objects.Aggregate(id=1, name='agg', hosts=['svc1'],
                                metadata={AFF_KEY: '10'})
        self.hosts[0].aggregates = [agg]
        self.hosts[1].aggregates = [agg]
        self.assertEqual([(node(1), 10.0), (node(2), 5.0), (node(3), 0.0)],
                         self.weighed(self.affinity,
                                      self.spec('soft-affinity')))
        self.assertEqual(10.0, self.affinity.weight_multiplier(
            self.hosts[0]))
        self.assertEqual(1.0, self.affinity.weight_multiplier(
            self.hosts[2]))

    def test_multiplier_zero_everywhere_looks_nothing_up(self):
        # a member being scheduled elsewhere: a lookup would wait for it
        self.source.builds = {uuids.m3: 1, uuids.new: 2}
        self.source.nodes = {}
        self.flags(**{AFF_KEY: 0.0, 'group': 'vmware_scheduler'})
        zero = objects.Aggregate(id=1, name='zero', hosts=['svc1'],
                                 metadata={AFF_KEY: '0'})
        self.hosts[0].aggregates = [zero]
        self.assertEqual({0.0}, {w for _, w in self.weighed(
            self.affinity, self.spec('soft-affinity'))})
        self.assertEqual(([], [], []), (self.source.calls,
                                        self.source.build_calls,
                                        self.source.reads))
        # an aggregate that turns it on for its hosts: members looked up
        self.source.builds = {}
        self.source.nodes = {uuids.m1: node(1)}
        self.hosts[1].aggregates = [objects.Aggregate(
            id=2, name='on', hosts=['svc1'], metadata={AFF_KEY: '2'})]
        self.assertEqual([(node(1), 0.0), (node(2), 0.0), (node(3), 0.0)],
                         sorted(self.weighed(self.affinity,
                                             self.spec('soft-affinity'))))
        self.assertEqual({node(1): 1, node(2): 0, node(3): 0},
                         self.raw(self.affinity, self.spec('soft-affinity')))
        self.assertEqual(2, len(self.source.calls))

    def test_no_state_on_the_weigher(self):
        before = dict(vars(self.affinity))
        self.flags(**{AFF_KEY: 3.0, 'group': 'vmware_scheduler'})
        self.weighed(self.affinity, self.spec('soft-affinity'))
        self.assertEqual(before, vars(self.affinity))
        # the multiplier is read when asked, not remembered from a weighing
        self.flags(**{AFF_KEY: 5.0, 'group': 'vmware_scheduler'})
        self.assertEqual(5.0, self.affinity.weight_multiplier(
            self.hosts[0]))


class TestSoftAntiAffinity(SoftAffinityTestCase):

    def test_more_members_weigh_less(self):
        spec_obj = self.spec('soft-anti-affinity')
        self.assertEqual({node(1): -2, node(2): -1, node(3): 0},
                         self.raw(self.anti, spec_obj))
        self.assertEqual([(node(3), 1.0), (node(2), 0.5), (node(1), 0.0)],
                         self.weighed(self.anti, spec_obj))
        # policy mismatch: no effect
        for policy in ('soft-affinity', 'anti-affinity', None):
            self.assertEqual({node(1): 0, node(2): 0, node(3): 0},
                             self.raw(self.anti, self.spec(policy)), policy)

    def test_multiplier_option_and_aggregate(self):
        self.flags(**{ANTI_KEY: 2.0, 'group': 'vmware_scheduler'})
        self.assertEqual([(node(3), 2.0), (node(2), 1.0), (node(1), 0.0)],
                         self.weighed(self.anti,
                                      self.spec('soft-anti-affinity')))
        self.hosts[2].aggregates = [objects.Aggregate(
            id=1, name='agg', hosts=['svc2'], metadata={ANTI_KEY: '0'})]
        self.assertEqual({node(2): 1.0, node(3): 0.0, node(1): 0.0},
                         dict(self.weighed(self.anti,
                                           self.spec('soft-anti-affinity'))))

    def test_siblings_of_a_multi_create_spread(self):
        for shared in (True, False):
            common = {}
            hosts = [host('svc1', node(n), common if shared else {})
                     for n in (1, 2, 3)]
            instance_uuids = [uuids.i0, uuids.i1, uuids.i2, uuids.i3]
            spec_obj = spec(group('soft-anti-affinity', instance_uuids),
                            num_instances=4)
            # equal weights keep the order of the previous instance's
            # list, as nova passes it on: the 4th goes to c3
            self.assertEqual(
                [node(1), node(2), node(3), node(3)],
                self.schedule(hosts, spec_obj, instance_uuids,
                              weighers=[self.anti]), shared)

    def test_siblings_of_a_multi_create_pack_with_soft_affinity(self):
        for shared in (True, False):
            common = {}
            hosts = [host('svc1', node(n), common if shared else {})
                     for n in (1, 2, 3)]
            instance_uuids = [uuids.i0, uuids.i1, uuids.i2]
            spec_obj = spec(group('soft-affinity', instance_uuids),
                            num_instances=3)
            # without a member, c1 is first; then it weighs most however
            # the hosts are ordered
            chosen = self.schedule(hosts, spec_obj, instance_uuids[:1],
                                   weighers=[self.affinity])
            self.assertEqual([node(1)], chosen)
            for instance_uuid in instance_uuids[1:]:
                spec_obj.instance_uuid = instance_uuid
                weighed = self.weight_handler.get_weighed_objects(
                    [self.affinity], hosts[::-1], spec_obj)
                self.assertEqual(node(1), weighed[0].obj.nodename, shared)
                manager.SchedulerManager._consume_selected_host(
                    weighed[0].obj, spec_obj, instance_uuid=instance_uuid)


class TestStockWeigherCheck(fakes.GroupTestCase):
    """ERROR at start while nova's host-keyed soft weighers still count."""

    def setUp(self):
        super().setUp()
        self.errors = fakes.Records(logging.ERROR)
        self.useFixture(fixtures.LogHandler(
            self.errors, name='nova_vmw_sched', nuke_handlers=False))

    def _load(self):
        soft_affinity_weigher.VMwareClusterSoftAffinityWeigher()
        soft_affinity_weigher.VMwareClusterSoftAntiAffinityWeigher()
        return [r.getMessage() for r in self.errors.records]

    def test_error_when_stock_weighers_count(self):
        self.flags(weight_classes=['nova.scheduler.weights.all_weighers',
                                   'nova_vmw_sched.weights.all_weighers'],
                   soft_affinity_weight_multiplier=1.0,
                   soft_anti_affinity_weight_multiplier=2.0,
                   group='filter_scheduler')
        messages = self._load()
        self.assertEqual(2, len(messages))
        self.assertIn('ServerGroupSoftAffinityWeigher', messages[0])
        self.assertIn('soft_affinity_weight_multiplier = 0', messages[0])
        self.assertIn('ServerGroupSoftAntiAffinityWeigher', messages[1])
        self.assertIn('soft_anti_affinity_weight_multiplier = 0',
                      messages[1])

    def test_error_when_stock_weigher_named_by_path(self):
        self.flags(weight_classes=[
            'nova.scheduler.weights.affinity.'
            'ServerGroupSoftAntiAffinityWeigher',
            'nova_vmw_sched.weights.all_weighers'],
            soft_affinity_weight_multiplier=1.0,
            soft_anti_affinity_weight_multiplier=1.0,
            group='filter_scheduler')
        messages = self._load()
        self.assertEqual(1, len(messages))
        self.assertIn('ServerGroupSoftAntiAffinityWeigher', messages[0])

    def test_no_error_with_stock_multipliers_zero(self):
        self.flags(weight_classes=['nova.scheduler.weights.all_weighers',
                                   'nova_vmw_sched.weights.all_weighers'],
                   soft_affinity_weight_multiplier=0.0,
                   soft_anti_affinity_weight_multiplier=0.0,
                   group='filter_scheduler')
        self.assertEqual([], self._load())

    def test_no_error_when_stock_weighers_not_loaded(self):
        self.flags(weight_classes=['nova_vmw_sched.weights.all_weighers'],
                   soft_affinity_weight_multiplier=1.0,
                   soft_anti_affinity_weight_multiplier=1.0,
                   group='filter_scheduler')
        self.assertEqual([], self._load())


class TestOddData(SoftAffinityTestCase):

    def test_odd_hosts(self):
        class Bare:
            pass

        spec_obj = self.spec('soft-affinity')
        odd = [host('svc1', None), host('svc1', 42), host('svc1', ''),
               Bare(), self.hosts[0]]
        weights = self.affinity.weigh_objects(
            [nova_weights.WeighedHost(h, 0.0) for h in odd], spec_obj)
        self.assertEqual([0, 0, 0, 0, 2], weights)
        self.assertEqual([(node(1), 1.0), (None, 0.0), (42, 0.0)],
                         self.weighed(self.affinity, spec_obj,
                                      [host('svc1', None), host('svc1', 42),
                                       self.hosts[0]]))

    def test_odd_groups(self):
        for odd in (objects.InstanceGroup(policy='soft-affinity',
                                          members=None),
                    objects.InstanceGroup(policy='soft-affinity'),
                    objects.InstanceGroup(members=self.members)):
            self.assertEqual({node(1): 0, node(2): 0, node(3): 0},
                             self.raw(self.affinity, spec(odd)), odd)
        self.assertEqual({node(1): 0, node(2): 0, node(3): 0},
                         self.raw(self.affinity, objects.RequestSpec()))
