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

"""VMwareClusterHeadroomWeigher through nova's weight handler."""

import nova.conf
from nova import objects
from nova.scheduler import weights
from nova import test

from nova_vmw_sched import conf as vmw_conf
import nova_vmw_sched.weights
from nova_vmw_sched.weights import headroom_weigher
from tests.unit import capacity_fakes as fakes

CONF = nova.conf.CONF

# Each cluster: four ESXi hosts of 16 vCPUs / 16 GB, 48 GB for instances
# with the default reserve of one host.
A = '00000000-0000-4000-8000-00000000000a'
B = '00000000-0000-4000-8000-00000000000b'
C = '00000000-0000-4000-8000-00000000000c'
D = '00000000-0000-4000-8000-00000000000d'
INVENTORIES = {u: fakes.inventories() for u in (A, B, C)}


class HeadroomWeigherTestCase(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        vmw_conf.register_opts(CONF)
        self.useFixture(fakes.ConfigCachesFixture())
        self.fix = self.useFixture(fakes.CacheFixture(INVENTORIES))
        self.handler = weights.HostWeightHandler()
        self.weigher = headroom_weigher.VMwareClusterHeadroomWeigher()
        # headroom for 4 GB instances: 12, 8, 2
        self.hosts = [
            fakes.host_state(fakes.node('domain-c1'), uuid=A),
            fakes.host_state(fakes.node('domain-c2'), uuid=B,
                             memory_mb_used=16384),
            fakes.host_state(fakes.node('domain-c3'), uuid=C,
                             memory_mb_used=40960),
        ]
        self.spec = fakes.request_spec(vcpus=1, memory_mb=4096)

    def _weighed(self, hosts=None, spec=None):
        return self.handler.get_weighed_objects(
            [self.weigher], self.hosts if hosts is None else hosts,
            spec or self.spec)

    def _order(self, hosts=None, spec=None):
        return [(w.obj.nodename.split('.')[0], w.weight)
                for w in self._weighed(hosts, spec)]

    def test_declarations(self):
        self.assertIn(headroom_weigher.VMwareClusterHeadroomWeigher,
                      nova_vmw_sched.weights.all_weighers())
        self.assertEqual(1.0, CONF.vmware_scheduler
                         .cluster_headroom_weight_multiplier)

    def test_raw_metric_is_instances_that_fit(self):
        self.fix.cache.warm(None, [A, B, C])
        self.assertEqual([12.0, 8.0, 2.0], [
            self.weigher._weigh_object(h, self.spec) for h in self.hosts])
        spec = fakes.request_spec(vcpus=1, memory_mb=16385)
        self.assertEqual(0.0, self.weigher._weigh_object(self.hosts[0], spec))

    def test_spreads_by_default(self):
        self.assertEqual([('domain-c1', 1.0), ('domain-c2', 8 / 12),
                          ('domain-c3', 2 / 12)], self._order())
        self.assertEqual(3, self.fix.source.calls)

    def test_negative_multiplier_packs(self):
        self.flags(cluster_headroom_weight_multiplier=-2.0,
                   group='vmware_scheduler')
        self.assertEqual([('domain-c3', -2 * 2 / 12),
                          ('domain-c2', -2 * 8 / 12),
                          ('domain-c1', -2.0)], self._order())

    def test_zero_multiplier_is_off_and_reads_nothing(self):
        self.flags(cluster_headroom_weight_multiplier=0.0,
                   group='vmware_scheduler')
        self.assertEqual([0.0] * 3, [w.weight for w in self._weighed()])
        self.assertEqual(0, self.fix.source.calls)

    def test_aggregate_overrides_multiplier(self):
        self.flags(cluster_headroom_weight_multiplier=0.0,
                   group='vmware_scheduler')
        agg = objects.Aggregate(
            id=1, name='pack', hosts=['svc1'],
            metadata={'cluster_headroom_weight_multiplier': '-1.0'})
        for h in self.hosts:
            h.aggregates = [agg]
        self.assertEqual('domain-c3', self._order()[0][0])

    def test_reserve_policy_counts(self):
        self.flags(cluster_failover_overrides={'domain-c3': 'none'},
                   group='vmware_scheduler')
        # C now has 64 GB - 40 GB = 24 GB: 6 more
        self.assertEqual([('domain-c1', 1.0), ('domain-c2', 8 / 12),
                          ('domain-c3', 6 / 12)], self._order())

    def test_multi_create_counts_earlier_instances(self):
        for _ in range(5):
            self.hosts[0].consume_from_request(self.spec)
        # A: 12 - 5 = 7, below B's 8
        self.assertEqual(['domain-c2', 'domain-c1', 'domain-c3'],
                         [n for n, _w in self._order()])

    def test_unknown_and_full_weigh_last_both_ways(self):
        unknown = fakes.host_state(fakes.node('domain-c4'), uuid=D)
        kvm = fakes.host_state('compute1')
        full = fakes.host_state(fakes.node('domain-c5'), uuid=C,
                                memory_mb_used=49152)
        hosts = self.hosts + [unknown, kvm, full]
        order = [n for n, _w in self._order(hosts)]
        self.assertEqual(['domain-c1', 'domain-c2', 'domain-c3'], order[:3])
        self.flags(cluster_headroom_weight_multiplier=-1.0,
                   group='vmware_scheduler')
        weighed = self._weighed(hosts)
        self.assertEqual(['domain-c3', 'domain-c2'],
                         [w.obj.nodename.split('.')[0] for w in weighed[:2]])
        self.assertEqual({'domain-c1', 'domain-c4', 'compute1', 'domain-c5'},
                         {w.obj.nodename.split('.')[0] for w in weighed[2:]})
        self.assertEqual({-1.0}, {w.weight for w in weighed[2:]})

    def test_odd_host_data_never_raises(self):
        odd = fakes.host_state(fakes.node('domain-c4'), uuid=A)
        odd.vcpus_used = None
        no_uuid = fakes.host_state(fakes.node('domain-c6'))
        no_uuid.uuid = None
        order = self._order(self.hosts + [odd, no_uuid])
        self.assertEqual(0.0, dict(order)['domain-c4'])
        self.assertEqual(0.0, dict(order)['domain-c6'])
