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

"""The HA reserve duty of the placement keeper (nova_vmw_sched.reserve),
against a stand-in of placement that keeps allocations and generations and
checks capacity and max_unit as placement does."""

import copy
import random
import threading
import time
import uuid

import testtools

import nova.conf
from nova import context as nova_context

from nova_vmw_sched import capacity
from nova_vmw_sched import conf as vmw_conf
from nova_vmw_sched import data
from nova_vmw_sched import keeper
from nova_vmw_sched import reserve
from tests import data_fixture

CONF = nova.conf.CONF
VC = '6f1c2a6e-2f6b-4c39-9d55-3b1f4c1e7a01'


def _inventories(hosts=3, mb=4352, vcpus=16, ratio=4.0):
    return {
        'VCPU': {'total': hosts * vcpus, 'reserved': 0, 'min_unit': 1,
                 'max_unit': vcpus, 'step_size': 1,
                 'allocation_ratio': ratio},
        'MEMORY_MB': {'total': hosts * mb, 'reserved': 0, 'min_unit': 1,
                      'max_unit': mb, 'step_size': 1,
                      'allocation_ratio': 1.0},
    }


class _Response:
    def __init__(self, status_code, body=None):
        self.status_code = status_code
        self._body = body
        self.text = str(body)

    def json(self):
        return copy.deepcopy(self._body)


class FakePlacement:
    """Providers, inventories and allocations, with generations; POST
    /allocations checks capacity and max_unit atomically."""

    def __init__(self):
        self.providers = {}
        self.allocations = {}   # consumer -> {rp: resources}
        self.consumer_gen = {}
        self.writes = 0
        #: answer the next N POSTs with 409 (another writer first)
        self.conflicts = 0

    def add(self, name, inventories):
        rp = str(uuid.uuid4())
        self.providers[rp] = {'name': name, 'generation': 1,
                              'inventories': inventories}
        return rp

    def used(self, rp, rc, allocations=None):
        return sum(res.get(rc, 0)
                   for by_rp in (allocations or self.allocations).values()
                   for p, res in by_rp.items() if p == rp)

    def get(self, url, version=None, global_request_id=None):
        parts = url.strip('/').split('/')
        if parts == ['resource_providers']:
            return _Response(200, {'resource_providers': [
                {'uuid': rp, 'name': p['name'], 'generation': p['generation'],
                 'parent_provider_uuid': None}
                for rp, p in self.providers.items()]})
        if parts[0] == 'resource_providers' and parts[2] == 'inventories':
            p = self.providers[parts[1]]
            return _Response(200, {'inventories': p['inventories'],
                                   'resource_provider_generation':
                                   p['generation']})
        if parts[0] == 'resource_providers' and parts[2] == 'allocations':
            rp = parts[1]
            return _Response(200, {
                'allocations': {c: {'resources': by_rp[rp]}
                                for c, by_rp in self.allocations.items()
                                if rp in by_rp},
                'resource_provider_generation':
                    self.providers[rp]['generation']})
        if parts[0].startswith('usages'):
            project = parts[0].partition('project_id=')[2]
            return _Response(200, {'usages': {
                rc: sum(res.get(rc, 0)
                        for c, by_rp in self.allocations.items()
                        if project == reserve.PROJECT and
                        any(reserve._index_of(
                            c, uuid.UUID(reserve.consumer_uuid(rp, 0))
                            .bytes[:12]) is not None for rp in by_rp)
                        for res in by_rp.values())
                for rc in ('VCPU', 'MEMORY_MB')}})
        if parts[0] == 'allocations':
            return _Response(200, {
                'allocations': {}, 'consumer_generation':
                    self.consumer_gen.get(parts[1])})
        return _Response(404)

    def post(self, url, data, version=None, global_request_id=None):
        assert url == '/allocations'
        if self.conflicts:
            self.conflicts -= 1
            return _Response(409, 'concurrent update')
        new = copy.deepcopy(self.allocations)
        for consumer, body in data.items():
            if body['consumer_generation'] != self.consumer_gen.get(consumer):
                return _Response(409, 'consumer generation')
            allocs = {rp: a['resources']
                      for rp, a in body['allocations'].items()}
            for rp, res in allocs.items():
                inv = self.providers[rp]['inventories']
                for rc, amount in res.items():
                    if amount > inv[rc]['max_unit']:
                        return _Response(400, 'max_unit')
            if allocs:
                new[consumer] = allocs
            else:
                new.pop(consumer, None)
        for rp, p in self.providers.items():
            for rc, inv in p['inventories'].items():
                cap = int((inv['total'] - inv['reserved']) *
                          inv['allocation_ratio'])
                if self.used(rp, rc, new) > cap > 0 and \
                        self.used(rp, rc, new) > self.used(rp, rc):
                    return _Response(409, 'capacity exceeded')
        touched = {rp for by_rp in list(new.values()) +
                   list(self.allocations.values()) for rp in by_rp}
        self.allocations = new
        for consumer in data:
            self.consumer_gen[consumer] = (
                self.consumer_gen.get(consumer) or 0) + 1
        for rp in touched:
            self.providers[rp]['generation'] += 1
        self.writes += 1
        return _Response(204)

    def claim(self, rp, memory_mb):
        """An instance's claim, as placement checks it."""
        inv = self.providers[rp]['inventories']['MEMORY_MB']
        if self.used(rp, 'MEMORY_MB') + memory_mb > inv['total']:
            return False
        self.allocations[str(uuid.uuid4())] = {
            rp: {'MEMORY_MB': memory_mb}}
        self.providers[rp]['generation'] += 1
        return True


