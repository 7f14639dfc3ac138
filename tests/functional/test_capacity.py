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

"""VMwareClusterCapacityFilter through nova's real API, conductor, scheduler
and placement, each scenario in both topologies.

Placement itself refuses an allocation above ``max_unit``, so the "larger
than any ESXi host" outcomes here would be the same without the filter; the
unit tests prove the filter's own rule. The failover reserve is the
filter's alone: placement would fill each cluster to its total.
"""

import time

from nova_vmw_sched import inventory
from tests.functional import base
from tests.functional import fake_driver

NVH = base.NO_VALID_HOST
Esxi = fake_driver.EsxiHost


class _Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class _HidingSource:
    """Real placement reads, except for the providers a scenario hides."""

    def __init__(self):
        self.placement = inventory.PlacementSource()
        #: {rp uuid: what to answer instead: {} or an exception}
        self.hidden = {}
        self.reads = []

    def __call__(self, context, rp_uuid):
        self.reads.append(rp_uuid)
        answer = self.hidden.get(rp_uuid)
        if isinstance(answer, Exception):
            raise answer
        if answer is not None:
            return answer
        return self.placement(context, rp_uuid)


class TestClusterCapacity(base.ClusterTestCase):
    """Clusters of different ESXi host sizes (vCPUs, MB):

    * c1: 4 x (16, 4096): 64 vCPUs, 16384 MB, largest host 4096 MB
    * c2: 2 x (16, 8192): 32 vCPUs, 16384 MB, largest host 8192 MB
    * c3: (16, 2048) + (16, 2048) + (16, 8192): 48 vCPUs, 12288 MB
    * c4: 2 x (8, 2048): 16 vCPUs, 4096 MB, largest host 8 vCPUs

    Allocation ratios: 4.0 for CPU, 1.0 for memory.
    """

    CLUSTERS = {
        'c1': fake_driver.ClusterSpec(hosts=(Esxi(16, 4096),) * 4),
        'c2': fake_driver.ClusterSpec(hosts=(Esxi(16, 8192),) * 2),
        'c3': fake_driver.ClusterSpec(hosts=(Esxi(16, 2048), Esxi(16, 2048),
                                             Esxi(16, 8192))),
        'c4': fake_driver.ClusterSpec(hosts=(Esxi(8, 2048),) * 2),
    }
    FAILOVER_POLICY = None  # the option's default, host_failures = 1
    # The capacity filter is opt-in: not in the documented setup's list.
    ENABLED_FILTERS = base.ENABLED_FILTERS + ['VMwareClusterCapacityFilter']

    def setUp(self):
        # nova's resource tracker counts reserved_host_memory_mb as used;
        # the vmwareapi driver reports the same amount as the inventory's
        # reserved, the fake driver reports 0: keep them equal.
        self.flags(reserved_host_memory_mb=0, reserved_host_cpus=0,
                   cpu_allocation_ratio=4.0, ram_allocation_ratio=1.0)
        self.flags(instances=-1, cores=-1, ram=-1, group='quota')
        self.clock = _Clock()
        self.source = _HidingSource()
        super().setUp()

    def make_inventory_cache(self):
        # a clock of the test's own: no refresh comes due unless it moves;
        # usage is nova's figure alone (TestCapacityAfterTakeover has both)
        return inventory.InventoryCache(self.source, clock=self.clock)

    def _reads(self, estate):
        """Placement reads of inventories for this estate's clusters."""
        uuids = {self._get_provider_uuid_by_host(estate.node(label))
                 for label in estate.clusters}
        return sum(1 for u in self.source.reads if u in uuids)

    def test_instance_must_fit_one_esxi_host(self):
        self.flags(cluster_failover_policy='none', group='vmware_scheduler')

        def scenario(estate):
            out = []
            for label in ('c1', 'c2', 'c3', 'c4'):
                # 6144 MB: more than the hosts of c1 (4096), less than its
                # total (16384); c3 has one host large enough
                flavor = estate.flavor('mem-' + label, memory_mb=6144,
                                       pin=estate.pin(label))
                out.append(estate.boot(flavor, name='mem-' + label)[0])
            for label in ('c4', 'c1'):
                # 12 vCPUs: more than c4's hosts (8), less than its 16
                flavor = estate.flavor('cpu-' + label, vcpus=12,
                                       memory_mb=512, pin=estate.pin(label))
                out.append(estate.boot(flavor, name='cpu-' + label)[0])
            return out

        self.assertEqual([NVH, 'c2', 'c3', NVH, NVH, 'c1'],
                         self.in_both_topologies(scenario))

    def test_one_host_failure_keeps_the_largest_host_free(self):
        # The default policy: host_failures=1.
        def scenario(estate):
            c1 = estate.flavor('c1', memory_mb=4096, pin=estate.pin('c1'))
            c3 = estate.flavor('c3', memory_mb=2048, pin=estate.pin('c3'))
            return (
                # c1 keeps 4096 of 16384 MB free: three, not four; a
                # multi-create of four counts its own instances and fails
                estate.boot(c1, name='four', min_count=4),
                estate.boot(c1, name='three', min_count=3),
                estate.boot(c1, name='one-more'),
                # c3 keeps its 8192 MB host free: 4096 MB for instances
                estate.boot(c3, name='two', min_count=2),
                estate.boot(c3, name='third'),
                self._reads(estate),
            )

        self.assertEqual(([NVH] * 4, ['c1'] * 3, [NVH], ['c3'] * 2, [NVH],
                          2),
                         self.in_both_topologies(scenario))

    def test_per_cluster_override(self):
        def scenario(estate):
            self.flags(cluster_aliases={'gold': estate.node('c1')},
                       cluster_failover_overrides={
                           'gold': 'host_failures=2', 'domain-c3': 'none'},
                       group='vmware_scheduler')
            c1 = estate.flavor('c1', memory_mb=4096, pin=estate.pin('c1'))
            c2 = estate.flavor('c2', memory_mb=4096, pin=estate.pin('c2'))
            c3 = estate.flavor('c3', memory_mb=4096, pin=estate.pin('c3'))
            return (
                # gold (c1) keeps two hosts free: 8192 MB for instances
                estate.boot(c1, name='c1', min_count=2),
                estate.boot(c1, name='c1-more'),
                # c2 keeps the default, one 8192 MB host
                estate.boot(c2, name='c2', min_count=2),
                estate.boot(c2, name='c2-more'),
                # c3 keeps nothing: all 12288 MB
                estate.boot(c3, name='c3', min_count=3),
                estate.boot(c3, name='c3-more'),
            )

        self.assertEqual((['c1'] * 2, [NVH], ['c2'] * 2, [NVH], ['c3'] * 3,
                          [NVH]),
                         self.in_both_topologies(scenario))

    def test_percentage_policy(self):
        self.flags(cluster_failover_policy='percentage',
                   cluster_failover_cpu_percentage=75,
                   cluster_failover_memory_percentage=25,
                   group='vmware_scheduler')

        def scenario(estate):
            mem = estate.flavor('mem', memory_mb=4096, pin=estate.pin('c2'))
            cpu = estate.flavor('cpu', vcpus=8, memory_mb=256,
                                pin=estate.pin('c4'))
            return (
                # 75 % of c2's 16384 MB
                estate.boot(mem, name='mem', min_count=3),
                estate.boot(mem, name='mem-more'),
                # 25 % of c4's 16 vCPUs x 4.0
                estate.boot(cpu, name='cpu', min_count=2),
                estate.boot(cpu, name='cpu-more'),
            )

        self.assertEqual((['c2'] * 3, [NVH], ['c4'] * 2, [NVH]),
                         self.in_both_topologies(scenario))

    def test_cluster_without_inventory(self):
        def scenario(estate):
            self.flags(cluster_inventory_cache_ttl=300,
                       group='vmware_scheduler')
            c1_uuid = self._get_provider_uuid_by_host(estate.node('c1'))
            c2_uuid = self._get_provider_uuid_by_host(estate.node('c2'))
            # placement has no inventory for c2 when the filter asks
            self.source.hidden[c2_uuid] = {}
            c1 = estate.flavor('c1', memory_mb=2048, pin=estate.pin('c1'))
            c2 = estate.flavor('c2', memory_mb=2048, pin=estate.pin('c2'))
            out = [estate.boot(c2, name='c2-a')[0],
                   estate.boot(c2, name='c2-b')[0],
                   estate.boot(c1, name='c1-a')[0]]
            # a TTL later placement fails for c1: the refresher's read fails
            # and the last inventory read is kept; c2 is retried as well
            # (its back-off is long over) and fails again
            self.source.hidden[c1_uuid] = inventory.InventoryUnavailable(
                'placement answered 503')
            reads = len(self.source.reads)
            self.clock.now += 300
            self._wait_for(lambda: len(self.source.reads) >= reads + 2)
            out.append(estate.boot(c1, name='c1-b')[0])
            log = self.stdlog.logger.output
            return (out,
                    log.count('Resource provider %s: placement has no valid '
                              'VCPU and MEMORY_MB inventory' % c2_uuid),
                    log.count('Resource provider %s: reading its inventory '
                              'from placement failed: placement answered 503; '
                              'keeping the inventory read before' % c1_uuid),
                    self._reads(estate))

        # c2: one WARNING per failed read, not per request: the second boot
        # neither reads it nor waits (it is in its back-off); c1 read twice,
        # by its first request and by the refresher
        self.assertEqual(([NVH, NVH, 'c1', 'c1'], 2, 1, 4),
                         self.in_both_topologies(scenario))

    def _wait_for(self, predicate, timeout=10.0):
        deadline = time.monotonic() + timeout
        while not predicate():
            self.assertLess(time.monotonic(), deadline, 'timed out')
            time.sleep(0.05)


