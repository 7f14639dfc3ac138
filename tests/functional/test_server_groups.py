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

"""Server groups and same/different-host hints by cluster, through nova's
real API, conductor, scheduler and placement, each in both topologies.

With nova's stock filters, 4 clusters under one service give NoValidHost
for the 2nd anti-affinity member and let affinity members land on sibling
clusters; :class:`TestStockFiltersDiffer` shows it, so the equal outcomes
below are the package's doing.
"""

import collections

from tests.functional import base
from tests.functional import fake_driver

EsxiHost = fake_driver.EsxiHost
ClusterSpec = fake_driver.ClusterSpec


def _sizes(*memory_mb):
    return {'c%d' % n: ClusterSpec(hosts=(EsxiHost(memory_mb=m),))
            for n, m in enumerate(memory_mb, start=1)}


class TestServerGroupsByCluster(base.ClusterTestCase):
    # Different sizes make nova's RAMWeigher order the clusters c1 > c2 >
    # c3 > c4, so every landing is deterministic. c5 is only managed by the
    # standby service of the takeover scenario.
    CLUSTERS = _sizes(8192, 7168, 6144, 5120, 4096)

    def test_anti_affinity_sequential(self):
        def scenario(estate):
            group = estate.group('anti', 'anti-affinity')
            flavor = estate.flavor('small', memory_mb=512)
            return [estate.boot(flavor, name='vm%d' % i, group=group)[0]
                    for i in range(5)]

        self.assertEqual(['c1', 'c2', 'c3', 'c4', base.NO_VALID_HOST],
                         self.in_both_topologies(scenario))

    def test_anti_affinity_multi_create(self):
        def scenario(estate):
            group = estate.group('anti', 'anti-affinity')
            flavor = estate.flavor('small', memory_mb=512)
            return sorted(estate.boot(flavor, name='multi', group=group,
                                      min_count=4))

        self.assertEqual(['c1', 'c2', 'c3', 'c4'],
                         self.in_both_topologies(scenario))

    def test_anti_affinity_max_server_per_host(self):
        def scenario(estate):
            group = estate.group('anti2', 'anti-affinity',
                                 rules={'max_server_per_host': 2})
            flavor = estate.flavor('small', memory_mb=512)
            landed = [estate.boot(flavor, name='vm%d' % i, group=group)[0]
                      for i in range(9)]
            return sorted(collections.Counter(landed[:8]).items()), landed[8]

        self.assertEqual(
            ([('c1', 2), ('c2', 2), ('c3', 2), ('c4', 2)],
             base.NO_VALID_HOST),
            self.in_both_topologies(scenario))

    def test_affinity_stays_on_first_members_cluster(self):
        def scenario(estate):
            group = estate.group('aff', 'affinity')
            flavor = estate.flavor('mid', memory_mb=1024)
            # The first member lands on c1 (most free RAM); after four
            # members c1 has 4096 MB free, less than every sibling, so
            # nova's RAMWeigher would move on; affinity must not.
            return [estate.boot(flavor, name='vm%d' % i, group=group)[0]
                    for i in range(6)]

        self.assertEqual(['c1'] * 6, self.in_both_topologies(scenario))

    def test_member_counts_on_its_cluster_after_takeover(self):
        def scenario(estate):
            group = estate.group('anti', 'anti-affinity')
            flavor = estate.flavor('pinned', memory_mb=512,
                                   pin=estate.pin('c1', 'c2'))
            first = estate.boot(flavor, name='a', group=group)[0]
            # The cluster of the first member moves to a standby service;
            # the member still names its old service host.
            estate.start_service('%s-standby' % estate.name, ['c5'])
            estate.take_over('c1', '%s-standby' % estate.name)
            second = estate.boot(flavor, name='b', group=group)[0]
            third = estate.boot(flavor, name='c', group=group)[0]
            return first, second, third

        self.assertEqual(('c1', 'c2', base.NO_VALID_HOST),
                         self.in_both_topologies(scenario))

    def test_same_and_different_host_hints(self):
        def scenario(estate):
            flavor = estate.flavor('small', memory_mb=512)
            anchor = estate.boot(flavor, name='anchor')[0]
            anchor_id = self._server_id(estate, 'anchor')
            same = estate.boot(flavor, name='same',
                               hints={'same_host': [anchor_id]})[0]
            different = estate.boot(flavor, name='different',
                                    hints={'different_host': [anchor_id]})[0]
            return anchor, same, different

        # c1 has the most free RAM, so the anchor lands there; same_host
        # keeps the next one there, different_host sends the last to c2.
        self.assertEqual(('c1', 'c1', 'c2'),
                         self.in_both_topologies(scenario))

    def _server_id(self, estate, name):
        servers = self.admin_api.get_servers(
            search_opts={'name': '^%s-%s$' % (estate.name, name)})
        self.assertEqual(1, len(servers))
        return servers[0]['id']


