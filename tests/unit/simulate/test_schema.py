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

"""The scenario format's JSON schema, the docs rendered from it, and the
values the schema refuses that the hand-written checker let through."""

import ast
import copy
import importlib.util
import os

import jsonschema
from nova import test

from nova_vmw_sched.simulate import scenario
from nova_vmw_sched.simulate import schema
from tests.unit.simulate import test_scenario

EXT = os.path.join(test_scenario.ROOT, 'doc', 'source', '_exts',
                   'scenario_fields.py')


def _extension():
    spec = importlib.util.spec_from_file_location('scenario_fields', EXT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestSchema(test.NoDBTestCase):

    def test_is_a_valid_json_schema(self):
        jsonschema.Draft202012Validator.check_schema(schema.SCHEMA)

    def test_every_part_renders_for_the_docs(self):
        """Each field has a description naming its allowed values; the
        docs build (-W) fails the same way."""
        with open(os.path.join(test_scenario.ROOT, 'doc', 'source',
                               'scenario-format.rst')) as f:
            text = f.read()
        ext = _extension()
        for part in ('scenario', 'vcenter', 'cluster', 'host', 'service',
                     'flavor', 'server_group', 'instance', 'request'):
            self.assertIn('.. scenario-fields:: %s\n' % part, text)
            lines = ext.rows(part)
            self.assertIn('   * - ``%s``' % next(iter(
                (schema.SCHEMA if part == 'scenario' else
                 schema.SCHEMA['$defs'][part])['properties'])), lines)
        self.assertIn('     - CPU threads of one host (the vmwareapi driver '
                      'reports threads as vCPUs). From 1 to 4096.',
                      ext.rows('host'))

    def test_defaults_are_those_of_the_objects(self):
        defs = schema.SCHEMA['$defs']

        def defaults(part, *fields):
            return {f: defs[part]['properties'][f]['default']
                    for f in fields}
        props = defs['cluster']['properties']
        self.assertEqual(scenario.Amounts()._asdict(), {
            f: s['default'] for f, s in props['used']['properties'].items()})
        self.assertEqual(scenario.DEFAULT_RESERVED._replace(instances=0),
                         scenario.Amounts(**{
                             f: s['default'] for f, s in
                             props['reserved']['properties'].items()}))
        self.assertEqual(scenario.Ratios()._asdict(), {
            f: s['default'] for f, s in
            props['allocation_ratios']['properties'].items()})
        host = scenario.Host(1, 1)
        self.assertEqual((host.count, host.maintenance),
                         tuple(defaults('host', 'count', 'maintenance')
                               .values()))
        service = scenario.Service('s', ())
        self.assertEqual((service.state, service.disabled),
                         tuple(defaults('service', 'state', 'disabled')
                               .values()))
        flavor = scenario.Flavor('f', 1, 1)
        self.assertEqual((flavor.disk_gb, flavor.ephemeral_gb),
                         tuple(defaults('flavor', 'disk_gb', 'ephemeral_gb')
                               .values()))
        request = scenario.Request('r', 'f')
        self.assertEqual((request.action, request.count),
                         tuple(defaults('request', 'action', 'count')
                               .values()))

    def test_schema_imports_no_other_simulate_module(self):
        """scenario imports schema, never the other way round."""
        with open(schema.__file__) as f:
            tree = ast.parse(f.read())
        imported = [alias.name for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom)
                    for alias in node.names if node.module and
                    node.module.startswith('nova_vmw_sched.simulate')]
        self.assertEqual([], imported)


class TestRefusedNow(test_scenario.MinimalChangedCase):
    """Values the hand-written checker dropped or accepted silently."""

    def test_null_where_a_name_is_needed(self):
        for change, line in (
                (lambda d: d['requests'][0].update(flavor=None),
                 'x.yaml: requests[0].flavor: expected a non-empty string, '
                 'got an empty value'),
                (lambda d: d['instances']['web-0'].update(cluster=None),
                 'x.yaml: instances.web-0.cluster: expected a non-empty '
                 'string, got an empty value'),
                (lambda d: d['requests'].append(
                    {'action': 'migrate', 'instance': None}),
                 'x.yaml: requests[1].instance: expected a non-empty '
                 'string, got an empty value'),
                (lambda d: d.update(version=True),
                 'x.yaml: version: unsupported format version True')):
            self.assertIn(line, self.problems(change))

    def test_a_null_request_name_is_the_default(self):
        data = copy.deepcopy(test_scenario.MINIMAL)
        data['requests'][0]['name'] = None
        self.assertEqual('request-1',
                         scenario.from_data(data).requests[0].name)

    def test_messages_of_the_schema(self):
        cluster = 'vcenters.vc1.clusters.domain-c7'
        for change, line in (
                (lambda d: d['vcenters'].update(vc1={'clusters': {}}),
                 'vcenters.vc1.clusters: expected a mapping of cluster '
                 'morefs (domain-cN), got an empty mapping'),
                (lambda d: test_scenario.cluster7(d)['hosts'][0].update(
                    cpus=4.0),
                 cluster + '.hosts[0].cpus: expected an integer, got a '
                 'number'),
                (lambda d: test_scenario.cluster7(d).update(
                    allocation_ratios={'vcpu': float('nan')}),
                 cluster + '.allocation_ratios.vcpu: expected a number, '
                 'got NaN'),
                (lambda d: d['services']['svc1'].update(state=None),
                 'services.svc1.state: expected a non-empty string, got an '
                 'empty value'),
                (lambda d: d['flavors']['small'].update(extra_specs={
                    'hw:cpu_policy': ['dedicated']}),
                 'flavors.small.extra_specs.hw:cpu_policy: expected a '
                 'scalar value, got a list')):
            self.assertIn('x.yaml: ' + line, self.problems(change))
