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

"""VMwareClusterCapacityFilter through nova's filter handler."""

import logging

import fixtures
import nova.conf
from nova.scheduler import filters as nova_filters
from nova import test

from nova_vmw_sched import conf as vmw_conf
import nova_vmw_sched.filters
from nova_vmw_sched.filters import capacity_filter
from tests.unit import capacity_fakes as fakes

CONF = nova.conf.CONF

# Cluster A: four ESXi hosts of 16 vCPUs / 16 GB. Cluster B: the same
# totals from one host of 32 vCPUs / 32 GB and two of 16 / 16.
A = '00000000-0000-4000-8000-00000000000a'
B = '00000000-0000-4000-8000-00000000000b'
KVM = '00000000-0000-4000-8000-0000000000cc'
INVENTORIES = {
    A: fakes.inventories(vcpus=64, vcpu_max=16, memory_mb=65536,
                         memory_max=16384),
    B: fakes.inventories(vcpus=64, vcpu_max=32, memory_mb=65536,
                         memory_max=32768),
    KVM: fakes.inventories(vcpus=4, vcpu_max=4, memory_mb=1024,
                           memory_max=1024),
}


class CapacityFilterTestCase(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        vmw_conf.register_opts(CONF)
        self.useFixture(fakes.ConfigCachesFixture())
        self.fix = self.useFixture(fakes.CacheFixture(INVENTORIES))
        self.handler = nova_filters.HostFilterHandler()
        self.filt = capacity_filter.VMwareClusterCapacityFilter()
        self.a = fakes.host_state(fakes.node('domain-c1'), uuid=A)
        self.b = fakes.host_state(fakes.node('domain-c2'), uuid=B)

    def _passing(self, hosts, spec, index=0):
        return list(self.handler.get_filtered_objects(
            [self.filt], hosts, spec, index))

    def _debug(self):
        logger = self.useFixture(fixtures.FakeLogger(
            name=capacity_filter.__name__, level=logging.DEBUG,
            format='%(levelname)s %(message)s'))
        return logger

    # -- declarations ---------------------------------------------------------

    def test_declarations(self):
        self.assertFalse(self.filt.RUN_ON_REBUILD)
        self.assertFalse(self.filt.run_filter_once_per_request)
        self.assertIn(capacity_filter.VMwareClusterCapacityFilter,
                      nova_vmw_sched.filters.all_filters())

    # -- fit on one ESXi host -------------------------------------------------

    def test_fits_largest_host_passes(self):
        self.flags(cluster_failover_policy='none', group='vmware_scheduler')
        spec = fakes.request_spec(vcpus=16, memory_mb=16384)
        self.assertEqual([self.a, self.b], self._passing([self.a, self.b],
                                                         spec))

    def test_larger_than_any_host_smaller_than_cluster_fails(self):
        self.flags(cluster_failover_policy='none', group='vmware_scheduler')
        log = self._debug()
        spec = fakes.request_spec(vcpus=2, memory_mb=24576)
        self.assertEqual([self.b], self._passing([self.a, self.b], spec))
        self.assertIn('the instance needs 24576 MEMORY_MB, more than the '
                      'largest ESXi host of cluster domain-c1.%s offers '
                      '(16384)' % fakes.VC1, log.output)
        spec = fakes.request_spec(vcpus=24, memory_mb=1024)
        self.assertEqual([self.b], self._passing([self.a, self.b], spec))

    # -- failover reserve -----------------------------------------------------

    def test_host_failures_default_keeps_largest_host_free(self):
        # A: 64 GB - 16 GB = 48 GB; B: 64 GB - 32 GB = 32 GB.
        a = fakes.host_state(fakes.node('domain-c1'), uuid=A,
                             memory_mb_used=32768)
        b = fakes.host_state(fakes.node('domain-c2'), uuid=B,
                             memory_mb_used=32768)
        log = self._debug()
        spec = fakes.request_spec(vcpus=1, memory_mb=16384)
        self.assertEqual([a], self._passing([a, b], spec))
        self.assertIn('with the instance placed, cluster domain-c2.%s would '
                      'use 49152 MEMORY_MB, more than 32768, its capacity '
                      'less the failover reserve of 32768 (host_failures=1)'
                      % fakes.VC1, log.output)
        spec = fakes.request_spec(vcpus=1, memory_mb=16385)
        self.assertEqual([], self._passing([a, b], spec))

    def test_percentage_policy(self):
        self.flags(cluster_failover_policy='percentage',
                   cluster_failover_cpu_percentage=50,
                   cluster_failover_memory_percentage=10,
                   group='vmware_scheduler')
        # memory: 90 % of 64 GB = 58982.4 MB; CPU: 50 % of 64 = 32
        a = fakes.host_state(fakes.node('domain-c1'), uuid=A,
                             memory_mb_used=50000, vcpus_used=30)
        self.assertEqual([a], self._passing(
            [a], fakes.request_spec(vcpus=2, memory_mb=8982)))
        self.assertEqual([], self._passing(
            [a], fakes.request_spec(vcpus=2, memory_mb=8983)))
        self.assertEqual([], self._passing(
            [a], fakes.request_spec(vcpus=3, memory_mb=1)))

    def test_none_policy(self):
        self.flags(cluster_failover_policy='none', group='vmware_scheduler')
        a = fakes.host_state(fakes.node('domain-c1'), uuid=A,
                             memory_mb_used=49152)
        self.assertEqual([a], self._passing(
            [a], fakes.request_spec(vcpus=1, memory_mb=16384)))
        self.assertEqual([], self._passing(
            [a], fakes.request_spec(vcpus=1, memory_mb=16385)))

    def test_override_by_alias(self):
        self.flags(cluster_aliases={'big': fakes.node('domain-c2')},
                   cluster_failover_overrides={'big': 'none',
                                               'domain-c1': 'host_failures=2'},
                   group='vmware_scheduler')
        a = fakes.host_state(fakes.node('domain-c1'), uuid=A,
                             memory_mb_used=16384)
        b = fakes.host_state(fakes.node('domain-c2'), uuid=B,
                             memory_mb_used=32768)
        # A: 64 - 2 * 16 = 32 GB; B: all 64 GB (the default would leave 32)
        spec = fakes.request_spec(vcpus=1, memory_mb=16384)
        self.assertEqual([a, b], self._passing([a, b], spec))
        spec = fakes.request_spec(vcpus=1, memory_mb=16385)
        self.assertEqual([b], self._passing([a, b], spec))

    def test_malformed_override_falls_back_to_default(self):
        self.flags(cluster_failover_overrides={'domain-c1': 'lots'},
                   group='vmware_scheduler')
        a = fakes.host_state(fakes.node('domain-c1'), uuid=A,
                             memory_mb_used=49152)
        spec = fakes.request_spec(vcpus=1, memory_mb=1)
        self.assertEqual([], self._passing([a], spec))
        self.assertEqual([], self._passing([a], spec))
        self.assertEqual(1, self.stdlog.logger.output.count(
            "entry 'domain-c1:lots'"))

    # -- multi-create ---------------------------------------------------------

    def test_instances_placed_earlier_in_the_request_count(self):
        # A keeps 48 GB for instances: three of 16 GB, not four.
        spec = fakes.request_spec(vcpus=1, memory_mb=16384, num_instances=4)
        for index in range(3):
            self.assertEqual([self.a], self._passing([self.a], spec, index))
            # what nova's scheduler does with the host it picked
            self.a.consume_from_request(spec)
        self.assertEqual([], self._passing([self.a], spec, 3))
        # one placement read for the whole request
        self.assertEqual(1, self.fix.source.calls)

    # -- inventories ----------------------------------------------------------

    def test_one_read_per_cluster_cold_none_warm(self):
        hosts = [fakes.host_state(fakes.node('domain-c%d' % n), uuid=u)
                 for n, u in enumerate((A, B, A, B), start=1)]
        spec = fakes.request_spec(vcpus=1, memory_mb=1024)
        self.assertEqual(hosts, self._passing(hosts, spec))
        self.assertEqual([A, B], self.fix.source.uuids)
        for _ in range(3):
            self.assertEqual(hosts, self._passing(hosts, spec))
        self.assertEqual(2, self.fix.source.calls)

    def test_no_inventory_fails_with_reason(self):
        log = self._debug()
        c = fakes.host_state(fakes.node('domain-c3'))
        spec = fakes.request_spec(vcpus=1, memory_mb=1024)
        self.assertEqual([self.a], self._passing([self.a, c], spec))
        self.assertIn('no inventory of cluster domain-c3.%s is known '
                      '(placement has no valid VCPU and MEMORY_MB inventory '
                      'for it)' % fakes.VC1, log.output)
        self.assertEqual([self.a], self._passing([self.a, c], spec))
        self.assertEqual(1, self.stdlog.logger.output.count(
            'Resource provider %s' % c.uuid))

    def test_placement_failure_uses_last_value(self):
        spec = fakes.request_spec(vcpus=1, memory_mb=1024)
        self._passing([self.a], spec)
        self.fix.set(A, RuntimeError('placement is down'))
        self.fix.advance(301)
        # requests never read a cluster read before; the refresher does
        self.assertEqual([self.a], self._passing([self.a], spec))
        self.assertEqual(1, self.fix.source.calls)
        self.assertEqual(1, self.fix.cache.run_due())
        self.assertEqual(2, self.fix.source.calls)
        self.assertEqual([self.a], self._passing([self.a], spec))

    def test_odd_host_data_never_raises(self):
        no_uuid = fakes.host_state(fakes.node('domain-c4'))
        no_uuid.uuid = None
        odd = fakes.host_state(fakes.node('domain-c1'), uuid=A)
        odd.free_ram_mb = None
        unhashable = fakes.host_state(fakes.node('domain-c5'))
        unhashable.uuid = ['x']
        spec = fakes.request_spec(vcpus=1, memory_mb=1024)
        self.assertEqual([], self._passing([no_uuid, odd, unhashable], spec))
        self.assertEqual([A], self.fix.source.uuids)

    def test_not_a_vmware_cluster_passes_unread(self):
        kvm = fakes.host_state('compute1', uuid=KVM)
        spec = fakes.request_spec(vcpus=8, memory_mb=4096)
        self.assertEqual([kvm], self._passing([kvm], spec))
        self.assertEqual(0, self.fix.source.calls)

    def test_rebuild_not_filtered_nor_read(self):
        full = fakes.host_state(fakes.node('domain-c1'), uuid=A,
                                memory_mb_used=65536)
        spec = fakes.request_spec(vcpus=1, memory_mb=1024, rebuild=True)
        self.assertEqual([full], self._passing([full], spec))
        self.assertTrue(self.filt.host_passes(full, spec))
        self.assertEqual(0, self.fix.source.calls)

    def test_reasons(self):
        # one check per rule: a pass gives None, a failure its reason
        self.fix.cache.warm(None, [A, B])
        prepared = self.filt.prepare_hosts(
            fakes.request_spec(vcpus=2, memory_mb=24576), [self.a, self.b])
        self.assertIsNone(self.filt.check(self.b, prepared))
        self.assertEqual(
            'the instance needs 24576 MEMORY_MB, more than the largest ESXi '
            'host of cluster domain-c1.%s offers (16384)' % fakes.VC1,
            self.filt.check(self.a, prepared))
        full = fakes.host_state(fakes.node('domain-c2'), uuid=B,
                                memory_mb_used=32768)
        prepared = self.filt.prepare_hosts(
            fakes.request_spec(vcpus=1, memory_mb=16384), [self.a, full])
        self.assertIsNone(self.filt.check(self.a, prepared))
        self.assertEqual(
            'with the instance placed, cluster domain-c2.%s would use 49152 '
            'MEMORY_MB, more than 32768, its capacity less the failover '
            'reserve of 32768 (host_failures=1)' % fakes.VC1,
            self.filt.check(full, prepared))
        full.free_ram_mb = None
        self.assertEqual('its usage is not known',
                         self.filt.check(full, prepared))

    def test_check_makes_no_call(self):
        # prepare_hosts looks the inventories up; check() only reads them
        spec = fakes.request_spec(vcpus=1, memory_mb=1024)
        kvm = fakes.host_state('compute1', uuid=KVM)
        prepared = self.filt.prepare_hosts(spec, [self.a, kvm])
        calls = self.fix.source.calls
        self.assertIsNone(self.filt.check(self.a, prepared))
        self.assertIsNone(self.filt.check(kvm, prepared))
        # a cluster it was not given has no inventory known
        self.assertEqual('no inventory of cluster domain-c2.%s is known (its '
                         'inventory has not been read from placement)'
                         % fakes.VC1, self.filt.check(self.b, prepared))
        self.assertEqual(calls, self.fix.source.calls)

    def test_host_passes(self):
        spec = fakes.request_spec(vcpus=1, memory_mb=1024)
        self.assertTrue(self.filt.host_passes(self.a, spec))
        spec = fakes.request_spec(vcpus=1, memory_mb=65536)
        self.assertFalse(self.filt.host_passes(self.a, spec))