class TestChunks(testtools.TestCase):

    def test_split_by_max_unit(self):
        record = {'total': 48, 'max_unit': 16}
        self.assertEqual([16, 16, 16, 16], reserve.chunks(64, record))
        self.assertEqual([16, 4], reserve.chunks(20, record))

    def test_step_size_and_min_unit(self):
        record = {'total': 100, 'max_unit': 30, 'step_size': 4,
                  'min_unit': 8}
        # max_unit rounded down to 28, the total to 40, the last 12
        self.assertEqual([28, 12], reserve.chunks(42, record))
        # a last piece below min_unit is left out
        self.assertEqual([28], reserve.chunks(33, record))

    def test_nothing(self):
        self.assertEqual([], reserve.chunks(0, {'total': 10}))
        self.assertEqual([], reserve.chunks(-5, {'total': 10}))


class TestPlan(testtools.TestCase):

    policy = capacity.ReservePolicy(capacity.HOST_FAILURES, host_failures=1)

    def test_full_reserve(self):
        rp = str(uuid.uuid4())
        found = reserve.plan(rp, _inventories(), {}, self.policy)
        self.assertEqual({}, found.held)
        self.assertEqual(4352, sum(
            a.get('MEMORY_MB', 0) for a in found.wanted.values()))
        # 16 vCPUs x ratio 4, in allocations of at most max_unit (16)
        self.assertEqual(4, len(found.wanted))
        self.assertFalse(found.short)

    def test_partial_when_instances_use_more(self):
        rp = str(uuid.uuid4())
        allocations = {str(uuid.uuid4()): {'resources': {'MEMORY_MB': 10000,
                                                         'VCPU': 4}}}
        found = reserve.plan(rp, _inventories(), allocations, self.policy)
        self.assertEqual(13056 - 10000, sum(
            a.get('MEMORY_MB', 0) for a in found.wanted.values()))
        self.assertTrue(found.short)

    def test_held_recognised(self):
        rp = str(uuid.uuid4())
        other = str(uuid.uuid4())
        allocations = {
            reserve.consumer_uuid(rp, 0): {'resources': {'MEMORY_MB': 4352,
                                                         'VCPU': 16}},
            reserve.consumer_uuid(other, 0): {'resources': {'MEMORY_MB': 1}},
            str(uuid.uuid4()): {'resources': {'MEMORY_MB': 2048}}}
        found = reserve.plan(rp, _inventories(), allocations, None)
        self.assertEqual({0: {'MEMORY_MB': 4352, 'VCPU': 16}}, found.held)
        self.assertEqual({}, found.wanted)

    def test_consumer_uuids(self):
        rp = str(uuid.uuid4())
        self.assertEqual(reserve.consumer_uuid(rp, 3),
                         reserve.consumer_uuid(rp, 3))
        self.assertNotEqual(reserve.consumer_uuid(rp, 3),
                            reserve.consumer_uuid(rp, 4))
        uuid.UUID(reserve.consumer_uuid(rp, 7))  # well formed

    def test_bad_inventory_wants_nothing(self):
        found = reserve.plan(str(uuid.uuid4()), {'VCPU': {}}, {},
                             self.policy)
        self.assertEqual({}, found.wanted)


