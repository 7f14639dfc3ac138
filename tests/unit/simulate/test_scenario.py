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

"""Loading and validating scenario files."""

import copy
import json
import os

import fixtures
import yaml

from nova import test

from nova_vmw_sched.simulate import scenario

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
SHIPPED = os.path.join(ROOT, 'nova_vmw_sched', 'simulate', 'data',
                       'default.yaml')
SAMPLE = os.path.join(ROOT, 'etc', 'sample-scenario.yaml')
VC = '6f1c2a6e-2f6b-4c39-9d55-3b1f4c1e7a01'

MINIMAL = {
    'version': 1,
    'vcenters': {'vc1': {'uuid': VC, 'clusters': {
        'domain-c7': {'hosts': [{'cpus': 32, 'memory_mb': 262144}]},
        'domain-c8': {'hosts': [{'cpus': 32, 'memory_mb': 262144,
                                 'count': 2}]},
    }}},
    'services': {'svc1': {'clusters': ['vc1/domain-c7', 'vc1/domain-c8']}},
    'flavors': {'small': {'vcpus': 2, 'memory_mb': 4096}},
    'server_groups': {'web': {'policy': 'anti-affinity'}},
    'instances': {'web-0': {'cluster': 'vc1/domain-c7', 'group': 'web'}},
    'requests': [{'name': 'web', 'flavor': 'small', 'group': 'web',
                  'count': 2}],
}


class MinimalChangedCase(test.NoDBTestCase):
    """problems(change): the error text of MINIMAL after ``change``."""

    def problems(self, change):
        data = copy.deepcopy(MINIMAL)
        change(data)
        e = self.assertRaises(scenario.ScenarioError, scenario.from_data,
                              data, 'x.yaml')
        return str(e)


def cluster7(data):
    return data['vcenters']['vc1']['clusters']['domain-c7']


class TestShippedScenarios(test.NoDBTestCase):

    def test_shipped_and_sample_load(self):
        for path in (SHIPPED, SAMPLE):
            loaded = scenario.load(path)
            self.assertEqual(path, loaded.source)
            self.assertGreater(len(loaded.requests), 0, path)

    def test_shipped_has_what_the_readme_promises(self):
        loaded = scenario.load(SHIPPED)
        self.assertEqual(2, len({c.vcenter for c in loaded.clusters}))
        sizes = sorted(len(s.clusters) for s in loaded.services)
        self.assertEqual(1, sizes[0])
        self.assertGreater(sizes[-1], 1)
        self.assertTrue(any('vmware:cluster' in f.extra_specs
                            for f in loaded.flavors.values()))
        self.assertTrue(loaded.groups)
        self.assertTrue(any(c.ha_policy for c in loaded.clusters))


class TestValid(test.NoDBTestCase):

    def test_minimal_with_defaults(self):
        loaded = scenario.from_data(copy.deepcopy(MINIMAL), 'x.yaml')
        c7, c8 = loaded.clusters
        self.assertEqual('vc1/domain-c7', c7.label)
        self.assertEqual('domain-c7.' + VC, c7.nodename)
        self.assertEqual(scenario.Ratios(4.0, 1.0, 1.0), c7.ratios)
        self.assertEqual(scenario.Amounts(0, 512, 0), c7.reserved)
        self.assertEqual(scenario.Amounts(), c7.used)
        self.assertIsNone(c7.disk_gb)
        self.assertIsNone(c7.ha_policy)
        self.assertEqual(2, c8.hosts[0].count)
        service = loaded.services[0]
        self.assertEqual(('up', False), (service.state, service.disabled))
        self.assertEqual(('web-1', 'web-2'),
                         loaded.requests[0].instance_names)

    def test_vcenter_uuid_is_derived_from_the_name(self):
        data = copy.deepcopy(MINIMAL)
        del data['vcenters']['vc1']['uuid']
        one = scenario.from_data(data).clusters[0]
        two = scenario.from_data(copy.deepcopy(data)).clusters[0]
        self.assertEqual(one.vcenter_uuid, two.vcenter_uuid)

    def test_policy_is_normalised(self):
        data = copy.deepcopy(MINIMAL)
        cluster7(data)['ha_policy'] = ' Percentage=30 '
        loaded = scenario.from_data(data)
        self.assertEqual('percentage=30/30', loaded.clusters[0].ha_policy)

    def test_hint_may_name_an_earlier_requests_instance(self):
        data = copy.deepcopy(MINIMAL)
        data['requests'].append({'flavor': 'small',
                                 'hints': {'different_host': ['web-2']}})
        loaded = scenario.from_data(data)
        self.assertEqual(('web-2',), loaded.requests[1].different_host)
        self.assertEqual('request-2', loaded.requests[1].name)


