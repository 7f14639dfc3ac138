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

"""Availability zones in ``nova-vmw-sched simulate``: services in a zone,
requests naming one, placement's ``member_of``."""

import copy

from nova_vmw_sched.simulate import scenario
from nova_vmw_sched.simulate import topology
from tests.unit.simulate import test_cli
from tests.unit.simulate import test_scenario

CLUSTER = {'hosts': [{'cpus': 32, 'memory_mb': 65536}]}

#: one shared service of three clusters in az1, one service of its own
#: outside any zone; a ``whole`` instance fills a cluster
ZONED = {
    'version': 1,
    'vcenters': {'vc1': {'clusters': {
        'domain-c%d' % n: copy.deepcopy(CLUSTER) for n in range(1, 5)}}},
    'services': {
        'shared': {'clusters': ['vc1/domain-c1', 'vc1/domain-c2',
                                'vc1/domain-c3'],
                   'availability_zone': 'az1'},
        'lone': {'clusters': ['vc1/domain-c4']}},
    'flavors': {'whole': {'vcpus': 4, 'memory_mb': 60000}},
    'requests': [{'name': 'w%d' % n, 'flavor': 'whole',
                  'availability_zone': 'az1'} for n in range(1, 5)],
}


class TestValidation(test_scenario.MinimalChangedCase):

    def test_zones_are_read(self):
        data = copy.deepcopy(test_scenario.MINIMAL)
        data['services']['svc1']['availability_zone'] = 'az-1 east'
        data['requests'][0]['availability_zone'] = 'az-1 east'
        loaded = scenario.from_data(data, 'x.yaml')
        self.assertEqual('az-1 east', loaded.services[0].availability_zone)
        self.assertEqual('az-1 east', loaded.requests[0].availability_zone)

    def test_no_zone_by_default(self):
        loaded = scenario.from_data(copy.deepcopy(test_scenario.MINIMAL))
        self.assertIsNone(loaded.services[0].availability_zone)
        self.assertIsNone(loaded.requests[0].availability_zone)

    def test_bad_service_zones(self):
        for value, words in (
                ('az1:host', 'bad availability zone \'az1:host\' (nova '
                             'reserves ":" for zone:host:node)'),
                ('', 'expected a non-empty string, got a string'),
                (3, 'expected a non-empty string, got an integer'),
                (' az1', 'no whitespace at either end'),
                ('a' * 256, '1 to 255 printable characters')):
            def change(data, value=value):
                data['services']['svc1']['availability_zone'] = value
            problems = self.problems(change)
            self.assertIn('x.yaml: services.svc1.availability_zone: ',
                          problems)
            self.assertIn(words, problems)

    def test_bad_request_zone(self):
        def change(data):
            data['requests'][0]['availability_zone'] = 'nova:svc1'
        self.assertIn('x.yaml: requests[0].availability_zone: bad '
                      'availability zone', self.problems(change))

    def test_a_move_takes_its_instance_zone(self):
        def change(data):
            data['instances']['web-0']['flavor'] = 'small'
            data['requests'].append({'action': 'migrate',
                                     'instance': 'web-0',
                                     'availability_zone': 'az1'})
        self.assertIn('x.yaml: requests[1].availability_zone: a move takes '
                      'the instance\'s own availability zone; only a boot '
                      'sets it', self.problems(change))

    def test_topologies_keep_each_cluster_zone(self):
        loaded = scenario.from_data(copy.deepcopy(ZONED))
        for name in (topology.PER_CLUSTER, topology.PER_VCENTER):
            zones = {label: s.availability_zone
                     for s in topology.regroup(loaded, name).services
                     for label in s.clusters}
            self.assertEqual({'vc1/domain-c1': 'az1', 'vc1/domain-c2': 'az1',
                              'vc1/domain-c3': 'az1', 'vc1/domain-c4': None},
                             zones, name)


