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

"""The shared cache of cluster inventories and its sources."""

import threading
import time
from unittest import mock

import nova.conf
from nova import context as nova_context
from nova import test

from nova_vmw_sched import conf as vmw_conf
from nova_vmw_sched import inventory
from tests.unit import capacity_fakes as fakes

CONF = nova.conf.CONF
U1 = '00000000-0000-4000-8000-000000000001'
U2 = '00000000-0000-4000-8000-000000000002'
U3 = '00000000-0000-4000-8000-000000000003'
U4 = '00000000-0000-4000-8000-000000000004'
U5 = '00000000-0000-4000-8000-000000000005'


class TestFromPlacement(test.NoDBTestCase):

    def test_good(self):
        value = inventory.from_placement(fakes.inventories(
            vcpus=64, vcpu_max=16, cpu_ratio=4.0, vcpu_reserved=2))
        self.assertEqual(inventory.Resource(64, 2, 16, 4.0), value.vcpu)
        self.assertEqual(248.0, value.vcpu.capacity)
        self.assertEqual(64.0, value.vcpu.largest_host)
        self.assertEqual(16.0, value.vcpu.fit_limit)
        self.assertEqual((16.0, 248.0, 64.0, 2),
                         (value.fit_vcpus, value.capacity_vcpus,
                          value.largest_vcpus, value.reserved_vcpus))

    def test_clusters_of_the_same_shape_share_one_value(self):
        first = inventory.from_placement(fakes.inventories(vcpus=96))
        second = inventory.from_placement(fakes.inventories(vcpus=96))
        self.assertIs(first, second)
        other = inventory.from_placement(fakes.inventories(vcpus=97))
        self.assertNotEqual(first, other)
        self.assertEqual(inventory.ClusterInventory(first.vcpu,
                                                    first.memory_mb), first)
        self.assertIn('total=96', repr(first))
        self.assertRaises(AttributeError, setattr, first, 'fit_vcpus', 1)

    def test_defaults_of_optional_fields(self):
        value = inventory.from_placement({'VCPU': {'total': 8},
                                          'MEMORY_MB': {'total': 1024}})
        self.assertEqual(inventory.Resource(8, 0, 8, 1.0), value.vcpu)

    def test_missing_or_malformed(self):
        good = fakes.inventories()
        for raw in ({}, None, [], 'x',
                    {'VCPU': good['VCPU']},
                    {'MEMORY_MB': good['MEMORY_MB']},
                    dict(good, VCPU={'max_unit': 4}),
                    dict(good, VCPU={'total': 'many'}),
                    dict(good, VCPU={'total': -1}),
                    dict(good, VCPU={'total': 1,
                                     'allocation_ratio': float('nan')}),
                    dict(good, VCPU=None)):
            self.assertIsNone(inventory.from_placement(raw), raw)


