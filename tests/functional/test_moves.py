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

"""Moves by cluster, through nova's real API, conductor, scheduler and
placement, each in both topologies.

The fake driver's nodes report ``COMPUTE_SAME_HOST_COLD_MIGRATE``, as nova's
vmwareapi driver does, so nova keeps the source service host eligible for a
cold migration: the other clusters of a shared service are candidates.
"""

from tests.functional import base
from tests.functional import fake_driver

EsxiHost = fake_driver.EsxiHost
ClusterSpec = fake_driver.ClusterSpec

#: two services of two clusters each, or one service per cluster
TWO_BY_TWO = (
    ('pairs', (('c1', 'c2'), ('c3', 'c4'))),
    ('split', (('c1',), ('c2',), ('c3',), ('c4',))),
)


class TestColdMigration(base.ClusterTestCase):
    # RAMWeigher orders the free clusters c1 > c2 > c3 > c4.
    CLUSTERS = {'c%d' % n: ClusterSpec(hosts=(EsxiHost(memory_mb=m),))
                for n, m in enumerate((8192, 7168, 6144, 5120), start=1)}

    def test_migrate_three_times_moves_each_time(self):
        def scenario(estate):
            flavor = estate.flavor('small', memory_mb=512)
            landed = [estate.boot(flavor, name='vm')[0]]
            for _ in range(3):
                landed.append(estate.migrate('vm'))
            return landed

        landed = self.in_both_topologies(scenario)
        self.assertNotIn(base.NO_VALID_HOST, landed)
        for before, after in zip(landed, landed[1:]):
            self.assertNotEqual(before, after, landed)

    def test_pinned_migration_follows_the_list(self):
        def scenario(estate):
            two = estate.flavor('two', memory_mb=512,
                                pin=estate.pin('c3', 'c4'))
            one = estate.flavor('one', memory_mb=512, pin=estate.pin('c2'))
            return (estate.boot(two, name='two')[0], estate.migrate('two'),
                    estate.boot(one, name='one')[0], estate.migrate('one'),
                    estate.where('one'))

        # the only listed cluster is the source: NoValidHost, and the
        # server stays ACTIVE on it
        self.assertEqual(('c3', 'c4', 'c2', base.NO_VALID_HOST, 'c2'),
                         self.in_both_topologies(scenario))
        # and the explanation line says why, in each topology
        log = self.stdlog.logger.output
        self.assertEqual(2, log.count(
            'VMwareClusterMoveFilter: source cluster of the move (a '
            'migration leaves its cluster)'), log[-3000:])

    def test_anti_affinity_member_goes_to_the_free_cluster(self):
        def scenario(estate):
            group = estate.group('anti', 'anti-affinity')
            flavor = estate.flavor('small', memory_mb=512)
            placed = [estate.boot(flavor, name='vm%d' % i, group=group)[0]
                      for i in range(3)]
            return placed, estate.migrate('vm0')

        self.assertEqual((['c1', 'c2', 'c3'], 'c4'),
                         self.in_both_topologies(scenario))

    def test_resize_may_stay_with_allow_resize_to_same_host(self):
        self.flags(allow_resize_to_same_host=True)

        def scenario(estate):
            small = estate.flavor('small', memory_mb=512)
            # the new flavor lists only the source cluster
            bigger = estate.flavor('bigger', memory_mb=1024,
                                   pin=estate.pin('c1'))
            return (estate.boot(small, name='vm')[0],
                    estate.migrate('vm', flavor_id=bigger))

        self.assertEqual(('c1', 'c1'), self.in_both_topologies(scenario))

    def test_evacuate_lands_on_another_service_and_keeps_the_pin(self):
        def scenario(estate):
            flavor = estate.flavor('pinned', memory_mb=512,
                                   pin=estate.pin('c1', 'c4'))
            first = estate.boot(flavor, name='vm')[0]
            estate.set_service(estate.service_of('c1'), forced_down=True)
            server = self._evacuate_server(estate.server('vm'),
                                           expected_state='SHUTOFF')
            return first, estate.label_of(
                server['OS-EXT-SRV-ATTR:hypervisor_hostname'])

        self.assertEqual(('c1', 'c4'),
                         self.in_both_topologies(scenario, TWO_BY_TWO))

    def test_live_migration_chooses_by_cluster_where_nova_lets_it(self):
        landed = {}

        def scenario(estate):
            group = estate.group('anti', 'anti-affinity')
            flavor = estate.flavor('pinned', memory_mb=512,
                                   pin=estate.pin('c1', 'c3', 'c4'))
            first = estate.boot(flavor, name='vm', group=group)[0]
            other = estate.boot(flavor, name='other', group=group)[0]
            # self.api is the admin API in ProviderUsageBaseTestCase
            server = self._live_migrate(estate.server('vm'))
            migration = estate.migrations(server)[0]
            providers = {self._get_provider_uuid_by_host(estate.node(label)):
                         label for label in estate.clusters}
            landed[estate.name] = (
                estate.label_of(server['OS-EXT-SRV-ATTR:hypervisor_hostname']),
                [providers.get(rp) for rp in estate.allocation_of(server)])
            return first, other, estate.label_of(migration['dest_node'])

        # nova leaves out the source service (c1, and c2 with it where
        # they share one); the pin keeps c2 out anyway, and the group keeps
        # the member off c3: the scheduler chooses c4 in both topologies
        self.assertEqual(('c1', 'c3', 'c4'),
                         self.in_both_topologies(scenario, TWO_BY_TWO))
        # but nova-compute records a live-migrated instance on the first
        # compute node record it finds for the destination service
        # (ComputeNode.get_first_node_by_host_for_old_compat), whichever
        # the scheduler chose: with c3 and c4 under one service, either;
        # its allocation stays where the scheduler claimed it (documented
        # in moves.rst)
        self.assertEqual(('c4', ['c4']), landed['split'])
        self.assertIn(landed['pairs'][0], ('c3', 'c4'))
        self.assertEqual(['c4'], landed['pairs'][1])


