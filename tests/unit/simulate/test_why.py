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

"""``simulate --why CLUSTER`` and the summary line of a failed request."""

import re

from tests.unit.simulate import test_cli
from tests.unit.simulate import test_scenario

VC = test_scenario.VC
C7 = 'domain-c7.' + VC
FILTERS = ['VMwareClusterFilter', 'ComputeFilter',
           'VMwareClusterCapacityFilter', 'ServerGroupAntiAffinityFilter',
           'ServerGroupAffinityFilter']


def _estate(**extra):
    """Two clusters of one vCenter; c7 small and half used, under a
    reserve of one host (host_failures=1), with the capacity filter."""
    data = {
        'version': 1,
        'config': {
            'filter_scheduler': {'enabled_filters': list(FILTERS)},
            'vmware_scheduler': {'cluster_aliases': {'small': C7}},
        },
        'vcenters': {'vc1': {'uuid': VC, 'clusters': {
            'domain-c7': {
                'hosts': [{'cpus': 32, 'memory_mb': 16384, 'count': 2}],
                'used': {'vcpus': 4, 'memory_mb': 8192, 'instances': 2},
                'ha_policy': 'host_failures=1'},
            'domain-c8': {
                'hosts': [{'cpus': 32, 'memory_mb': 65536, 'count': 2}]},
        }}},
        'services': {'svc1': {'clusters': ['vc1/domain-c7',
                                           'vc1/domain-c8']}},
        'flavors': {'mid': {'vcpus': 2, 'memory_mb': 10240},
                    'wide': {'vcpus': 40, 'memory_mb': 4096}},
        'requests': [{'name': 'mid', 'flavor': 'mid'}],
    }
    data.update(extra)
    return data


class WhyTestCase(test_cli.CliTestCase):

    def why(self, ref, *args):
        doc = self.json_of('--why', ref, *args)
        return {r['name']: r for r in doc['requests']}


class TestRemoved(WhyTestCase):

    def test_capacity_refusal_says_by_how_much(self):
        # capacity 2 x 16384 less 512 reserved = 32256 MB; one host
        # (16384) held back leaves 15872; 8192 used + 10240 = 18432
        found = self.why('small', self.scenario(_estate()))
        why = found['mid']['why']
        self.assertEqual('vc1/domain-c7', why['cluster'])
        (entry,) = why['instances']
        self.assertEqual('VMwareClusterCapacityFilter', entry['removed_by'])
        self.assertEqual(found['mid']['rejected'][0]['reason'],
                         entry['reason'])
        self.assertEqual(
            'misses by 2560 MB MEMORY_MB: would use 18432 of 15872 (32256 '
            'less 16384 held back, host_failures=1)', entry['miss'])
        self.assertEqual(
            'a flavor of at most 7680 MB MEMORY_MB, or 2560 MB MEMORY_MB '
            'freed on the cluster, or a reserve policy holding back at most '
            '13824 MB MEMORY_MB (now 16384)', entry['change'])

    def test_capacity_refusal_of_the_largest_host(self):
        data = _estate(requests=[{'name': 'wide', 'flavor': 'wide'}])
        # placement takes 40 vCPUs (max_unit 48, 4 + 40 used of 96 x 0.5);
        # the filter's largest host is 48 x 0.5 = 24 vCPUs
        c7 = data['vcenters']['vc1']['clusters']['domain-c7']
        c7['hosts'] = [{'cpus': 48, 'memory_mb': 16384, 'count': 2}]
        c7['allocation_ratios'] = {'vcpu': 0.5}
        c7['used']['memory_mb'] = 0
        data['vcenters']['vc1']['clusters']['domain-c8']['hosts'] = [
            {'cpus': 48, 'memory_mb': 65536, 'count': 2}]
        found = self.why(C7, self.scenario(data))
        (entry,) = found['wide']['why']['instances']
        self.assertEqual('VMwareClusterCapacityFilter', entry['removed_by'])
        self.assertEqual('misses by 16 VCPU: needs 40, the largest ESXi '
                         'host offers 24', entry['miss'])
        self.assertEqual('a flavor of at most 24 VCPU, or larger ESXi hosts '
                         'in the cluster', entry['change'])

    def test_pin_refusal(self):
        # the shipped scenario: gold.large is pinned to gold (vc-east c7)
        found = self.why('vc-east/domain-c8')
        (entry,) = found['gold-app']['why']['instances']
        self.assertEqual('VMwareClusterFilter', entry['removed_by'])
        self.assertEqual("the flavor's vmware:cluster does not list it",
                         entry['miss'])
        self.assertEqual("add it to the flavor's vmware:cluster",
                         entry['change'])

    def test_other_filters_compute_nothing(self):
        found = self.why('vc-east/domain-c8')
        (entry,) = found['db']['why']['instances']
        self.assertEqual('ServerGroupAffinityFilter', entry['removed_by'])
        self.assertIsNone(entry['miss'])
        self.assertEqual('none computed', entry['change'])

    def test_table(self):
        status, text = self.run_cli('--why', 'small',
                                    self.scenario(_estate()))
        self.assertEqual(0, status, self.stderr.getvalue())
        self.assertIn('  why vc1/domain-c7:\n    mid: removed by '
                      'VMwareClusterCapacityFilter: with the instance', text)
        self.assertIn('      misses by 2560 MB MEMORY_MB: would use 18432 '
                      'of 15872', text)
        self.assertIn('      would have to change: a flavor of at most '
                      '7680 MB MEMORY_MB', text)