class TestInventoryCache(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        vmw_conf.register_opts(CONF)
        self.ctx = nova_context.get_admin_context()
        self.fix = self.useFixture(fakes.CacheFixture({
            U1: fakes.inventories(memory_max=1024),
            U2: fakes.inventories(memory_max=2048),
            U3: fakes.inventories(memory_max=4096)}))
        self.cache = self.fix.cache

    def _warnings(self, rp_uuid):
        return [line for line in self.stdlog.logger.output.splitlines()
                if 'WARNING' in line and rp_uuid in line]

    def test_cold_reads_each_provider_once(self):
        self.assertIsNone(self.cache.get(U1))
        self.assertEqual(3, self.cache.refresh(
            self.ctx, [U1, U2, U3, U1, None, 42]))
        self.assertEqual([U1, U2, U3], self.fix.source.uuids)
        self.assertEqual(1024, self.cache.get(U1).memory_mb.max_unit)
        self.assertEqual(4096, self.cache.get(U3).memory_mb.max_unit)

    def test_warm_makes_no_call(self):
        self.cache.refresh(self.ctx, [U1, U2])
        self.fix.advance(299)
        self.assertEqual(0, self.cache.refresh(self.ctx, [U1, U2]))
        self.assertEqual(2, self.fix.source.calls)

    def test_reads_again_after_ttl(self):
        self.cache.refresh(self.ctx, [U1, U2])
        self.fix.set(U1, fakes.inventories(memory_max=512))
        self.fix.advance(300)
        self.assertEqual(2, self.cache.refresh(self.ctx, [U1, U2]))
        self.assertEqual(512, self.cache.get(U1).memory_mb.max_unit)

    def test_ttl_from_config(self):
        self.flags(cluster_inventory_cache_ttl=10, group='vmware_scheduler')
        self.cache.refresh(self.ctx, [U1])
        self.fix.advance(9)
        self.assertEqual(0, self.cache.refresh(self.ctx, [U1]))
        self.fix.advance(1)
        self.assertEqual(1, self.cache.refresh(self.ctx, [U1]))

    def test_ttl_zero_reads_every_time(self):
        self.cache.refresh(self.ctx, [U1], ttl=0)
        self.assertEqual(1, self.cache.refresh(self.ctx, [U1], ttl=0))

    def test_missing_provider_has_no_value_and_warns_once_per_ttl(self):
        for _ in range(3):
            self.cache.refresh(self.ctx, [U4])
        self.assertIsNone(self.cache.get(U4))
        self.assertEqual(1, self.fix.source.calls)
        self.assertIn('placement has no valid VCPU and MEMORY_MB inventory',
                      self.cache.why_missing(U4))
        [warning] = self._warnings(U4)
        self.assertIn('the capacity filter refuses its cluster', warning)
        self.fix.advance(300)
        self.cache.refresh(self.ctx, [U4])
        self.assertEqual(2, self.fix.source.calls)
        self.assertEqual(2, len(self._warnings(U4)))

    def test_failure_keeps_last_value(self):
        self.cache.refresh(self.ctx, [U1])
        last = self.cache.get(U1)
        self.fix.set(U1, RuntimeError('placement is down'))
        self.fix.advance(300)
        self.cache.refresh(self.ctx, [U1])
        self.cache.refresh(self.ctx, [U1])
        self.assertIs(last, self.cache.get(U1))
        self.assertEqual(2, self.fix.source.calls)
        [warning] = self._warnings(U1)
        self.assertIn('reading its inventory from placement failed: '
                      'placement is down; keeping the inventory read before',
                      warning)
        # and the next good read replaces it
        self.fix.set(U1, fakes.inventories(memory_max=64))
        self.fix.advance(300)
        self.cache.refresh(self.ctx, [U1])
        self.assertEqual(64, self.cache.get(U1).memory_mb.max_unit)

    def test_inventory_gone_keeps_last_value(self):
        self.cache.refresh(self.ctx, [U1])
        self.fix.set(U1, {})
        self.fix.advance(300)
        self.cache.refresh(self.ctx, [U1])
        self.assertEqual(1024, self.cache.get(U1).memory_mb.max_unit)

    def test_failure_without_last_value(self):
        self.fix.set(U5, inventory.InventoryUnavailable('503'))
        self.cache.refresh(self.ctx, [U5])
        self.assertIsNone(self.cache.get(U5))
        self.assertEqual(
            'reading its inventory from placement failed: 503',
            self.cache.why_missing(U5))

    def test_why_missing(self):
        self.assertEqual('the host has no compute node uuid',
                         self.cache.why_missing(None))
        self.assertEqual('the host has no valid compute node uuid',
                         self.cache.why_missing([]))
        self.assertEqual('its inventory has not been read from placement',
                         self.cache.why_missing(U1))
        self.assertIsNone(self.cache.get([]))

    def test_gives_up_after_failures_in_a_row(self):
        uuids = ['00000000-0000-4000-8000-%012d' % n for n in range(10)]
        for u in uuids:
            self.fix.set(u, RuntimeError('connection refused'))
        self.assertEqual(3, self.cache.refresh(self.ctx, uuids))
        # the others are left to the next request, the failed ones to the
        # next period
        self.assertEqual(3, self.cache.refresh(self.ctx, uuids))
        self.assertEqual(uuids[:6], self.fix.source.uuids)

    def test_missing_inventory_is_no_failure_in_a_row(self):
        uuids = ['00000000-0000-4000-8000-%012d' % n for n in range(10)]
        self.assertEqual(10, self.cache.refresh(self.ctx, uuids))

    def test_concurrent_requests_read_once(self):
        entered = threading.Event()
        release = threading.Event()

        def slow(context, rp_uuid):
            entered.set()
            release.wait(10)
            return fakes.inventories()

        self.fix.static = slow
        self.fix.source.source = slow
        results = []
        first = threading.Thread(target=lambda: results.append(
            self.cache.refresh(self.ctx, [U1, U2])))
        first.start()
        self.assertTrue(entered.wait(10))
        second = threading.Thread(target=lambda: results.append(
            self.cache.refresh(self.ctx, [U2, U1])))
        second.start()
        time.sleep(0.2)
        # the second request waits for the first's reads, and makes none
        self.assertTrue(second.is_alive())
        self.assertEqual(1, self.fix.source.calls)
        release.set()
        first.join(10)
        second.join(10)
        self.assertEqual(2, self.fix.source.calls)
        self.assertEqual([2, 0], results)
        self.assertIsNotNone(self.cache.get(U1))
        self.assertIsNotNone(self.cache.get(U2))

    def test_for_hosts_one_pass(self):
        self.fix.set(U5, RuntimeError('down'))
        hosts = [fakes.host_state(fakes.node('domain-c1'), uuid=U1),
                 fakes.host_state('compute1', uuid=U2),
                 fakes.host_state(fakes.node('domain-c3'), uuid=U3),
                 fakes.host_state(fakes.node('domain-c4'), uuid=U4),
                 fakes.host_state(fakes.node('domain-c5'), uuid=U5),
                 fakes.host_state(fakes.node('domain-c6'))]
        hosts[-1].uuid = None
        got = self.cache.for_hosts(self.ctx, hosts)
        self.assertEqual(
            [self.cache.get(U1), inventory.NOT_A_CLUSTER,
             self.cache.get(U3), None, None, None], got)
        self.assertIsNotNone(got[0])
        # the KVM node is not read; the others once each
        self.assertEqual([U1, U3, U4, U5], self.fix.source.uuids)
        self.assertEqual(got, self.cache.for_hosts(self.ctx, hosts))
        self.assertEqual(4, self.fix.source.calls)
        self.assertEqual('NOT_A_CLUSTER', repr(inventory.NOT_A_CLUSTER))

    def test_for_hosts_reads_stale_after_ttl(self):
        hosts = [fakes.host_state(fakes.node('domain-c1'), uuid=U1)]
        self.cache.for_hosts(self.ctx, hosts)
        self.fix.set(U1, fakes.inventories(memory_max=8))
        self.fix.advance(299)
        self.assertEqual(1024, self.cache.for_hosts(
            self.ctx, hosts)[0].memory_mb.max_unit)
        self.fix.advance(1)
        self.assertEqual(8, self.cache.for_hosts(
            self.ctx, hosts)[0].memory_mb.max_unit)
        self.assertEqual(2, self.fix.source.calls)

    def test_prime_and_clear(self):
        self.cache.prime(U4, fakes.inventories(vcpu_max=8))
        self.assertEqual(8, self.cache.get(U4).vcpu.max_unit)
        self.assertEqual(0, self.cache.refresh(self.ctx, [U4]))
        self.assertRaises(ValueError, self.cache.prime, U4, {})
        self.assertEqual(1, len(self.cache))
        self.cache.clear()
        self.assertIsNone(self.cache.get(U4))
        self.assertEqual(1, self.cache.refresh(self.ctx, [U4]))


class TestSources(test.NoDBTestCase):

    def _client(self, status, body=None):
        client = mock.Mock()
        resp = client.get.return_value
        resp.status_code = status
        resp.text = 'boom'
        resp.json.return_value = body
        return client

    def test_placement_source_reads_inventories(self):
        ctx = nova_context.get_admin_context()
        client = self._client(200, {'inventories': fakes.inventories(),
                                    'resource_provider_generation': 3})
        self.assertEqual(fakes.inventories(),
                         inventory.PlacementSource(client)(ctx, U1))
        client.get.assert_called_once_with(
            '/resource_providers/%s/inventories' % U1,
            global_request_id=ctx.global_id)

    def test_placement_source_not_found_is_no_inventory(self):
        self.assertEqual({}, inventory.PlacementSource(
            self._client(404))(None, U1))

    def test_placement_source_error_raises(self):
        e = self.assertRaises(inventory.InventoryUnavailable,
                              inventory.PlacementSource(self._client(503)),
                              None, U1)
        self.assertIn('503', str(e))

    @mock.patch('nova.scheduler.client.report.report_client_singleton')
    def test_placement_source_uses_nova_report_client(self, singleton):
        singleton.return_value = self._client(200, {'inventories': {}})
        self.assertEqual({}, inventory.PlacementSource()(None, U1))
        singleton.assert_called_once_with()

    def test_default_source_is_placement(self):
        self.assertIsInstance(inventory.InventoryCache().source,
                              inventory.PlacementSource)

    def test_set_source_and_count(self):
        self.useFixture(fakes.CacheFixture())
        counting = inventory.CountingSource(inventory.StaticSource(
            {U1: fakes.inventories()}))
        old = inventory.set_source(counting)
        self.addCleanup(inventory.set_source, old)
        self.assertIs(counting, inventory.get_cache().source)
        inventory.get_cache().refresh(None, [U1, U2])
        self.assertEqual(2, counting.calls)
        counting.reset()
        self.assertEqual(0, counting.calls)

    def test_request_context(self):
        spec = fakes.request_spec()
        ctx = nova_context.get_admin_context()
        spec._context = ctx
        self.assertIs(ctx, inventory.request_context(spec))
        self.assertTrue(inventory.request_context(object()).is_admin)