class TestResizeAwayFromTheSourceService(base.ClusterTestCase):
    """``allow_resize_to_same_host = False``: nova leaves out the source
    *service host* before any filter runs, so the outcome depends on the
    topology (documented in moves.rst)."""

    CLUSTERS = TestColdMigration.CLUSTERS

    def test_resize_leaves_the_service(self):
        self.flags(allow_resize_to_same_host=False)

        def scenario(estate):
            small = estate.flavor('small', memory_mb=512)
            bigger = estate.flavor('bigger', memory_mb=1024)
            return (estate.boot(small, name='vm')[0],
                    estate.migrate('vm', flavor_id=bigger))

        outcomes = {}
        for index, (name, services) in enumerate(TWO_BY_TWO):
            estate = base.Estate(self, name, index, services, self.CLUSTERS)
            estate.start()
            outcomes[name] = scenario(estate)
            estate.retire()
        # with its own service, only the source cluster is left out; with
        # a shared one, nova left out its sibling c2 as well
        self.assertEqual({'split': ('c1', 'c2'), 'pairs': ('c1', 'c3')},
                         outcomes)


class TestColdMigrationWithCapacity(base.ClusterTestCase):
    """The capacity filter on a cold migration: a cluster at its vSphere HA
    reserve is no destination, though the pin list prefers it.

    c1, c3, c4: 2 x 4096 MB (one host, 4096 MB, held back: 4096 usable);
    c2: 2 x 6144 MB (6144 usable).
    """

    CLUSTERS = {
        'c1': ClusterSpec(hosts=(EsxiHost(memory_mb=4096),) * 2),
        'c2': ClusterSpec(hosts=(EsxiHost(memory_mb=6144),) * 2),
        'c3': ClusterSpec(hosts=(EsxiHost(memory_mb=4096),) * 2),
        'c4': ClusterSpec(hosts=(EsxiHost(memory_mb=4096),) * 2),
    }
    FAILOVER_POLICY = None  # the option's default, host_failures = 1
    ENABLED_FILTERS = base.ENABLED_FILTERS + ['VMwareClusterCapacityFilter']

    def test_migration_skips_a_cluster_at_its_reserve(self):
        def scenario(estate):
            listed = estate.flavor('listed', memory_mb=2048,
                                   pin=estate.pin('c1', 'c2', 'c3'))
            filler = estate.flavor('filler', memory_mb=2048,
                                   pin=estate.pin('c2'))
            first = estate.boot(listed, name='vm')[0]
            # c2 takes three (6144 MB), its reserve left free; a fourth
            # would break it
            filled = [estate.boot(filler, name='fill%d' % i)[0]
                      for i in range(4)]
            return first, filled, estate.migrate('vm')

        self.assertEqual(
            ('c1', ['c2', 'c2', 'c2', base.NO_VALID_HOST], 'c3'),
            self.in_both_topologies(scenario))
