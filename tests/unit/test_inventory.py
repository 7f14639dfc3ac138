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

"""The shared cache of cluster inventories and its sources.

Threads are waited for on a condition with a deadline (:func:`_until`, or
an event the source sets), never by sleeping a guessed time.
"""

import os
import threading
import time
import uuid as uuid_lib
from unittest import mock

import nova.conf
from nova import context as nova_context
from nova import test

from nova_vmw_sched import conf as vmw_conf
from nova_vmw_sched import data
from nova_vmw_sched.filters import capacity_filter
from nova_vmw_sched import inventory
from nova_vmw_sched import keeper
from tests.unit import capacity_fakes as fakes

CONF = nova.conf.CONF
U1 = '00000000-0000-4000-8000-000000000001'
U2 = '00000000-0000-4000-8000-000000000002'
U3 = '00000000-0000-4000-8000-000000000003'
U4 = '00000000-0000-4000-8000-000000000004'
U5 = '00000000-0000-4000-8000-000000000005'


def _until(predicate, timeout=10.0):
    """Wait until ``predicate()`` is true; False if ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


class TestFromPlacement(test.NoDBTestCase):

    def test_good(self):
        value = inventory.from_placement(fakes.inventories(
            vcpus=64, vcpu_max=16, cpu_ratio=4.0, vcpu_reserved=2))
        self.assertEqual(inventory.Resource(64, 2, 16, 4.0), value.vcpu)
        self.assertEqual((16.0, 248.0, 64.0, 2),
                         (value.fit_vcpus, value.capacity_vcpus,
                          value.largest_vcpus, value.reserved_vcpus))

    def test_ratio_below_one_shrinks_the_fit(self):
        value = inventory.from_placement(fakes.inventories(
            memory_mb=8192, memory_max=4096, ram_ratio=0.5))
        self.assertEqual((2048.0, 4096.0, 2048.0),
                         (value.fit_memory_mb, value.capacity_memory_mb,
                          value.largest_memory_mb))

    def test_clusters_of_the_same_shape_share_one_value(self):
        first = inventory.from_placement(fakes.inventories(vcpus=96))
        second = inventory.from_placement(fakes.inventories(vcpus=96))
        self.assertIs(first, second)
        other = inventory.from_placement(fakes.inventories(vcpus=97))
        self.assertNotEqual(first, other)
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
    """The cache with an inline source: reads on the calling thread."""

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

    def _hosts(self, *uuids):
        return [fakes.host_state(fakes.node('domain-c%d' % n), uuid=u)
                for n, u in enumerate(uuids, 1)]

    def _many(self, count, first=100):
        uuids = ['00000000-0000-4000-8000-%012d' % n
                 for n in range(first, first + count)]
        for u in uuids:
            self.fix.set(u, fakes.inventories())
        return uuids

    def test_first_reads_each_provider_once(self):
        self.assertIsNone(self.cache.get(U1))
        self.assertEqual(3, self.cache.warm(
            self.ctx, [U1, U2, U3, U1, None, 42]))
        self.assertEqual([U1, U2, U3], self.fix.source.uuids)
        self.assertEqual(1024, self.cache.get(U1).memory_mb.max_unit)
        self.assertEqual(4096, self.cache.get(U3).memory_mb.max_unit)
        self.assertEqual(0, self.cache.warm(self.ctx, [U1, U2]))
        self.assertEqual(3, self.fix.source.calls)

    def test_requests_never_refresh(self):
        hosts = self._hosts(U1, U2)
        self.cache.for_hosts(self.ctx, hosts)
        self.fix.set(U1, fakes.inventories(memory_max=512))
        self.fix.advance(10 * 300)
        # long past the TTL: still the value read, and no call
        self.assertEqual(1024, self.cache.for_hosts(
            self.ctx, hosts)[0].memory_mb.max_unit)
        self.assertEqual(2, self.fix.source.calls)
        # the refresher reads both again; the next request sees it
        self.assertEqual(2, self.cache.run_due())
        self.assertEqual(512, self.cache.for_hosts(
            self.ctx, hosts)[0].memory_mb.max_unit)

    def test_refreshes_come_at_an_even_rate_each_entry_once_per_ttl(self):
        uuids = self._many(400)
        self.cache.warm(self.ctx, uuids)
        self.fix.source.uuids.clear()
        # read together, refreshed at clusters / TTL: a quarter of them
        # in each quarter of the TTL, never all at once
        for _ in range(4):
            self.fix.advance(300 / 4.0)
            self.assertEqual(100, self.cache.run_due())
        self.assertEqual(sorted(uuids), sorted(self.fix.source.uuids))
        # and again in the next TTL, in the same order
        first_round = list(self.fix.source.uuids)
        self.fix.source.uuids.clear()
        for _ in range(100):
            self.fix.advance(3)
            self.assertEqual(4, self.cache.run_due())
        self.assertEqual(first_round, self.fix.source.uuids)

    def test_a_clock_jump_reads_each_entry_once(self):
        uuids = self._many(50)
        self.cache.warm(self.ctx, uuids)
        self.fix.advance(10 * 300)
        self.assertEqual(50, self.cache.run_due())
        self.assertEqual(0, self.cache.run_due())

    def test_a_new_entry_is_refreshed_within_the_ttl(self):
        uuids = self._many(10)
        self.cache.warm(self.ctx, uuids)
        self.fix.advance(150)
        self.cache.run_due()   # half of the circle
        self.cache.warm(self.ctx, [U1])
        self.fix.source.uuids.clear()
        self.fix.advance(300)
        self.cache.run_due()
        self.assertIn(U1, self.fix.source.uuids)

    def test_ttl_from_config(self):
        self.flags(cluster_inventory_cache_ttl=10, group='vmware_scheduler')
        self.cache.warm(self.ctx, [U1])
        self.fix.advance(10)
        self.assertEqual(1, self.cache.run_due())
        self.fix.advance(8)
        self.assertEqual(0, self.cache.run_due())
        self.fix.advance(3)
        self.assertEqual(1, self.cache.run_due())

    def test_missing_provider_retried_with_back_off(self):
        self.flags(cluster_inventory_retry_interval=10,
                   group='vmware_scheduler')
        self.cache.warm(self.ctx, [U4])
        self.assertIsNone(self.cache.get(U4))
        self.assertIn('placement has no valid VCPU and MEMORY_MB inventory',
                      self.cache.why_missing(U4))
        [warning] = self._warnings(U4)
        self.assertIn('the capacity filter refuses its cluster', warning)
        # requests do not read it again, nor wait for it
        hosts = self._hosts(U4)
        self.assertEqual([None], self.cache.for_hosts(self.ctx, hosts))
        self.assertEqual(1, self.fix.source.calls)
        # retried after 10 s, then 20 s, then 40 s: one WARNING each
        for delay in (10, 20, 40):
            self.fix.advance(delay - 1)
            self.assertEqual(0, self.cache.run_due())
            self.fix.advance(1)
            self.assertEqual(1, self.cache.run_due())
        self.assertEqual(4, len(self._warnings(U4)))
        self.fix.set(U4, fakes.inventories(vcpu_max=4))
        self.fix.advance(80)
        self.cache.run_due()
        self.assertEqual(4, self.cache.for_hosts(
            self.ctx, hosts)[0].vcpu.max_unit)

    def test_back_off_is_capped_at_the_ttl(self):
        self.flags(cluster_inventory_cache_ttl=30,
                   cluster_inventory_retry_interval=20,
                   group='vmware_scheduler')
        self.cache.warm(self.ctx, [U4])
        self.fix.advance(20)
        self.assertEqual(1, self.cache.run_due())
        self.fix.advance(29)
        self.assertEqual(0, self.cache.run_due())
        self.fix.advance(1)  # 30, not 40
        self.assertEqual(1, self.cache.run_due())

    def test_failure_keeps_last_value(self):
        self.cache.warm(self.ctx, [U1])
        last = self.cache.get(U1)
        self.fix.set(U1, RuntimeError('placement is down'))
        self.fix.advance(300)
        self.cache.run_due()
        self.assertIs(last, self.cache.get(U1))
        self.assertEqual(2, self.fix.source.calls)
        [warning] = self._warnings(U1)
        self.assertIn('reading its inventory from placement failed: '
                      'placement is down; keeping the inventory read before',
                      warning)
        # and the next good read replaces it
        self.fix.set(U1, fakes.inventories(memory_max=64))
        self.fix.advance(300)
        self.cache.run_due()
        self.assertEqual(64, self.cache.get(U1).memory_mb.max_unit)

    def test_inventory_gone_keeps_last_value(self):
        self.cache.warm(self.ctx, [U1])
        self.fix.set(U1, {})
        self.fix.advance(300)
        self.assertEqual(1, self.cache.run_due())
        self.assertEqual(1024, self.cache.get(U1).memory_mb.max_unit)

    def test_failure_without_last_value(self):
        self.fix.set(U5, inventory.InventoryUnavailable('503'))
        self.cache.warm(self.ctx, [U5])
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

    def test_idle_entries_are_forgotten(self):
        hosts = self._hosts(U1, U2)
        self.cache.for_hosts(self.ctx, hosts)
        for _ in range(inventory.EVICT_AFTER + 1):
            # a request asks for U1 in every turn, none for U2
            self.cache.for_hosts(self.ctx, hosts[:1])
            self.fix.advance(300)
            self.cache.run_due()
        self.assertIsNotNone(self.cache.get(U1))
        self.assertIsNone(self.cache.get(U2))
        self.assertEqual('its inventory has not been read from placement',
                         self.cache.why_missing(U2))
        # asked again: a first read
        self.fix.source.uuids.clear()
        self.cache.for_hosts(self.ctx, hosts)
        self.assertEqual([U2], self.fix.source.uuids)
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

    def test_prime_and_clear(self):
        self.cache.prime(U4, fakes.inventories(vcpu_max=8))
        self.assertEqual(8, self.cache.get(U4).vcpu.max_unit)
        self.assertEqual(0, self.cache.warm(self.ctx, [U4]))
        self.assertRaises(ValueError, self.cache.prime, U4, {})
        self.assertEqual(8, self.cache.get(U4).vcpu.max_unit)
        self.cache.clear()
        self.assertIsNone(self.cache.get(U4))
        self.assertEqual(1, self.cache.warm(self.ctx, [U4]))


class TestUsage(test.NoDBTestCase):
    """Placement's usage combined with nova's figure."""

    def setUp(self):
        super().setUp()
        vmw_conf.register_opts(CONF)
        self.fix = self.useFixture(fakes.CacheFixture({
            U1: fakes.inventories()}))
        self.cache = self.fix.cache
        self.placement = {}
        self.cache.usage_source = lambda context: dict(self.placement)
        self.cache.warm(None, [U1])

    def test_without_a_usage_read_nova_counts(self):
        self.assertEqual((2, 4096), self.cache.usage(U1, (2, 4096)))
        self.assertEqual((2, 4096), self.cache.usage(U4, (2, 4096)))
        self.assertEqual((2, 4096), self.cache.usage([], (2, 4096)))

    def test_the_larger_figure_counts(self):
        self.placement[U1] = (4, 8192)
        self.assertTrue(self.cache.refresh_usage())
        self.assertEqual((4, 8192), self.cache.usage(U1, (0, 0)))
        self.cache.refresh_usage()
        self.assertEqual((6, 10240), self.cache.usage(U1, (6, 10240)))
        # a delete: nova counts less; placement's figure stays the floor
        self.assertEqual((4, 8192), self.cache.usage(U1, (3, 4096)))

    def test_after_a_takeover_what_nova_counts_since_adds_up(self):
        # four 2 GB instances name the old service; placement has them
        self.placement[U1] = (4, 8192)
        self.cache.refresh_usage()
        self.assertEqual((4, 8192), self.cache.usage(U1, (4, 8192)))
        # the new service's resource tracker leaves them out
        self.assertEqual((4, 8192), self.cache.usage(U1, (0, 0)))
        # the scheduler places two more: nova counts them, so do we
        self.assertEqual((5, 10240), self.cache.usage(U1, (1, 2048)))
        self.assertEqual((6, 12288), self.cache.usage(U1, (2, 4096)))
        # the next read of placement has them all
        self.placement[U1] = (6, 12288)
        self.cache.refresh_usage()
        self.assertEqual((6, 12288), self.cache.usage(U1, (2, 4096)))
        self.assertEqual((7, 14336), self.cache.usage(U1, (3, 6144)))

    def test_provider_not_in_the_answer_falls_back_to_nova(self):
        self.placement[U1] = (4, 8192)
        self.cache.refresh_usage()
        del self.placement[U1]
        self.cache.refresh_usage()
        self.assertEqual((1, 1), self.cache.usage(U1, (1, 1)))

    def test_failed_read_keeps_the_last_figures(self):
        self.placement[U1] = (4, 8192)
        self.cache.refresh_usage()

        def down(context):
            raise inventory.InventoryUnavailable('503')

        self.cache.usage_source = down
        self.assertFalse(self.cache.refresh_usage())
        self.assertEqual((4, 8192), self.cache.usage(U1, (0, 0)))
        self.assertIn('Reading the usage of clusters from placement failed',
                      self.stdlog.logger.output)

    def test_no_usage_source(self):
        self.cache.usage_source = None
        self.assertFalse(self.cache.refresh_usage())

    def test_prime_with_usage(self):
        self.cache.prime(U2, fakes.inventories(), used=(3, 3072))
        self.assertEqual((3, 3072), self.cache.usage(U2, (1, 1024)))

    def test_summaries(self):
        self.assertEqual(
            {U1: (3, 1024), U2: (0, 512)},
            inventory.usages_from_summaries({
                U1: {'resources': {'VCPU': {'used': 3, 'capacity': 8},
                                   'MEMORY_MB': {'used': 1024}}},
                U2: {'resources': {'MEMORY_MB': {'used': 512}}},
                U3: {'resources': {'VCPU': {'used': 1}}},
                U4: {'resources': {'MEMORY_MB': {'used': 'x'}}},
                U5: None}))
        self.assertEqual({}, inventory.usages_from_summaries(None))


class _Blocking:
    """A source read by the cache's threads: each read waits for
    ``release``; ``called`` is set at each call."""

    inline = False

    def __init__(self, answers):
        self.answers = answers
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.uuids = []

    def calls(self, rp_uuid=None):
        with self.lock:
            return sum(1 for u in self.uuids if rp_uuid in (None, u))

    def __call__(self, context, rp_uuid):
        with self.lock:
            self.uuids.append(rp_uuid)
        if not self.release.wait(10):
            raise RuntimeError('never released')
        return self.answers.get(rp_uuid, {})


class TestThreads(test.NoDBTestCase):
    """The refresher and the pool, on real threads and the real clock."""

    def setUp(self):
        super().setUp()
        vmw_conf.register_opts(CONF)
        self.source = _Blocking({U1: fakes.inventories(memory_max=1024),
                                 U2: fakes.inventories(memory_max=2048)})
        self.cache = inventory.InventoryCache(self.source)
        self.addCleanup(self.cache.stop)
        self.addCleanup(self.source.release.set)
        self.hosts = [fakes.host_state(fakes.node('domain-c1'), uuid=U1),
                      fakes.host_state(fakes.node('domain-c2'), uuid=U2)]

    def test_first_read_wait_is_bounded(self):
        start = time.monotonic()
        got = self.cache.for_hosts(None, self.hosts, wait=0.3)
        waited = time.monotonic() - start
        self.assertEqual([None, None], got)
        self.assertGreaterEqual(waited, 0.29)
        self.assertLess(waited, 3.0)
        self.assertIn('cluster_inventory_first_read_wait',
                      self.cache.why_missing(U1))
        # the reads go on; a later request finds them, with no new call
        self.source.release.set()
        self.assertTrue(_until(lambda: self.cache.get(U2) is not None))
        self.assertEqual(2048, self.cache.for_hosts(
            None, self.hosts, wait=0)[1].memory_mb.max_unit)
        self.assertEqual(sorted([U1, U2]), sorted(self.source.uuids))

    def test_first_read_answers_within_the_wait(self):
        self.source.release.set()
        got = self.cache.for_hosts(None, self.hosts, wait=5)
        self.assertEqual([1024, 2048], [g.memory_mb.max_unit for g in got])

    def test_a_request_asking_for_fewer_is_read_first(self):
        # one reader; a request of four unread clusters queues them, the
        # reader is busy with the first; a pinned request for the last one
        # has it read next, and it is read once
        self.flags(cluster_inventory_refresh_workers=1,
                   group='vmware_scheduler')
        self.source.answers.update({U3: fakes.inventories(),
                                    U4: fakes.inventories()})
        self.cache.warm(None, [U1, U2, U3, U4], wait=0)
        self.assertTrue(_until(lambda: self.source.calls() == 1))
        self.cache.warm(None, [U4], wait=0)
        self.source.release.set()
        self.assertTrue(_until(lambda: all(
            self.cache.get(u) is not None for u in (U1, U2, U3, U4))))
        self.assertEqual([U1, U4, U2, U3], self.source.uuids)

    def test_requests_meeting_unread_clusters_do_not_read_them_again(self):
        self.cache.for_hosts(None, self.hosts, wait=0)
        self.assertTrue(_until(lambda: self.source.calls() == 2))
        for _ in range(5):  # both reads are under way
            self.assertEqual([None, None],
                             self.cache.for_hosts(None, self.hosts, wait=0))
        self.source.release.set()
        self.assertTrue(_until(lambda: self.cache.get(U1) is not None and
                               self.cache.get(U2) is not None))
        self.assertEqual(sorted([U1, U2]), sorted(self.source.uuids))

    def test_concurrent_requests_all_get_the_reads(self):
        results = []
        threads = [threading.Thread(target=lambda: results.append(
            self.cache.for_hosts(None, self.hosts, wait=10)))
            for _ in range(4)]
        for thread in threads:
            thread.start()
        self.assertTrue(_until(lambda: self.source.calls() >= 2))
        self.source.release.set()
        for thread in threads:
            thread.join(10)
        self.assertEqual(4, len(results))
        for got in results:
            self.assertEqual([1024, 2048],
                             [g.memory_mb.max_unit for g in got])
        self.assertEqual(sorted([U1, U2]), sorted(self.source.uuids))

    def test_every_first_read_of_a_large_request_is_made(self):
        # the readers start on the first providers while the request is
        # still queueing the rest: none may be skipped
        uuids = [str(uuid_lib.uuid4()) for _ in range(2000)]
        self.source.answers.update({u: fakes.inventories() for u in uuids})
        self.source.release.set()
        self.assertEqual(2000, self.cache.warm(None, uuids, wait=60))
        self.assertEqual([], [u for u in uuids if self.cache.get(u) is None])
        # each read by its first read (the refresher may have re-read some
        # by now: the TTL's share of 2,000 entries per second)
        with self.source.lock:
            read = set(self.source.uuids)
        self.assertEqual(set(uuids), read)

    def test_pool_size_from_config(self):
        self.flags(cluster_inventory_refresh_workers=1,
                   group='vmware_scheduler')
        self.cache.warm(None, [U1, U2], wait=0)
        self.assertTrue(_until(lambda: self.source.calls() == 1))
        # one reader: the second read starts when the first ends; a
        # request waiting for it meanwhile runs out of its wait
        self.assertEqual([None, None],
                         self.cache.for_hosts(None, self.hosts, wait=0.2))
        self.assertEqual(1, self.source.calls())
        self.source.release.set()
        self.assertTrue(_until(lambda: self.cache.get(U2) is not None))

    def test_background_refresh(self):
        self.flags(cluster_inventory_cache_ttl=1, group='vmware_scheduler')
        self.source.release.set()
        self.cache.for_hosts(None, self.hosts, wait=5)
        self.source.answers[U1] = fakes.inventories(memory_max=16)
        # no request reads; the refresher does, within the TTL and a tick
        self.assertTrue(_until(
            lambda: self.cache.get(U1).memory_mb.max_unit == 16, 5))
        self.assertGreater(self.source.calls(U1), 1)

    def test_usage_read_in_the_background(self):
        self.flags(cluster_usage_refresh_interval=1,
                   group='vmware_scheduler')
        self.source.release.set()
        calls = []

        def usages(context):
            calls.append(1)
            return {U1: (2, 2048)}

        self.cache.usage_source = usages
        self.cache.for_hosts(None, self.hosts, wait=5)
        self.assertTrue(_until(lambda: len(calls) >= 2, 5))
        self.assertEqual((2, 2048), self.cache.usage(U1, (0, 0)))

    def test_stop_and_start_again(self):
        self.source.release.set()
        self.cache.for_hosts(None, self.hosts, wait=5)
        self.cache.stop()
        self.cache.clear()
        got = self.cache.for_hosts(None, self.hosts, wait=5)
        self.assertEqual([1024, 2048], [g.memory_mb.max_unit for g in got])

    def test_after_a_fork_first_reads_under_way_are_made_again(self):
        self.cache.warm(None, [U1], wait=0)
        self.assertTrue(_until(lambda: self.source.calls(U1) == 1))
        # in a forked worker the parent's reader is not there: its read
        # never ends, so the first request there reads the cluster again
        with mock.patch.object(inventory.os, 'getpid',
                               return_value=os.getpid() + 1):
            self.cache.warm(None, [U1], wait=0)
            self.assertTrue(_until(lambda: self.source.calls(U1) == 2))
            self.source.release.set()
            self.assertTrue(_until(lambda: self.cache.get(U1) is not None))


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

    def test_usage_source_subtracts_the_reserve_the_keeper_holds(self):
        client = self._client(200, {'provider_summaries': {
            U1: {'resources': {'VCPU': {'used': 10},
                               'MEMORY_MB': {'used': 8192}}},
            U2: {'resources': {'VCPU': {'used': 2},
                               'MEMORY_MB': {'used': 1024}}}}})
        known = keeper.Off()
        for rp_uuid, held in ((U1, (4, 6144)), (U2, (8, 0))):
            known.set_held(rp_uuid, held)
        got = inventory.PlacementUsageSource(client, held=known.held)(None)
        self.assertEqual({U1: (6, 2048), U2: (0, 1024)}, got)
        client.get.assert_called_once_with(
            inventory.PlacementUsageSource.QUERY, version='1.27',
            global_request_id=None)

    def test_usage_source_error_raises(self):
        for status in (404, 503):
            self.assertRaises(inventory.InventoryUnavailable,
                              inventory.PlacementUsageSource(
                                  self._client(status)), None)

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

    def test_data_holds_the_cache_the_plugins_read(self):
        mine = inventory.InventoryCache(inventory.StaticSource(
            {U1: fakes.inventories()}))
        with data.use(data.Data(inventory=mine, keeper=keeper.Off())):
            self.assertIs(mine, data.get().inventory)
            host = fakes.host_state(fakes.node('domain-c1'), uuid=U1)
            spec = fakes.request_spec()
            passed = capacity_filter.VMwareClusterCapacityFilter(
            ).filter_all([host], spec)
            self.assertEqual([host], list(passed))
            self.assertIsNotNone(mine.get(U1))
        self.assertIsNot(mine, data.get().inventory)