class _TakeoverCase(base.ClusterTestCase):
    """The failover reserve holds after a cluster changes service.

    c1 has three 4352 MB ESXi hosts; one host failure held back leaves
    8704 MB, four 2048 MB instances. After the takeover of failover.rst the
    new service's resource tracker no longer counts the four instances,
    which still name the dead service; placement's usage does.
    """

    CLUSTERS = dict(
        {'c%d' % n: fake_driver.ClusterSpec() for n in range(2, 6)},
        c1=fake_driver.ClusterSpec(hosts=(Esxi(16, 4352),) * 3))
    FAILOVER_POLICY = None  # the option's default, host_failures = 1
    ENABLED_FILTERS = base.ENABLED_FILTERS + ['VMwareClusterCapacityFilter']

    def _fill_take_over_and_boot(self):
        def scenario(estate):
            if self.KEEPER_INTERVAL:
                # the keeper has held this estate's reserves in placement
                self.converge()
            flavor = estate.flavor('two', memory_mb=2048,
                                   pin=estate.pin('c1'))
            out = [estate.boot(flavor, name='vm%d' % n)[0]
                   for n in range(3)]
            # failover.rst: force the dead service down, take its clusters
            # over with a running standby, leave the dead one disabled
            dead, _standby = estate.fail_over('c1')
            estate.set_service(dead, disabled=True)
            # at least one usage read made wholly after the takeover (the
            # read started before may still be on its way)
            self._wait_for_usage_reads(2)
            # the fourth fills c1 up to its reserve; nova counts it, on top
            # of placement's figure of the three before
            out.extend(estate.boot(flavor, name='after%d' % n)[0]
                       for n in range(3))
            return out

        return self.in_both_topologies(scenario)

    def make_inventory_cache(self):
        """The real cache, its usage reads counted."""
        self.usage_reads = 0
        usage_source = inventory.PlacementUsageSource(held=self.keeper.held)

        def counted(context):
            found = usage_source(context)
            self.usage_reads += 1
            return found

        return inventory.InventoryCache(inventory.PlacementSource(),
                                        usage_source=counted)

    def _wait_for_usage_reads(self, count, timeout=30.0):
        """Wait until ``count`` more usage reads have ended; with usage
        reads off (interval 0) there is none to wait for, and none made."""
        if base.CONF.vmware_scheduler.cluster_usage_refresh_interval <= 0:
            self.assertEqual(0, self.usage_reads)
            return
        target = self.usage_reads + count
        deadline = time.monotonic() + timeout
        while self.usage_reads < target:
            if time.monotonic() > deadline:
                self.fail('%d usage reads in %.0f s, not %d'
                          % (self.usage_reads - target + count, timeout,
                             count))
            time.sleep(0.05)

    def test_reserve_still_refuses_after_takeover(self):
        self.flags(cluster_usage_refresh_interval=1,
                   group='vmware_scheduler')
        self.assertEqual(['c1'] * 4 + [NVH, NVH],
                         self._fill_take_over_and_boot())



