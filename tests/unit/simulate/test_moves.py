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

"""simulate: requests that migrate, resize or evacuate a named instance."""

import copy
import json
import os

import fixtures

from tests.unit.simulate import test_cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
VC = '6f1c2a6e-2f6b-4c39-9d55-3b1f4c1e7a01'

ESTATE = {
    'version': 1,
    'vcenters': {'vc1': {'uuid': VC, 'clusters': {
        'domain-c%d' % n: {'hosts': [{'cpus': 16, 'memory_mb': m}]}
        for n, m in ((1, 8192), (2, 7168), (3, 6144), (4, 5120))}}},
    'services': {'svc-a': {'clusters': [
        'vc1/domain-c%d' % n for n in (1, 2, 3, 4)]}},
    'flavors': {
        'small': {'vcpus': 1, 'memory_mb': 512},
        'big': {'vcpus': 1, 'memory_mb': 1024},
        'one': {'vcpus': 1, 'memory_mb': 512,
                'extra_specs': {'vmware:cluster': 'domain-c2'}}},
    'server_groups': {'anti': {'policy': 'anti-affinity'}},
    'instances': {'old': {'cluster': 'vc1/domain-c4'}},
    'requests': [
        {'name': 'web', 'flavor': 'small'},
        {'name': 'web-away', 'action': 'migrate', 'instance': 'web'},
        {'name': 'web-again', 'action': 'migrate', 'instance': 'web'},
        {'name': 'pinned', 'flavor': 'one'},
        {'name': 'pinned-away', 'action': 'migrate', 'instance': 'pinned'},
        {'name': 'g', 'flavor': 'small', 'group': 'anti', 'count': 3},
        {'name': 'g-move', 'action': 'migrate', 'instance': 'g-1'},
        {'name': 'web-bigger', 'action': 'resize', 'instance': 'web',
         'flavor': 'big'},
        {'name': 'web-evac', 'action': 'evacuate', 'instance': 'web'},
    ]}


class TestMoves(test_cli.CliTestCase):

    def outcomes(self, data, *args):
        report = self.json_of(self.scenario(data), *args)
        return [(r['name'], r['outcome'], r.get('failure'))
                for r in report['requests']]

    def test_moves_in_a_shared_service(self):
        got = {name: (outcome, failure)
               for name, outcome, failure in self.outcomes(ESTATE)}
        c = 'vc1/domain-c%d'
        self.assertEqual([c % 1], got['web'][0])
        # a cold migration leaves its cluster, each time
        self.assertEqual([c % 2], got['web-away'][0])
        self.assertEqual([c % 3], got['web-again'][0])
        # the only listed cluster is the source
        self.assertEqual(['NoValidHost'], got['pinned-away'][0])
        self.assertIn('VMwareClusterMoveFilter', got['pinned-away'][1])
        # the anti-affinity member goes to the one cluster without a member
        self.assertEqual([c % 4, c % 1, c % 3], got['g'][0])
        self.assertEqual([c % 2], got['g-move'][0])
        # nova leaves out the whole source service: with one service for
        # all clusters, nothing is left
        for name in ('web-bigger', 'web-evac'):
            self.assertEqual(['NoValidHost'], got[name][0])
            self.assertIn('which nova leaves out', got[name][1])

    def test_resize_to_the_same_host_allowed(self):
        # the documented setup, plus the option nova-api reads
        with open(os.path.join(ROOT, 'etc', 'nova.conf.example')) as f:
            example = f.read()
        conf = self.file('nova.conf', example + '\n[DEFAULT]\n'
                         'allow_resize_to_same_host = True\n')
        data = copy.deepcopy(ESTATE)
        data['flavors']['big']['extra_specs'] = {
            'vmware:cluster': 'domain-c3'}
        got = dict((n, o) for n, o, _f in self.outcomes(
            data, '--config-file', conf))
        # web is on c3 after two migrations: the resize may stay there
        self.assertEqual(['vc1/domain-c3'], got['web-bigger'])

    def test_compare_topologies_names_the_moves_nova_decides(self):
        status, text = self.run_cli(self.scenario(ESTATE),
                                    '--compare-topologies')
        self.assertEqual(1, status)
        # only the resize and the evacuation depend on the topology: nova
        # leaves out the source service host before the filters run
        self.assertIn('[8] web-bigger', text)
        self.assertIn('[9] web-evac', text)
        self.assertIn('2 of 9 requests end differently', text)

    def test_table_names_the_move(self):
        status, text = self.run_cli(self.scenario(ESTATE))
        self.assertEqual(0, status, self.stderr.getvalue())
        self.assertIn('[2] web-away: migrate web', text)
        self.assertIn('[8] web-bigger: resize web to big (1 vCPU, 1024 MB)',
                      text)
        self.assertIn('source cluster of the move', text)

    def test_move_of_an_instance_whose_boot_failed(self):
        data = copy.deepcopy(ESTATE)
        data['flavors']['huge'] = {'vcpus': 1, 'memory_mb': 65536}
        data['requests'] = [
            {'name': 'big-one', 'flavor': 'huge'},
            {'name': 'move-it', 'action': 'migrate', 'instance': 'big-one'}]
        got = self.outcomes(data)
        self.assertEqual('NoValidHost', got[1][1][0])
        self.assertIn('does not exist', got[1][2])

    def test_bad_moves(self):
        cases = [
            ({'action': 'migrate'}, 'requests[0].instance: required field'),
            ({'action': 'migrate', 'instance': 'nope'},
             "no instance 'nope'"),
            ({'action': 'teleport', 'instance': 'old'},
             "'teleport' is not one of: boot, migrate, resize"),
            ({'action': 'resize', 'instance': 'web'},
             'requests[0].flavor: required field is missing'),
            ({'action': 'migrate', 'instance': 'web', 'flavor': 'big'},
             'only a resize changes the flavor'),
            ({'action': 'resize', 'instance': 'web', 'flavor': 'small'},
             'nova refuses a resize to the same flavor'),
            ({'action': 'migrate', 'instance': 'web', 'group': 'anti'},
             "a move takes the instance's own server group"),
            ({'action': 'evacuate', 'instance': 'web', 'count': 2},
             "a move takes the instance's own count"),
            ({'flavor': 'small', 'instance': 'web'},
             'only a move names an instance'),
            ({'action': 'migrate', 'instance': 'old'},
             "instance 'old' has no flavor"),
            ({'name': 'x'}, 'requests[0].flavor: required field is missing'),
        ]
        for request, words in cases:
            data = copy.deepcopy(ESTATE)
            data['instances']['web'] = {'cluster': 'vc1/domain-c1',
                                        'flavor': 'small'}
            data['requests'] = [request]
            self.stderr.seek(0)
            self.stderr.truncate()
            status, _text = self.run_cli(self.scenario(data))
            err = self.stderr.getvalue()
            self.assertEqual(2, status, (request, err))
            self.assertNotIn('Traceback', err)
            self.assertIn(words, err, request)