class TestSync(testtools.TestCase):

    def setUp(self):
        super().setUp()
        vmw_conf.register_opts(CONF)
        self.useFixture(data_fixture.DataFixture(keeper=keeper.Off()))
        CONF.set_override('enabled_filters',
                          ['VMwareClusterCapacityFilter'],
                          group='filter_scheduler')
        self.addCleanup(CONF.clear_override, 'enabled_filters',
                        group='filter_scheduler')
        self.placement = FakePlacement()
        self.rp = self.placement.add('domain-c1.' + VC, _inventories())
        self.placement.add('kvm-node-1', _inventories())
        self.context = nova_context.get_admin_context()

    def sync(self, dry_run=False):
        return reserve.sync(self.context, self.placement, dry_run=dry_run,
                            known=data.get().keeper)

    def test_writes_once_then_nothing(self):
        lines = self.sync()
        self.assertEqual(1, len(lines))
        self.assertIn('domain-c1.' + VC, lines[0])
        self.assertEqual(1, self.placement.writes)
        self.assertEqual(4352, self.placement.used(self.rp, 'MEMORY_MB'))
        self.assertEqual(64, self.placement.used(self.rp, 'VCPU'))
        self.assertEqual((64, 4352), data.get().keeper.held(self.rp))
        # the next runs read the project's total and the listing only: the
        # generation is the one our write made
        reads = []
        get = self.placement.get
        self.placement.get = lambda url, **kw: reads.append(url) or get(
            url, **kw)
        self.assertEqual([], self.sync())
        self.assertEqual(['/usages?project_id=%s' % reserve.PROJECT,
                          '/resource_providers'], reads)
        self.assertEqual([], self.sync())
        self.assertEqual(1, self.placement.writes)

    def test_written_again_after_an_audit_deleted_it(self):
        # placement deletes allocations without a new provider generation
        self.sync()
        generation = self.placement.providers[self.rp]['generation']
        for consumer in [c for c in self.placement.allocations
                         if self.rp in self.placement.allocations[c]]:
            # placement deletes a consumer with its last allocation
            del self.placement.allocations[consumer]
            del self.placement.consumer_gen[consumer]
        self.assertEqual(generation,
                         self.placement.providers[self.rp]['generation'])
        self.assertEqual(1, len(self.sync()))
        self.assertEqual(4352, self.placement.used(self.rp, 'MEMORY_MB'))

    def test_dry_run_writes_nothing(self):
        lines = self.sync(dry_run=True)
        self.assertEqual(1, len(lines))
        self.assertIn('would set', lines[0])
        self.assertEqual(0, self.placement.writes)
        self.assertEqual(1, len(self.sync(dry_run=True)))

    def test_conflict_retried(self):
        self.placement.conflicts = 2
        self.assertEqual(1, len(self.sync()))
        self.assertEqual(4352, self.placement.used(self.rp, 'MEMORY_MB'))

    def test_claims_stop_at_the_reserve(self):
        self.sync()
        placed = 0
        while self.placement.claim(self.rp, 2048):
            placed += 1
        # 13056 - 4352 = 8704: four instances of 2048 MB
        self.assertEqual(4, placed)

    def test_removed_when_filter_disabled(self):
        self.sync()
        CONF.set_override('enabled_filters', ['ComputeFilter'],
                          group='filter_scheduler')
        lines = self.sync()
        self.assertEqual(1, len(lines))
        self.assertEqual(0, self.placement.used(self.rp, 'MEMORY_MB'))
        self.assertEqual((0, 0), data.get().keeper.held(self.rp))

    def test_grows_back_when_instances_leave(self):
        for _ in range(6):
            self.placement.claim(self.rp, 2048)  # 12288 of 13056
        self.sync()
        self.assertEqual(13056 - 12288,
                         self.placement.used(self.rp, 'MEMORY_MB') - 12288)
        for consumer in [c for c, a in self.placement.allocations.items()
                         if a[self.rp].get('MEMORY_MB') == 2048][:3]:
            del self.placement.allocations[consumer]
            self.placement.providers[self.rp]['generation'] += 1
        self.sync()
        self.assertEqual(4352, self.placement.used(self.rp, 'MEMORY_MB') -
                         3 * 2048)

    def test_without_the_filter_nothing_is_read(self):
        CONF.set_override('enabled_filters', ['ComputeFilter'],
                          group='filter_scheduler')
        reads = []
        get = self.placement.get
        self.placement.get = lambda url, **kw: reads.append(url) or get(
            url, **kw)
        self.assertEqual([], self.sync())
        self.assertEqual(['/usages?project_id=%s' % reserve.PROJECT], reads)

    def test_placement_error_raises(self):
        self.placement.get = lambda *a, **k: _Response(503, 'down')
        self.assertRaises(keeper.PlacementError, self.sync)


class _Running(keeper.Off):

    def running(self):
        return True