class TestErrors(test.NoDBTestCase):
    """Each error names the file, the field and the problem."""

    def assertProblem(self, data, path, words):
        e = self.assertRaises(scenario.ScenarioError, scenario.from_data,
                              data, 'estate.yaml')
        lines = str(e).splitlines()
        prefix = 'estate.yaml: %s: ' % path if path else 'estate.yaml: '
        matching = [line for line in lines if line.startswith(prefix)]
        self.assertTrue(matching, 'no line starts with %r in:\n%s'
                        % (prefix, e))
        for word in words:
            self.assertIn(word, matching[0])
        return e

    def mutated(self, change):
        data = copy.deepcopy(MINIMAL)
        change(data)
        return data

    def test_top_level(self):
        self.assertProblem([], '', ['expected a mapping'])
        self.assertProblem(self.mutated(lambda d: d.pop('flavors')),
                           'flavors', ['required field is missing'])
        self.assertProblem(self.mutated(lambda d: d.update(extra=1)),
                           'extra', ['unknown field', 'vcenters'])
        self.assertProblem(self.mutated(lambda d: d.update(version=2)),
                           'version', ['unsupported', '2'])

    def test_cluster_fields(self):
        cases = [
            (lambda d: cluster7(d).update(hosts=[]),
             'vcenters.vc1.clusters.domain-c7.hosts', ['non-empty list']),
            (lambda d: cluster7(d)['hosts'][0].update(cpus=0),
             'vcenters.vc1.clusters.domain-c7.hosts[0].cpus',
             ['0 is out of range']),
            (lambda d: cluster7(d)['hosts'][0].update(memory_mb='lots'),
             'vcenters.vc1.clusters.domain-c7.hosts[0].memory_mb',
             ['expected an integer', 'a string']),
            (lambda d: cluster7(d)['hosts'][0].update(maintenance='yes'),
             'vcenters.vc1.clusters.domain-c7.hosts[0].maintenance',
             ['true or false']),
            (lambda d: cluster7(d).update(used={'vcpus': -1}),
             'vcenters.vc1.clusters.domain-c7.used.vcpus',
             ['out of range']),
            (lambda d: cluster7(d).update(reserved={'instances': 1}),
             'vcenters.vc1.clusters.domain-c7.reserved.instances',
             ['unknown field']),
            (lambda d: cluster7(d).update(allocation_ratios={'vcpu': 0}),
             'vcenters.vc1.clusters.domain-c7.allocation_ratios.vcpu',
             ['out of range']),
            (lambda d: cluster7(d).update(ha_policy='host_failures=x'),
             'vcenters.vc1.clusters.domain-c7.ha_policy',
             ['not an integer']),
            (lambda d: cluster7(d).update(disk_gb=-5),
             'vcenters.vc1.clusters.domain-c7.disk_gb', ['out of range']),
            (lambda d: cluster7(d).update(colour='red'),
             'vcenters.vc1.clusters.domain-c7.colour', ['unknown field']),
        ]
        for change, path, words in cases:
            self.assertProblem(self.mutated(change), path, words)

    def test_vcenter_fields(self):
        def bad_moref(d):
            clusters = d['vcenters']['vc1']['clusters']
            clusters['cluster-7'] = clusters.pop('domain-c7')
        self.assertProblem(self.mutated(bad_moref),
                           'vcenters.vc1.clusters.cluster-7',
                           ['bad cluster moref'])
        self.assertProblem(
            self.mutated(lambda d: d['vcenters']['vc1'].update(uuid='nope')),
            'vcenters.vc1.uuid', ['not a UUID'])
        self.assertProblem(
            self.mutated(lambda d: d['vcenters'].update({'bad name': {}})),
            'vcenters.bad name', ['bad name'])

    def test_service_fields(self):
        self.assertProblem(
            self.mutated(lambda d: d['services']['svc1']['clusters'].append(
                'vc1/domain-c99')),
            'services.svc1.clusters[2]', ['no cluster', 'vc1/domain-c99'])
        self.assertProblem(
            self.mutated(lambda d: d['services'].update(
                svc2={'clusters': ['vc1/domain-c7']})),
            'services.svc2.clusters[0]', ['already managed by', 'svc1'])
        self.assertProblem(
            self.mutated(lambda d: d['services']['svc1'].update(
                clusters=['vc1/domain-c7'])),
            'services', ['vc1/domain-c8', 'not managed'])
        self.assertProblem(
            self.mutated(lambda d: d['services']['svc1'].update(
                state='sleeping')),
            'services.svc1.state', ["'sleeping'", 'up, down'])

    def test_flavor_fields(self):
        self.assertProblem(
            self.mutated(lambda d: d['flavors']['small'].pop('vcpus')),
            'flavors.small.vcpus', ['required'])
        self.assertProblem(
            self.mutated(lambda d: d['flavors']['small'].update(
                extra_specs={'vmware:cluster': 'domain-x7'})),
            'flavors.small.extra_specs.vmware:cluster',
            ['nova-api would refuse it', 'domain-x7'])

    def test_group_and_instance_fields(self):
        self.assertProblem(
            self.mutated(lambda d: d['server_groups']['web'].update(
                policy='spread')),
            'server_groups.web.policy', ["'spread'", 'anti-affinity'])
        self.assertProblem(
            self.mutated(lambda d: d['server_groups'].update(
                db={'policy': 'affinity',
                    'rules': {'max_server_per_host': 2}})),
            'server_groups.db.rules.max_server_per_host',
            ['only the anti-affinity policy'])
        self.assertProblem(
            self.mutated(lambda d: d['instances']['web-0'].update(
                cluster='vc1/domain-c9')),
            'instances.web-0.cluster', ['no cluster', 'vc1/domain-c9'])
        self.assertProblem(
            self.mutated(lambda d: d['instances']['web-0'].update(
                group='db')),
            'instances.web-0.group', ['no server group', "'db'"])

    def test_request_fields(self):
        self.assertProblem(
            self.mutated(lambda d: d['requests'][0].update(flavor='huge')),
            'requests[0].flavor', ['no flavor', "'huge'"])
        self.assertProblem(
            self.mutated(lambda d: d['requests'][0].update(count=0)),
            'requests[0].count', ['out of range'])
        self.assertProblem(
            self.mutated(lambda d: d['requests'][0].update(
                hints={'same_host': ['ghost']})),
            'requests[0].hints.same_host[0]', ['no instance', "'ghost'"])
        self.assertProblem(
            self.mutated(lambda d: d['requests'][0].update(name='web-0',
                                                           count=1)),
            'requests[0].name', ['already taken'])
        self.assertProblem(self.mutated(lambda d: d.update(requests=[])),
                           'requests', ['non-empty list'])

    def test_config_fields(self):
        self.assertProblem(
            self.mutated(lambda d: d.update(config={'vmware_scheduler': {
                'no_such_option': 1}})),
            'config.vmware_scheduler.no_such_option', ['no such option'])
        self.assertProblem(
            self.mutated(lambda d: d.update(config={'vmware_scheduler': {
                'cluster_failover_host_failures': 1000}})),
            'config.vmware_scheduler.cluster_failover_host_failures',
            ['bad value', '1000'])
        self.assertProblem(
            self.mutated(lambda d: d.update(config={'DEFAULT': {}})),
            'config.DEFAULT', ['unknown field'])

    def test_every_problem_is_listed(self):
        def two(d):
            d['flavors']['small']['vcpus'] = 0
            d['requests'][0]['count'] = 0
        e = self.assertProblem(self.mutated(two), 'flavors.small.vcpus',
                               ['out of range'])
        self.assertIn('estate.yaml: requests[0].count:', str(e))