class TestZoneBoots(test_cli.CliTestCase):

    def run_zoned(self, data=ZONED, *args):
        return self.json_of('--against-stock', self.scenario(data), *args)

    def test_package_reaches_every_cluster_stock_only_the_first(self):
        doc = self.run_zoned()
        requests = doc['requests']
        self.assertEqual(['az1'] * 4,
                         [r['availability_zone'] for r in requests])
        # the package's keeper: every cluster of the shared service
        landed = [r['outcome'][0] for r in requests]
        self.assertEqual({'vc1/domain-c1', 'vc1/domain-c2', 'vc1/domain-c3'},
                         set(landed[:3]))
        self.assertEqual('NoValidHost', landed[3])
        # never outside the zone
        for r in requests:
            lone = [x for x in r['rejected']
                    if x['cluster'] == 'vc1/domain-c4']
            self.assertEqual('placement', lone[0]['by'])
            self.assertIn('not in the placement aggregate of availability '
                          'zone az1: nova asks placement for member_of it',
                          lone[0]['reason'])
        # stock nova: nova-api mirrored only the first cluster
        stock = [r['stock'] for r in requests]
        self.assertEqual(['vc1/domain-c1'] + ['NoValidHost'] * 3,
                         [s['outcome'][0] for s in stock])
        by = {x['cluster']: x for x in stock[1]['rejected']}
        self.assertEqual('placement', by['vc1/domain-c2']['by'])
        self.assertIn('member_of it (stock nova: nova-api put only the '
                      'first compute node of service host shared into it)',
                      by['vc1/domain-c2']['reason'])
        self.assertEqual('no cluster is a placement candidate',
                         stock[1]['failure'])

    def test_table_shows_the_zone_and_why(self):
        status, text = self.run_cli('--against-stock',
                                    self.scenario(ZONED))
        self.assertEqual(0, status, self.stderr.getvalue())
        self.assertIn('[1] w1: 1 x whole (4 vCPU, 60000 MB); availability '
                      'zone az1', text)
        self.assertIn('stock: vc1/domain-c2 rejected by placement: not in '
                      'the placement aggregate of availability zone az1',
                      text)

    def test_no_zone_reaches_every_cluster(self):
        data = copy.deepcopy(ZONED)
        for request in data['requests']:
            del request['availability_zone']
        doc = self.run_zoned(data)
        for key in (None, 'stock'):
            found = [(r[key] if key else r)['outcome'][0]
                     for r in doc['requests']]
            self.assertEqual(['vc1/domain-c%d' % n for n in range(1, 5)],
                             sorted(found), key)

    def test_unknown_zone_fails_with_the_reason(self):
        data = copy.deepcopy(ZONED)
        data['requests'] = [{'name': 'x', 'flavor': 'whole',
                             'availability_zone': 'nowhere'}]
        doc = self.run_zoned(data)
        for result in (doc['requests'][0], doc['requests'][0]['stock']):
            self.assertEqual(['NoValidHost'], result['outcome'])
            self.assertEqual('no service is in availability zone nowhere '
                             '(nova-api refuses such a request with 400 Bad '
                             'Request)', result['failure'])
            self.assertEqual({'placement'},
                             {x['by'] for x in result['rejected']})

    def test_a_move_stays_in_its_zone(self):
        data = copy.deepcopy(ZONED)
        data['flavors']['half'] = {'vcpus': 2, 'memory_mb': 30000}
        data['requests'] = [
            {'name': 'h', 'flavor': 'half', 'availability_zone': 'az1'},
            {'action': 'live-migrate', 'instance': 'h'}]
        doc = self.json_of(self.scenario(data))
        move = doc['requests'][1]
        self.assertEqual('az1', move['availability_zone'])
        # a live migration leaves out the source service host, which is the
        # whole zone; c4 has room but is outside it
        self.assertEqual(['NoValidHost'], move['outcome'])
        lone = [x for x in move['rejected']
                if x['cluster'] == 'vc1/domain-c4']
        self.assertIn('member_of', lone[0]['reason'])

    def test_same_outcome_in_every_topology_with_the_package(self):
        status, text = self.run_cli('--compare-topologies', '--format',
                                    'json', self.scenario(ZONED))
        self.assertEqual(0, status, text)
        self.assertIn('"divergent": {\n  "configured": 0\n }', text)

    def test_stock_differs_across_topologies(self):
        status, text = self.run_cli('--compare-topologies', '--against-stock',
                                    self.scenario(ZONED))
        self.assertEqual(0, status, text)
        self.assertIn('configured setup: all 4 requests end the same in '
                      'every topology.', text)
        # one service per cluster: stock nova reaches the whole zone too
        self.assertIn('stock setup: 2 of 4 requests end differently across '
                      'topologies.', text)
