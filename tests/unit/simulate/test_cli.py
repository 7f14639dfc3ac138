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

"""``nova-vmw-sched simulate``, run in process."""

import copy
import io
import json
import os

import fixtures
import yaml

from nova import test

from nova_vmw_sched.cmd import main as cli
from nova_vmw_sched.cmd import progress as progress_mod
from tests.unit.simulate import test_scenario

STOCK_CONF = '\n'.join([
    '[filter_scheduler]',
    'available_filters = nova.scheduler.filters.all_filters',
    'enabled_filters = ' + ','.join([
        'ComputeFilter', 'ServerGroupAntiAffinityFilter',
        'ServerGroupAffinityFilter', 'SameHostFilter',
        'DifferentHostFilter']),
    'weight_classes = nova.scheduler.weights.all_weighers',
    ''])


class _Fake(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


class CliTestCase(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.stderr = io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', self.stderr))

    def file(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, 'w') as f:
            f.write(text)
        return path

    def scenario(self, data):
        return self.file('estate.yaml', yaml.safe_dump(data))

    def run_cli(self, *args):
        out = io.StringIO()
        status = cli.main(['simulate', '--no-progress'] + list(args), out)
        return status, out.getvalue()

    def json_of(self, *args):
        status, text = self.run_cli('--format', 'json', *args)
        self.assertEqual(0, status, self.stderr.getvalue())
        return json.loads(text)


class TestShippedScenario(CliTestCase):

    def test_table(self):
        status, text = self.run_cli()
        self.assertEqual(0, status, self.stderr.getvalue())
        self.assertIn('Scenario: ', text)
        self.assertIn('[1] web: 3 x m1.large', text)
        self.assertIn('ComputeFilter', text)
        # nova's filters give no reason; ours give check()'s
        self.assertIn('rejected by ComputeFilter', text)
        self.assertIn('ServerGroupAntiAffinityFilter  anti-affinity: 1 group '
                      'member(s) on its cluster, at most 1 allowed', text)
        self.assertIn('service compute-east-lab is disabled (lab rebuild): '
                      'nova asks placement only for nodes without '
                      'COMPUTE_STATUS_DISABLED', text)
        self.assertIn('placement', text)
        self.assertIn('NoValidHost, no cluster left after '
                      'VMwareClusterFilter', text)
        self.assertIn('8 requests placed, 1 failed (NoValidHost).', text)
        self.assertNotIn('Traceback', self.stderr.getvalue())

    def test_json(self):
        doc = self.json_of()
        self.assertEqual('as-written', doc['topology'])
        self.assertEqual('configured', doc['setups'][0]['name'])
        web = doc['requests'][0]
        self.assertEqual('web', web['name'])
        self.assertTrue(web['ok'])
        self.assertEqual(3, len(web['outcome']))
        self.assertEqual(3, len(set(web['outcome'])))
        by = {r['cluster']: r for r in web['rejected']}
        self.assertEqual('ComputeFilter', by['vc-west/domain-c13']['by'])
        self.assertEqual('ServerGroupAntiAffinityFilter',
                         by['vc-east/domain-c7']['by'])
        first = web['instances'][0]['candidates'][0]
        self.assertEqual(web['outcome'][0], first['cluster'])
        self.assertAlmostEqual(first['weight'],
                               sum(first['weighers'].values()))

    def test_compare_topologies_agree(self):
        status, text = self.run_cli('--compare-topologies')
        self.assertEqual(0, status, self.stderr.getvalue())
        self.assertIn('configured setup: all 9 requests end the same in '
                      'every topology.', text)

    def test_against_stock_side_by_side(self):
        status, text = self.run_cli('--against-stock')
        self.assertEqual(0, status, self.stderr.getvalue())
        self.assertIn('stock nova: NoValidHost (no cluster left after '
                      'ServerGroupAntiAffinityFilter)   <- differs', text)
        self.assertIn('left out (not in stock nova): ', text)

    def test_compare_with_stock_reports_but_exits_on_configured(self):
        doc = self.json_of('--compare-topologies', '--against-stock')
        self.assertEqual(0, doc['divergent']['configured'])
        self.assertGreater(doc['divergent']['stock'], 0)
        self.assertEqual(0, doc['exit_status'])


class TestDivergence(CliTestCase):

    def test_stock_filters_diverge_and_exit_1(self):
        conf = self.file('nova.conf', STOCK_CONF)
        status, text = self.run_cli('--config-file', conf,
                                    '--compare-topologies')
        self.assertEqual(1, status, self.stderr.getvalue())
        self.assertIn('[1] web (configured setup) differs:', text)
        self.assertIn('no cluster left after ServerGroupAntiAffinityFilter',
                      text)
        self.assertIn('end differently across topologies', text)

    def test_stock_filters_without_a_shared_service_agree(self):
        data = copy.deepcopy(test_scenario.MINIMAL)
        data['services'] = {'a': {'clusters': ['vc1/domain-c7']},
                            'b': {'clusters': ['vc1/domain-c8']}}
        data['vcenters']['vc2'] = {'clusters': {'domain-c7': {
            'hosts': [{'cpus': 32, 'memory_mb': 262144}]}}}
        data['services']['c'] = {'clusters': ['vc2/domain-c7']}
        conf = self.file('nova.conf', STOCK_CONF)
        status, text = self.run_cli('--config-file', conf,
                                    '--compare-topologies',
                                    '--topology', 'per-cluster',
                                    self.scenario(data))
        # per-vcenter puts vc1's two clusters under one service: stock
        # anti-affinity then refuses the second member
        self.assertEqual(1, status, text)
        self.assertIn('per-vcenter  NoValidHost', text)


class TestExplanations(CliTestCase):

    def test_placement_consumption_and_rollback(self):
        data = copy.deepcopy(test_scenario.MINIMAL)
        data['flavors']['big'] = {'vcpus': 32, 'memory_mb': 200000}
        for spec in data['vcenters']['vc1']['clusters'].values():
            spec['ha_policy'] = 'none'
        data['server_groups'] = {}
        data['instances'] = {}
        data['requests'] = [
            {'name': 'too-many', 'flavor': 'big', 'count': 4},
            {'name': 'a', 'flavor': 'big'},
            {'name': 'b', 'flavor': 'big'},
            {'name': 'c', 'flavor': 'big'},
            {'name': 'd', 'flavor': 'big'},
        ]
        doc = self.json_of(self.scenario(data))
        outcomes = [r['outcome'] for r in doc['requests']]
        # c7 has one host (room for one), c8 two: 3 fit, not 4; the failed
        # request leaves nothing behind, so a, b, c still fit
        self.assertEqual(['NoValidHost'], outcomes[0])
        self.assertEqual(
            ['vc1/domain-c7', 'vc1/domain-c8', 'vc1/domain-c8'],
            sorted(o[0] for o in outcomes[1:4]))
        self.assertEqual(['NoValidHost'], outcomes[4])
        refused = doc['requests'][4]['rejected']
        self.assertEqual({'placement'}, {r['by'] for r in refused})
        self.assertIn('does not fit', refused[0]['reason'])

    def test_fallback_reason_for_a_silent_filter(self):
        data = copy.deepcopy(test_scenario.MINIMAL)
        data['requests'] = [{'name': 'apart', 'flavor': 'small',
                             'hints': {'different_host': 'web-0'}}]
        conf = self.file('nova.conf', STOCK_CONF)
        doc = self.json_of('--config-file', conf, self.scenario(data))
        rejected = doc['requests'][0]['rejected']
        self.assertEqual(['vc1/domain-c7', 'vc1/domain-c8'],
                         sorted(r['cluster'] for r in rejected))
        self.assertEqual({'rejected by DifferentHostFilter'},
                         {r['reason'] for r in rejected})

    def test_maintenance_host_is_not_capacity(self):
        data = copy.deepcopy(test_scenario.MINIMAL)
        test_scenario.cluster7(data)['hosts'] = [
            {'cpus': 8, 'memory_mb': 16384},
            {'cpus': 64, 'memory_mb': 524288, 'maintenance': True}]
        data['flavors']['wide'] = {'vcpus': 16, 'memory_mb': 8192}
        data['requests'] = [{'flavor': 'wide'}]
        doc = self.json_of(self.scenario(data))
        self.assertEqual(['vc1/domain-c8'], doc['requests'][0]['outcome'])
        reason = doc['requests'][0]['rejected'][0]['reason']
        self.assertIn('max_unit 8', reason)


class TestErrors(CliTestCase):

    def assertUsageError(self, *args, words=()):
        status, _text = self.run_cli(*args)
        self.assertEqual(2, status)
        err = self.stderr.getvalue()
        self.assertNotIn('Traceback', err)
        for word in words:
            self.assertIn(word, err)

    def test_bad_scenario(self):
        data = copy.deepcopy(test_scenario.MINIMAL)
        data['flavors']['small']['vcpus'] = 'two'
        path = self.scenario(data)
        self.assertUsageError(path, words=(
            '%s: flavors.small.vcpus: expected an integer' % path,))

    def test_every_problem_line_names_the_command_and_file(self):
        data = copy.deepcopy(test_scenario.MINIMAL)
        data['flavors']['small']['vcpus'] = 'two'
        data['requests'] = [{'flavor': 'nope'}, {'flavor': 'nada'}]
        path = self.scenario(data)
        self.assertUsageError(path)
        lines = self.stderr.getvalue().splitlines()
        self.assertEqual(3, len(lines), lines)
        for line in lines:
            self.assertTrue(line.startswith(
                'nova-vmw-sched simulate: %s: ' % path), line)

    def test_missing_section_is_said_once(self):
        path = self.scenario({'version': 1})
        self.assertUsageError(path)
        lines = self.stderr.getvalue().splitlines()
        for section in ('vcenters', 'services', 'flavors', 'requests'):
            self.assertEqual(
                ['nova-vmw-sched simulate: %s: %s: required field is '
                 'missing' % (path, section)],
                [line for line in lines if ': %s' % section in line])

    def test_missing_scenario(self):
        self.assertUsageError('/nonexistent.yaml',
                              words=('/nonexistent.yaml: cannot read',))

    def test_missing_config_file(self):
        self.assertUsageError('--config-file', '/nonexistent.conf',
                              words=('--config-file /nonexistent.conf',))

    def test_unknown_filter(self):
        conf = self.file('nova.conf', '[filter_scheduler]\n'
                         'enabled_filters = NoSuchFilter\n')
        self.assertUsageError('--config-file', conf,
                              words=('NoSuchFilter',))

    def test_bad_generate(self):
        self.assertUsageError('--generate', '10', words=('--generate',))

    def test_requests_with_generate(self):
        ask = self.file('ask.yaml', 'requests: []\n')
        self.assertUsageError('--generate', '6:5:3', '--requests', ask,
                              words=('not both',))

    def test_requests_file(self):
        data = copy.deepcopy(test_scenario.MINIMAL)
        asked = data.pop('requests')
        estate = self.file('estate.json', json.dumps(dict(data,
                                                          requests=[])))
        ask = self.file('ask.yaml', yaml.safe_dump({'requests': asked}))
        with_file = self.json_of(estate, '--requests', ask)
        inline = self.json_of(self.scenario(test_scenario.MINIMAL))
        self.assertEqual([r['outcome'] for r in inline['requests']],
                         [r['outcome'] for r in with_file['requests']])
        self.assertEqual(len(asked), len(with_file['requests']))

    def test_generate(self):
        status, text = self.run_cli('--generate', '6:5:3')
        self.assertEqual(0, status, self.stderr.getvalue())
        self.assertIn('generated:6:5:3 (6 clusters', text)


class TestProgress(test.NoDBTestCase):

    def test_only_on_a_terminal(self):
        quiet = _Fake(False)
        progress = progress_mod.Progress(quiet)
        progress(1, 2)
        progress(2, 2)
        self.assertEqual('', quiet.getvalue())
        loud = _Fake(True)
        progress = progress_mod.Progress(loud)
        progress(1, 2)
        progress(2, 2)
        self.assertIn('\r[', loud.getvalue())
        self.assertIn('2/2 requests', loud.getvalue())
        quiet = progress_mod.Progress(loud, enabled=False)
        self.assertEqual('', quiet(1, 2) or '')


class TestHostileInputs(CliTestCase):
    """Inputs that once ended in a traceback end with exit 2 and one line
    per problem naming the file and the field."""

    def assertRefused(self, data, *words, args=()):
        self.stderr.seek(0)
        self.stderr.truncate()
        status, _text = self.run_cli(self.scenario(data), *args)
        err = self.stderr.getvalue()
        self.assertEqual(2, status, err)
        self.assertNotIn('Traceback', err)
        for word in words:
            self.assertIn(word, err)
        for line in err.splitlines():
            self.assertTrue(line.startswith('nova-vmw-sched simulate: '),
                            line)

    def test_lists_and_mappings_where_names_belong(self):
        for odd, kind in ((['vc1/domain-c7'], 'a list'), ({'a': 1},
                                                          'a mapping')):
            data = copy.deepcopy(test_scenario.MINIMAL)
            data['services']['svc1']['clusters'] = [odd, 'vc1/domain-c8']
            self.assertRefused(data, 'services.svc1.clusters[0]: expected '
                               'a cluster (vcenter/domain-cN), got ' + kind)
            data = copy.deepcopy(test_scenario.MINIMAL)
            data['requests'][0]['hints'] = {'same_host': [odd]}
            self.assertRefused(data, 'hints.same_host[0]: expected an '
                               'instance name, got ' + kind)

    def test_huge_numbers_are_refused_before_anything_is_built(self):
        cluster = ('vcenters', 'vc1', 'clusters', 'domain-c7')
        for path, value, words in (
                (cluster + ('disk_gb',), 10 ** 400,
                 'disk_gb: a 401-digit number is out of range'),
                (cluster + ('reserved', 'memory_mb'), 2 ** 60,
                 'out of range (0 to 1125899906842624)'),
                (('requests', 0, 'count'), 10 ** 12,
                 'count: 1000000000000 is out of range (1 to 1000)'),
                (('flavors', 'small', 'disk_gb'), 10 ** 30,
                 'disk_gb: a 31-digit number is out of range')):
            data = copy.deepcopy(test_scenario.MINIMAL)
            target = data
            for key in path[:-1]:
                target = target[key] if isinstance(key, int) else \
                    target.setdefault(key, {})
            target[path[-1]] = value
            self.assertRefused(data, words)

    def test_two_vcenters_with_one_uuid(self):
        data = copy.deepcopy(test_scenario.MINIMAL)
        data['vcenters']['vc2'] = copy.deepcopy(data['vcenters']['vc1'])
        self.assertRefused(data, 'vcenters.vc2.uuid: vCenter vc1 has the '
                           'same uuid')

    def test_unreadable_config_files(self):
        data = copy.deepcopy(test_scenario.MINIMAL)
        latin = os.path.join(self.tmp, 'latin.conf')
        with open(latin, 'wb') as f:
            f.write(b'[DEFAULT]\n# caf\xe9\n')
        for path, words in ((self.tmp, 'is a directory'),
                            (latin, 'not a UTF-8 text file'),
                            (os.path.join(self.tmp, 'nope.conf'),
                             'cannot read it')):
            self.assertRefused(data, '--config-file %s: %s' % (path, words),
                               args=('--config-file', path))

    def test_scenario_from_standard_input(self):
        data = copy.deepcopy(test_scenario.MINIMAL)
        self.useFixture(fixtures.MonkeyPatch(
            'sys.stdin', io.StringIO(yaml.safe_dump(data))))
        status, text = self.run_cli('-')
        self.assertEqual(0, status, self.stderr.getvalue())
        self.assertIn('Scenario: - (', text)

    def test_version(self):
        out = io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stdout', out))
        self.assertRaises(SystemExit, cli.main, ['--version'])
        self.assertTrue(out.getvalue().startswith('nova-vmw-sched '))

    def test_pins_without_the_cluster_filter_are_warned_about(self):
        data = copy.deepcopy(test_scenario.MINIMAL)
        data['flavors']['pinned'] = {
            'vcpus': 1, 'memory_mb': 512,
            'extra_specs': {'vmware:cluster': 'domain-c7'}}
        conf = self.file('nova.conf', '[filter_scheduler]\n'
                         'enabled_filters = ComputeFilter\n')
        report = self.json_of(self.scenario(data), '--config-file', conf)
        self.assertIn('flavors pinned set vmware:cluster, but '
                      'VMwareClusterFilter is not in',
                      report['setups'][0]['warnings'][0])

    def test_bad_values_in_the_config_file_name_it(self):
        data = copy.deepcopy(test_scenario.MINIMAL)
        # the scenario sets the same option: the nova.conf is still blamed
        data['config'] = {'vmware_scheduler': {
            'cluster_failover_policy': 'none'}}
        conf = self.file('nova.conf', '[vmware_scheduler]\n'
                         'cluster_failover_policy = n+1\n'
                         'cluster_aliases = gold\n')
        self.assertRefused(
            data, '--config-file %s: [vmware_scheduler] '
            'cluster_failover_policy: not valid: Valid values are' % conf,
            '--config-file %s: [vmware_scheduler] cluster_aliases: not '
            'valid: Value should be NAME:VALUE pairs' % conf,
            args=('--config-file', conf))
        self.assertNotIn('no such option', self.stderr.getvalue())

    def test_max_rejections_is_a_count(self):
        data = copy.deepcopy(test_scenario.MINIMAL)
        for bad in ('-1', 'x', '1.5'):
            err = io.StringIO()
            self.useFixture(fixtures.MonkeyPatch('sys.stderr', err))
            self.assertRaises(SystemExit, cli.main, [
                'simulate', self.scenario(data), '--max-rejections', bad])
            self.assertIn('--max-rejections: expected a whole number, 0 or '
                          'more', err.getvalue())