class TestWeighed(WhyTestCase):

    def test_lost_with_the_weigher_that_decided(self):
        found = self.why('domain-c8')  # one cluster of the shipped estate
        request = found['east-app']
        first = request['why']['instances'][0]
        self.assertEqual('east-app-1', first['instance'])
        self.assertFalse(first['first'])
        self.assertEqual(2, first['rank'])
        self.assertEqual('vc-east/domain-c9', first['winner'])
        self.assertEqual(['VMwareClusterPreferenceWeigher'],
                         first['first_without'])
        # recompute from the report's own figures: the shares add up to
        # the weights, and leaving a weigher out is taking its column off
        candidates = {c['cluster']: c for c in
                      request['instances'][0]['candidates']}
        self.assertEqual({'vc-east/domain-c8', 'vc-east/domain-c9'},
                         set(candidates))
        mine = {w['name']: w['weighted'] for w in first['weighers']}
        theirs = {w['name']: w['winner'] for w in first['weighers']}
        self.assertAlmostEqual(first['weight'], sum(mine.values()))
        self.assertAlmostEqual(first['winner_weight'], sum(theirs.values()))
        self.assertAlmostEqual(candidates['vc-east/domain-c8']['weight'],
                               first['weight'])
        for name, share in candidates['vc-east/domain-c9'][
                'weighers'].items():
            self.assertAlmostEqual(share, theirs[name])
        decisive = [n for n in mine if first['weight'] - mine[n] >
                    first['winner_weight'] - theirs[n]]
        self.assertEqual(first['first_without'], decisive)

    def test_lost_with_no_single_weigher_to_blame(self):
        found = self.why('vc-east/domain-c8')
        entry = found['web']['why']['instances'][0]
        self.assertEqual('web-1', entry['instance'])
        self.assertEqual(3, entry['rank'])
        self.assertEqual([], entry['first_without'])

    def test_won(self):
        found = self.why('vc-east/domain-c8')
        web = found['web']['why']['instances']
        self.assertEqual(['web-1', 'web-2', 'web-3'],
                         [e['instance'] for e in web])
        self.assertTrue(web[2]['first'])
        self.assertEqual(1, web[2]['rank'])
        (sidecar,) = found['app-sidecar']['why']['instances']
        self.assertTrue(sidecar['first'])
        self.assertEqual(1, sidecar['candidates'])

    def test_table(self):
        status, text = self.run_cli('--why', 'vc-east/domain-c8')
        self.assertEqual(0, status, self.stderr.getvalue())
        self.assertIn('    east-app-1: rank 2 of 2, weight 502.000; '
                      'vc-east/domain-c9 won with 1001.172\n', text)
        self.assertIn('      left out alone, would put it first: '
                      'VMwareClusterPreferenceWeigher\n', text)
        self.assertIn('      left out alone, would put it first: none\n',
                      text)
        self.assertIn('    web-3: first of 2, weight 3.000\n', text)
        self.assertIn('    app-sidecar: first (the only candidate left)\n',
                      text)


class TestReferences(WhyTestCase):

    def test_every_kind_of_reference(self):
        for ref, label in [('gold', 'vc-east/domain-c7'),
                           ('domain-c7(Gold)', 'vc-east/domain-c7'),
                           ('domain-c12', 'vc-west/domain-c12'),
                           (C7, 'vc-east/domain-c7'),
                           ('vc-west/domain-c7', 'vc-west/domain-c7')]:
            found = self.why(ref)
            self.assertEqual(label, found['web']['why']['cluster'], ref)

    def bad(self, ref):
        status, text = self.run_cli('--why', ref)
        self.assertEqual(2, status)
        self.assertEqual('', text)
        lines = self.stderr.getvalue().splitlines()
        self.stderr.truncate(0)
        self.stderr.seek(0)
        self.assertEqual(1, len(lines), lines)
        self.assertTrue(lines[0].startswith(
            'nova-vmw-sched simulate: --why: '), lines[0])
        return lines[0]

    def test_bad_references_exit_2(self):
        self.assertIn('domain-c99 matches no cluster of the scenario',
                      self.bad('domain-c99'))
        self.assertIn('domain-c7 matches 2 clusters (vc-east/domain-c7, '
                      'vc-west/domain-c7)', self.bad('domain-c7'))
        self.assertIn("alias 'silver' is not defined in "
                      "[vmware_scheduler] cluster_aliases",
                      self.bad('silver'))
        self.assertIn("'bad!' is neither a cluster", self.bad('bad!'))
        self.assertIn('domain-c7.0b9e3f4d-8a21-4c57-b6e0-000000000000 '
                      'matches no cluster',
                      self.bad('domain-c7.0b9e3f4d-8a21-4c57-b6e0-'
                               '000000000000'))

    def test_not_with_compare_topologies(self):
        status, _text = self.run_cli('--why', 'gold', '--compare-topologies')
        self.assertEqual(2, status)
        self.assertIn('--why: not with --compare-topologies',
                      self.stderr.getvalue())