class TestFiles(test.NoDBTestCase):

    def write(self, text):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'estate.yaml')
        with open(path, 'w') as f:
            f.write(text)
        return path

    def test_missing_file(self):
        e = self.assertRaises(scenario.ScenarioError, scenario.load,
                              '/nonexistent/estate.yaml')
        self.assertIn('/nonexistent/estate.yaml: cannot read the file',
                      str(e))

    def test_yaml_syntax_error_names_line(self):
        path = self.write('version: 1\nvcenters: [\n')
        e = self.assertRaises(scenario.ScenarioError, scenario.load, path)
        self.assertIn('%s: line ' % path, str(e))
        self.assertIn('not valid YAML', str(e))

    def test_duplicate_key_is_refused(self):
        text = yaml.safe_dump(MINIMAL).replace(
            'flavors:\n', 'flavors:\n  small: {vcpus: 1, memory_mb: 1}\n', 1)
        path = self.write(text)
        e = self.assertRaises(scenario.ScenarioError, scenario.load, path)
        self.assertIn("duplicate key 'small'", str(e))
        self.assertIn('%s: line ' % path, str(e))

    def test_loads_a_good_file(self):
        path = self.write(yaml.safe_dump(MINIMAL))
        self.assertEqual(2, len(scenario.load(path).clusters))

    def test_json_with_comment_lines_reads_as_yaml_does(self):
        # what snapshot writes: comment lines, then one JSON document
        text = '# a header\n' + json.dumps(MINIMAL, indent=1)
        path = self.write(text)
        got = scenario.load(path)
        want = scenario.from_data(yaml.safe_load(text), path)
        self.assertEqual((want.clusters, want.services, want.requests),
                         (got.clusters, got.services, got.requests))

    def test_json_syntax_error_names_line(self):
        path = self.write('# header\n{"version": 1,\n "vcenters": [\n')
        e = self.assertRaises(scenario.ScenarioError, scenario.load, path)
        self.assertIn('%s: line 4, column 1' % path, str(e))
        self.assertIn('not valid JSON', str(e))

    def test_json_duplicate_key_is_refused(self):
        path = self.write('{"version": 1, "version": 1}')
        e = self.assertRaises(scenario.ScenarioError, scenario.load, path)
        self.assertIn("duplicate key 'version'", str(e))

    def test_requests_file_adds_to_the_scenario(self):
        data = copy.deepcopy(MINIMAL)
        asked = [{'name': 'asked', 'flavor': data['requests'][0]['flavor']}]
        base = self.write(json.dumps(dict(data, requests=[])))
        ask = self.write(yaml.safe_dump({'requests': asked}))
        got = scenario.load(base, ask)
        self.assertEqual(['asked'], [r.name for r in got.requests])
        self.assertEqual('%s + %s' % (base, ask), got.source)

    def test_requests_file_with_other_keys_is_refused(self):
        base = self.write(yaml.safe_dump(MINIMAL))
        ask = self.write(yaml.safe_dump({'requests': [], 'flavors': {}}))
        e = self.assertRaises(scenario.ScenarioError, scenario.load, base,
                              ask)
        self.assertIn('%s: a requests file holds one key' % ask, str(e))

    def test_problem_in_requests_file_is_named(self):
        base = self.write(yaml.safe_dump(dict(MINIMAL, requests=[])))
        ask = self.write(yaml.safe_dump({'requests': [{'flavor': 'nope'}]}))
        e = self.assertRaises(scenario.ScenarioError, scenario.load, base,
                              ask)
        self.assertIn('requests[0].flavor', str(e))