class TestCapacityAfterTakeover(_TakeoverCase):
    """With the placement keeper (the default)."""

    def test_without_usage_reads_placement_keeps_the_reserve(self):
        # nova's figure alone lets the filter pass (see the class below),
        # but the reserve the keeper holds in placement refuses the claims
        self.flags(cluster_usage_refresh_interval=0,
                   group='vmware_scheduler')
        self.assertEqual(['c1'] * 4 + [NVH, NVH],
                         self._fill_take_over_and_boot())


class TestCapacityAfterTakeoverWithoutKeeper(_TakeoverCase):
    """The same with the placement keeper off: only the filter's figures."""

    KEEPER_INTERVAL = 0

    def test_without_usage_reads_the_reserve_is_overbooked(self):
        # what nova's figure alone does (cluster_usage_refresh_interval = 0)
        self.flags(cluster_usage_refresh_interval=0,
                   group='vmware_scheduler')
        self.assertEqual(['c1'] * 6, self._fill_take_over_and_boot())


class TestHeadroomWeigher(base.ClusterTestCase):
    """VMwareClusterHeadroomWeigher against nova's spreading weighers.

    c1: four 4 GB hosts, c2: two 8 GB hosts with more CPU. Both have 16 GB
    free, so RAMWeigher cannot choose; CPUWeigher prefers c2. With one host
    failure held back, c1 still takes six 2 GB instances and c2 four: the
    headroom weigher prefers c1.
    """

    CLUSTERS = {
        'c1': fake_driver.ClusterSpec(hosts=(Esxi(16, 4096),) * 4),
        'c2': fake_driver.ClusterSpec(hosts=(Esxi(64, 8192),) * 2),
    }
    TOPOLOGIES = (
        ('shared', (('c1', 'c2'),)),
        ('split', (('c1',), ('c2',))),
    )
    FAILOVER_POLICY = 'host_failures'
    ENABLED_FILTERS = base.ENABLED_FILTERS + ['VMwareClusterCapacityFilter']

    def _first_landing(self, multiplier):
        self.flags(cluster_headroom_weight_multiplier=multiplier,
                   group='vmware_scheduler')

        def scenario(estate):
            flavor = estate.flavor('two', memory_mb=2048)
            return estate.boot(flavor, name='vm')[0]

        return self.in_both_topologies(scenario)

    def test_headroom_outweighs_cpu_spreading(self):
        self.assertEqual('c1', self._first_landing(2.0))

    def test_without_headroom_cpu_decides(self):
        self.assertEqual('c2', self._first_landing(0.0))