class TestHeld(testtools.TestCase):
    """What placement's usage read leaves out: the reserve held."""

    def setUp(self):
        super().setUp()
        self.useFixture(data_fixture.DataFixture(keeper=keeper.Off()))
        self.rp, self.other = str(uuid.uuid4()), str(uuid.uuid4())

    def _read(self):
        from nova_vmw_sched import inventory
        summaries = {rp: {'resources': {
            'VCPU': {'capacity': 192, 'used': 80},
            'MEMORY_MB': {'capacity': 13056, 'used': 8192}}}
            for rp in (self.rp, self.other)}

        class Client:
            def get(self, url, version=None, global_request_id=None):
                return _Response(200, {'provider_summaries': summaries})
        return inventory.PlacementUsageSource(
            Client(), held=data.get().keeper.held)(None)

    def test_no_keeper_in_this_process(self):
        self.assertEqual((0, 0), data.get().keeper.held(self.rp))
        self.assertEqual({self.rp: (80, 8192), self.other: (80, 8192)},
                         self._read())

    def test_unknown_until_the_first_run_ends(self):
        self.useFixture(data_fixture.DataFixture(keeper=_Running()))
        data.get().keeper.set_held(self.rp, (64, 4352))
        self.assertIsNone(data.get().keeper.held(self.other))
        # the other's figure would count its reserve as instances: left
        # out (nova's figure decides), the known one without its reserve
        self.assertEqual({self.rp: (16, 8192 - 4352)}, self._read())
        data.get().keeper.complete = True
        self.assertEqual((0, 0), data.get().keeper.held(self.other))
        self.assertEqual((80, 8192), self._read()[self.other])


class TestStress(testtools.TestCase):
    """Many threads through one set of plugin instances (nova's filter
    handler, the real capacity filter and shared HostStates), random
    flavors near the reserve, claims in the placement stand-in: no cluster
    past its reserve once the keeper holds it there."""

    CLUSTERS = 8
    THREADS = 16
    REQUESTS = 12

    def setUp(self):
        super().setUp()
        from nova.scheduler import filters as nova_filters

        from nova_vmw_sched.filters import capacity_filter
        from tests.unit import capacity_fakes
        vmw_conf.register_opts(CONF)
        self.useFixture(capacity_fakes.ConfigCachesFixture())
        self.useFixture(data_fixture.DataFixture(keeper=keeper.Off()))
        CONF.set_override('enabled_filters',
                          ['VMwareClusterCapacityFilter'],
                          group='filter_scheduler')
        self.addCleanup(CONF.clear_override, 'enabled_filters',
                        group='filter_scheduler')
        self.placement = FakePlacement()
        self.lock = threading.Lock()
        self.states = []
        invs = {}
        for n in range(self.CLUSTERS):
            name = capacity_fakes.node('domain-c%d' % n)
            rp = self.placement.add(name, _inventories())
            invs[rp] = _inventories()
            self.states.append(capacity_fakes.host_state(
                name, vcpus=48, memory_mb=3 * 4352, uuid=rp))
        self.useFixture(capacity_fakes.CacheFixture(invs))
        self.handler = nova_filters.HostFilterHandler()
        self.filters = [capacity_filter.VMwareClusterCapacityFilter()]
        self.make_spec = capacity_fakes.request_spec

    def _claim(self, rp, memory_mb):
        with self.lock:  # placement's claim is atomic
            return self.placement.claim(rp, memory_mb)

    def _schedule(self, rng, errors):
        for _ in range(self.REQUESTS):
            memory_mb = rng.choice((1024, 2048, 3072, 4096))
            spec = self.make_spec(vcpus=1, memory_mb=memory_mb)
            try:
                hosts = list(self.handler.get_filtered_objects(
                    self.filters, self.states, spec))
                time.sleep(0)  # let other requests filter before we claim
                rng.shuffle(hosts)
                for host in hosts:
                    if self._claim(host.uuid, memory_mb):
                        host.consume_from_request(spec)
                        break
            except Exception as e:
                errors.append(e)

    def test_no_reserve_overrun(self):
        reserve.sync(nova_context.get_admin_context(), self.placement,
                     known=data.get().keeper)
        errors = []
        threads = [threading.Thread(target=self._schedule,
                                    args=(random.Random(seed), errors))
                   for seed in range(self.THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        self.assertEqual([], errors)
        claimed = 0
        for rp in self.placement.providers:
            held = data.get().keeper.held(rp)[1]
            instances = self.placement.used(rp, 'MEMORY_MB') - held
            self.assertEqual(4352, held)
            self.assertLessEqual(instances, 3 * 4352 - 4352)
            claimed += instances
        # the clusters were filled near their reserve, not left empty
        self.assertGreater(claimed, self.CLUSTERS * (8704 - 4096))