def _counts(line):
    """The total and the counts of a summary line."""
    head, parts = line.split(': ', 1)
    passed, total = re.fullmatch(r'(\d+)/(\d+) clusters', head).groups()
    counts = [int(p.split(' ', 1)[0]) for p in parts.split(', ')]
    return int(passed), int(total), counts


class TestSummary(test_cli.CliTestCase):

    def test_shipped_scenario(self):
        doc = self.json_of()
        failed = [r for r in doc['requests'] if not r['ok']]
        self.assertEqual(['lab-test'], [r['name'] for r in failed])
        self.assertEqual('0/7 clusters: 6 VMwareClusterFilter (not listed), '
                         '1 placement (disabled)', failed[0]['summary'])
        self.assertEqual([], [r['name'] for r in doc['requests']
                              if r['ok'] and 'summary' in r])
        status, text = self.run_cli()
        self.assertIn('  summary: 0/7 clusters: 6 VMwareClusterFilter (not '
                      'listed), 1 placement (disabled)\n', text)

    def test_every_cluster_counted_once_by_reason(self):
        data = _estate()
        clusters = data['vcenters']['vc1']['clusters']
        for moref in ('domain-c9', 'domain-c10', 'domain-c11'):
            clusters[moref] = {'hosts': [{'cpus': 32, 'memory_mb': 65536,
                                          'count': 2}]}
        data['services'] = {
            'svc1': {'clusters': ['vc1/domain-c7', 'vc1/domain-c8',
                                  'vc1/domain-c11']},
            'down': {'clusters': ['vc1/domain-c9'], 'state': 'down'},
            'off': {'clusters': ['vc1/domain-c10'], 'disabled': True},
        }
        data['server_groups'] = {'web': {'policy': 'anti-affinity'}}
        data['instances'] = {
            'web-0': {'cluster': 'vc1/domain-c8', 'group': 'web'},
            'web-1': {'cluster': 'vc1/domain-c11', 'group': 'web'}}
        data['requests'] = [{'name': 'web', 'flavor': 'mid',
                             'group': 'web'}]
        doc = self.json_of(self.scenario(data))
        (request,) = doc['requests']
        self.assertFalse(request['ok'])
        line = request['summary']
        self.assertEqual(
            '0/5 clusters: 2 ServerGroupAntiAffinityFilter (group web), '
            '1 ComputeFilter (service down), 1 VMwareClusterCapacityFilter '
            '(HA reserve), 1 placement (disabled)', line)
        passed, total, counts = _counts(line)
        self.assertEqual(total, passed + sum(counts))
        self.assertEqual(len(clusters), total)

    def test_clusters_beyond_placement_limit_are_counted(self):
        data = _estate()
        data['config']['scheduler'] = {'max_placement_results': 1}
        data['vcenters']['vc1']['clusters']['domain-c7']['used'] = {}
        data['server_groups'] = {'web': {'policy': 'anti-affinity'}}
        data['instances'] = {'web-0': {'cluster': 'vc1/domain-c7',
                                       'group': 'web'}}
        data['requests'] = [{'name': 'web', 'flavor': 'mid',
                             'group': 'web'}]
        doc = self.json_of(self.scenario(data))
        self.assertEqual(
            '0/2 clusters: 1 ServerGroupAntiAffinityFilter (group web), 1 '
            'placement (max_placement_results)', doc['requests'][0]['summary'])

    def test_a_move_counts_the_source_host_it_leaves_out(self):
        data = _estate()
        clusters = data['vcenters']['vc1']['clusters']
        clusters['domain-c9'] = {'hosts': [{'cpus': 32, 'memory_mb': 65536,
                                            'count': 2}]}
        data['services']['down'] = {'clusters': ['vc1/domain-c9'],
                                    'state': 'down'}
        data['instances'] = {'vm': {'cluster': 'vc1/domain-c7',
                                    'flavor': 'mid'}}
        data['requests'] = [{'name': 'lm', 'action': 'live-migrate',
                             'instance': 'vm'}]
        doc = self.json_of('--why', 'domain-c8', self.scenario(data))
        (request,) = doc['requests']
        self.assertEqual('0/3 clusters: 2 ignore_hosts (source host), 1 '
                         'ComputeFilter (service down)', request['summary'])
        (entry,) = request['why']['instances']
        self.assertEqual('ignore_hosts', entry['not_seen'])
        self.assertIn('nova leaves service host svc1 out of this live '
                      'migration', entry['reason'])