class TestScaleGuard(test_cli.CliTestCase):

    def test_more_clusters_than_max_placement_results(self):
        data = copy.deepcopy(ESTATE)
        data['config'] = {'scheduler': {'max_placement_results': 3}}
        data['requests'] = [{'name': 'web', 'flavor': 'one'}]
        report = self.json_of(self.scenario(data))
        warnings = report['setups'][0]['warnings']
        self.assertEqual(1, len(warnings))
        self.assertIn('4 clusters, more than [scheduler] '
                      'max_placement_results = 3', warnings[0])
        status, text = self.run_cli(self.scenario(data))
        self.assertIn('  WARNING: 4 clusters', text)
        # at or below the limit: nothing
        data['config'] = {'scheduler': {'max_placement_results': 4}}
        report = self.json_of(self.scenario(data))
        self.assertEqual([], report['setups'][0]['warnings'])


class TestListedFirst(test_cli.CliTestCase):

    def test_rejections_of_a_pinned_request_list_its_clusters_first(self):
        data = copy.deepcopy(ESTATE)
        for n in (1, 2):
            data['vcenters']['vc1']['clusters']['domain-c%d' % n][
                'hosts'] = [{'cpus': 16, 'memory_mb': 1024}]
        data['flavors']['wide'] = {
            'vcpus': 1, 'memory_mb': 2048,
            'extra_specs': {'vmware:cluster': 'domain-c2,domain-c1'}}
        data['requests'] = [{'name': 'w', 'flavor': 'wide'}]
        report = self.json_of(self.scenario(data))
        result = report['requests'][0]
        self.assertEqual(['vc1/domain-c2', 'vc1/domain-c1'],
                         result['listed'])
        self.assertEqual(
            ['vc1/domain-c2', 'vc1/domain-c1', 'vc1/domain-c3',
             'vc1/domain-c4'],
            [r['cluster'] for r in result['rejected']])
        status, text = self.run_cli(self.scenario(data), '--max-rejections',
                                    '2')
        rejected = text[text.index('rejected:'):].splitlines()[1:3]
        self.assertIn('vc1/domain-c2', rejected[0])
        self.assertIn('vc1/domain-c1', rejected[1])

    def test_verbose_shows_the_explanation_line(self):
        data = copy.deepcopy(ESTATE)
        data['requests'] = [
            {'name': 'pinned', 'flavor': 'one'},
            {'name': 'pinned-away', 'action': 'migrate',
             'instance': 'pinned'}]
        status, text = self.run_cli(self.scenario(data), '--verbose')
        self.assertEqual(0, status, self.stderr.getvalue())
        log = text[text.index('[2] pinned-away'):]
        self.assertIn('  log:\n    INFO nova_vmw_sched.explain: No host left '
                      'for instance', log)
        self.assertIn('VMwareClusterMoveFilter: source cluster of the move',
                      log)
        report = self.json_of(self.scenario(data), '--verbose')
        self.assertIn('No host left', report['requests'][1]['log'][0])
        self.assertEqual([], report['requests'][0]['log'])
        # without --verbose: no log lines
        status, text = self.run_cli(self.scenario(data))
        self.assertNotIn('  log:', text)


class TestJsonAlwaysValid(test_cli.CliTestCase):

    def test_totals_and_an_error_object_when_a_run_fails_midway(self):
        from nova_vmw_sched.simulate import engine
        data = copy.deepcopy(ESTATE)
        report = self.json_of(self.scenario(data))
        self.assertEqual({'requests': 9, 'placed': 6, 'failed': 3},
                         report['totals'])
        original = engine.Simulation.step

        def step(sim, index, request):
            if index == 2:
                raise engine.SimulationError('request 3 broke')
            return original(sim, index, request)

        self.useFixture(fixtures.MonkeyPatch(
            'nova_vmw_sched.simulate.engine.Simulation.step', step))
        for args in (('--format', 'json'),
                     ('--format', 'json', '--compare-topologies')):
            status, text = self.run_cli(self.scenario(data), *args)
            self.assertEqual(2, status)
            doc = json.loads(text)
            self.assertIn('request 3 broke', doc['error']['message'])
            if '--compare-topologies' not in args:
                self.assertEqual(2, doc['totals']['requests'])