class TestSoftPoliciesByCluster(base.ClusterTestCase):
    # c1 is far larger, so nova's RAMWeigher alone would put everything
    # there; equal smaller siblings make the rest deterministic by order of
    # free RAM.
    CLUSTERS = _sizes(32768, 6144, 5120, 4096)

    def setUp(self):
        super().setUp()
        # Stronger than RAMWeigher (1.0), as an operator who wants the
        # group policy to matter more than free RAM would set it.
        self.flags(cluster_soft_anti_affinity_weight_multiplier=10.0,
                   cluster_soft_affinity_weight_multiplier=10.0,
                   group='vmware_scheduler')

    def test_soft_anti_affinity_spreads_then_doubles_up(self):
        def scenario(estate):
            group = estate.group('soft-anti', 'soft-anti-affinity')
            flavor = estate.flavor('small', memory_mb=512)
            landed = [estate.boot(flavor, name='vm%d' % i, group=group)[0]
                      for i in range(8)]
            return landed[:4], sorted(collections.Counter(landed).items())

        first_four, counts = self.in_both_topologies(scenario)
        self.assertEqual(['c1', 'c2', 'c3', 'c4'], first_four)
        self.assertEqual([('c1', 2), ('c2', 2), ('c3', 2), ('c4', 2)],
                         counts)

    def test_soft_affinity_packs(self):
        def scenario(estate):
            group = estate.group('soft-aff', 'soft-affinity')
            flavor = estate.flavor('small', memory_mb=512)
            pinned = estate.flavor('first', memory_mb=512,
                                   pin=estate.pin('c2'))
            # The first member is placed on c2; RAMWeigher would send the
            # next ones to the much larger c1.
            landed = [estate.boot(pinned, name='vm0', group=group)[0]]
            landed += [estate.boot(flavor, name='vm%d' % i, group=group)[0]
                       for i in range(1, 5)]
            return landed

        self.assertEqual(['c2'] * 5, self.in_both_topologies(scenario))


class TestStockFiltersDiffer(base.ClusterTestCase):
    """nova's own filters: outcomes depend on the topology."""

    AVAILABLE_FILTERS = ['nova.scheduler.filters.all_filters']
    ENABLED_FILTERS = [f for f in base.ENABLED_FILTERS
                       if not f.startswith('VMwareCluster')]

    def test_stock_anti_affinity_refuses_sibling_clusters(self):

        def scenario(estate):
            group = estate.group('anti', 'anti-affinity')
            flavor = estate.flavor('small', memory_mb=512)
            return [estate.boot(flavor, name='vm%d' % i, group=group)[0]
                    for i in range(2)]

        outcomes = {}
        for name, services in self.TOPOLOGIES:
            estate = base.Estate(self, name, 0, services, self.CLUSTERS)
            estate.start()
            outcomes[name] = scenario(estate)
            estate.retire()
        self.assertEqual(base.NO_VALID_HOST, outcomes['shared'][1])
        self.assertNotIn(base.NO_VALID_HOST, outcomes['split'])
