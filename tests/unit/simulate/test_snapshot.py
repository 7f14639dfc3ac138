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

"""``nova-vmw-sched snapshot``: what :func:`take` makes of nova's objects
and placement (stand-ins of benchmarks/snapshot.py), the scenario format's
new fields, and the command's exit status and atomic write."""

import io
import os

from keystoneauth1 import exceptions as ks_exc
from nova import context as nova_context
from nova import objects
from nova import test

import benchmarks
from benchmarks import snapshot as bench
from nova_vmw_sched.cmd import main
from nova_vmw_sched.cmd import snapshot as snapshot_cmd
from nova_vmw_sched.cmd import sync_placement
from nova_vmw_sched.simulate import engine
from nova_vmw_sched.simulate import scenario as scenario_mod
from nova_vmw_sched.simulate import snapshot

VC = '6f1c2a6e-2f6b-4c39-9d55-3b1f4c1e7a01'


def _with_requests(data, flavor):
    data = dict(data)
    data['requests'] = [{'name': 'one', 'flavor': flavor}]
    return data


class TestTake(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        objects.register_all()
        self.ctx = nova_context.get_admin_context()
        self.reader, self.placement = bench.build(130, 2)

    def take(self, **kw):
        return snapshot.take(self.ctx, self.placement, reader=self.reader,
                             **kw)

    def test_estate(self):
        data = self.take()
        # 130 clusters in one vCenter (500 a vCenter in the stand-in)
        [vc] = data['vcenters'].values()
        self.assertEqual(130, len(vc['clusters']))
        c1 = vc['clusters']['domain-c1']
        self.assertEqual({'total': 256, 'reserved': 0, 'max_unit': 64,
                          'allocation_ratio': 4.0}, c1['inventory']['VCPU'])
        # placement's usage less the listed instances' flavors: nothing
        self.assertNotIn('used', c1)
        # 64 clusters a service; one each (1 + 2 + 1): one of them down
        self.assertEqual(['compute-0', 'compute-1', 'compute-2'],
                         list(data['services']))
        self.assertEqual(64, len(data['services']['compute-0']['clusters']))
        self.assertEqual(260, len(data['instances']))
        self.assertEqual({'availability_zone': 'az-a'}, {
            k: v for k, v in data['services']['compute-0'].items()
            if k == 'availability_zone'})
        # the aggregate without a zone, joined by its host's service
        self.assertEqual({'ssd': {'metadata': {'ssd': 'true'}}},
                         data['aggregates'])
        self.assertEqual(['ssd'], data['services']['compute-0']['aggregates'])
        self.assertNotIn('aggregates', data['services']['compute-1'])
        self.assertEqual({'vmware:cluster': 'domain-c1'},
                         data['flavors']['m1.f0']['extra_specs'])
        # 1 + 2 per provider
        self.assertEqual(1 + 2 * 130, self.placement.calls)

    def test_valid_scenario_that_simulates(self):
        data = self.take()
        scenario = scenario_mod.loads(
            snapshot_cmd.dump(_with_requests(data, 'm1.f1')), 'snap')
        self.assertEqual(130, len(scenario.clusters))
        sim = engine.Simulation(scenario, engine.configured(True),
                                'as-written')
        [(result,)] = list(engine.run_together([sim], scenario.requests))
        self.assertTrue(result.ok)

    def test_used_is_what_listed_instances_do_not_explain(self):
        first = self.reader.cells()[1][0].uuid
        self.placement.usages[first]['MEMORY_MB'] += 4096
        data = self.take()
        c1 = data['vcenters']['vc1']['clusters']['domain-c1']
        self.assertEqual({'memory_mb': 4096}, c1['used'])

    def test_service_states(self):
        services, _nodes, _instances = self.reader.cells()
        services[1].disabled = True
        services[1].disabled_reason = 'firmware'
        services[2].forced_down = True
        data = self.take()['services']
        self.assertEqual({'disabled': True, 'disabled_reason': 'firmware'},
                         {k: v for k, v in data['compute-1'].items()
                          if k.startswith('disabled')})
        self.assertEqual('down', data['compute-2']['state'])
        self.assertTrue(data['compute-2']['forced_down'])
        self.assertNotIn('state', data['compute-0'])

    def test_groups_with_members_and_rules(self):
        _flavors, groups, _aggs = self.reader.api()
        old = groups[0]
        groups[0] = objects.InstanceGroup(
            self.ctx, id=old.id, uuid=old.uuid, name=old.name,
            policy=old.policy, rules={'max_server_per_host': '2'},
            project_id=old.project_id, members=old.members)
        data = self.take()
        group = data['server_groups']['group-0']
        self.assertEqual({'max_server_per_host': 2}, group['rules'])
        members = [i for i in data['instances'].values()
                   if i.get('group') == 'group-0']
        self.assertEqual(len(groups[0].members), len(members))

    def test_anonymize(self):
        _flavors, groups, aggregates = self.reader.api()
        # a zone's aggregate that also isolates a group's project
        aggregates[0].metadata['filter_tenant_id'] = groups[0].project_id
        plain = self.take()
        data = self.take(anonymize=True)
        self.assertEqual({'aggregate-1': {'metadata': {
            'filter_tenant_id': data['server_groups']['group-1'][
                'project']}}, 'aggregate-2': {'metadata': {'ssd': 'true'}}},
            data['aggregates'])
        self.assertEqual('az-a', data['services']['compute-0'][
            'availability_zone'])
        self.assertEqual(['aggregate-1', 'aggregate-2'],
                         data['services']['compute-0']['aggregates'])
        projects = {i['project'] for i in data['instances'].values()}
        self.assertTrue(all(p.startswith('project-') for p in projects))
        self.assertEqual(len({i['project'] for i in
                              plain['instances'].values()}), len(projects))
        self.assertEqual(['group-%d' % n for n in range(1, 21)],
                         list(data['server_groups']))
        # the same project the same name throughout
        group_project = data['server_groups']['group-1']['project']
        plain_project = plain['server_groups']['group-0']['project']
        for uuid, inst in plain['instances'].items():
            if inst['project'] == plain_project:
                self.assertEqual(group_project,
                                 data['instances'][uuid]['project'])

    def test_non_vmware_node_kept_as_such(self):
        _services, nodes, instances = self.reader.cells()
        nodes[5].hypervisor_hostname = 'kvm-5.example.org'
        nodes[5].hypervisor_type = 'QEMU'
        for inst in instances:
            if inst.host == nodes[5].host and inst.node.startswith(
                    'domain-c6.'):
                inst.node = 'kvm-5.example.org'
        data = self.take()
        self.assertEqual('QEMU', data['nodes']['kvm-5.example.org'][
            'hypervisor_type'])
        self.assertIn('kvm-5.example.org',
                      data['services']['compute-0']['clusters'])
        scenario = scenario_mod.from_data(_with_requests(data, 'm1.f1'))
        self.assertEqual('kvm-5.example.org',
                         scenario.by_label['kvm-5.example.org'].nodename)

    def test_free_form_names_made_valid(self):
        flavors, _groups, _aggs = self.reader.api()
        flavors[1].name = 'gold flavor (old)'
        data = self.take()
        self.assertIn('gold-flavor--old-', data['flavors'])
        scenario_mod.from_data(_with_requests(data, 'gold-flavor--old-'))

    def test_placement_error_names_the_call(self):
        class Refusing(benchmarks.Placement):
            def get(self, url, **kw):
                answer = super().get(url, **kw)
                if url.endswith('/usages'):
                    answer.status_code = 503
                    answer.text = 'busy'
                return answer
        self.placement.__class__ = Refusing
        e = self.assertRaises(snapshot.SnapshotError, self.take)
        self.assertIn('placement: GET /resource_providers/', str(e))
        self.assertIn('HTTP 503 busy', str(e))

    def test_cell_down(self):
        from nova import context as ctx_mod
        self.useFixture(test.fixtures.MockPatchObject(
            ctx_mod, 'scatter_gather_skip_cell0',
            return_value={'c1': ctx_mod.did_not_respond_sentinel}))
        reader = snapshot.NovaReader(self.ctx)
        e = self.assertRaises(snapshot.SnapshotError, reader.cells)
        self.assertEqual('cell c1 did not respond (cell down)', str(e))


class TestCommand(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        self.setup = self.useFixture(test.fixtures.MockPatchObject(
            sync_placement, 'setup', return_value=('ctxt', 'client'))).mock
        self.take = self.useFixture(test.fixtures.MockPatchObject(
            snapshot, 'take', return_value={'version': 1})).mock
        self.err = self.useFixture(test.fixtures.MockPatch(
            'sys.stderr', new_callable=io.StringIO)).mock
        self.dir = self.useFixture(test.fixtures.TempDir()).path \
            if hasattr(test.fixtures, 'TempDir') else None
        if self.dir is None:
            import fixtures
            self.dir = self.useFixture(fixtures.TempDir()).path

    def main(self, *argv):
        out = io.StringIO()
        return main.main(['snapshot', '--no-progress'] + list(argv),
                         out=out), out.getvalue()

    def test_writes_file(self):
        path = os.path.join(self.dir, 'estate.yaml')
        code, out = self.main('--config-file', 'nova.conf', '-o', path,
                              '--anonymize')
        self.assertEqual((0, ''), (code, out))
        self.setup.assert_called_once_with('nova.conf')
        self.assertTrue(self.take.call_args.kwargs['anonymize'])
        with open(path) as f:
            text = f.read()
        self.assertIn('"version": 1', text)
        self.assertEqual(['estate.yaml'], os.listdir(self.dir))

    def test_stdout(self):
        code, out = self.main()
        self.assertEqual(0, code)
        self.assertTrue(out.startswith('# A snapshot of a running nova'))

    def test_error_leaves_earlier_file(self):
        path = os.path.join(self.dir, 'estate.yaml')
        with open(path, 'w') as f:
            f.write('earlier\n')
        self.take.side_effect = ks_exc.ConnectFailure('refused')
        code, out = self.main('-o', path)
        self.assertEqual((2, ''), (code, out))
        self.assertEqual(
            'nova-vmw-sched snapshot: placement unreachable: '
            'ConnectFailure: refused\n', self.err.getvalue())
        with open(path) as f:
            self.assertEqual('earlier\n', f.read())
        self.assertEqual(['estate.yaml'], os.listdir(self.dir))

    def test_snapshot_error_one_line(self):
        self.take.side_effect = snapshot.SnapshotError(
            'cell c1 did not respond (cell down)')
        self.assertEqual(2, self.main()[0])
        self.assertEqual('nova-vmw-sched snapshot: cell c1 did not respond '
                         '(cell down)\n', self.err.getvalue())

    def test_database_unreachable(self):
        from oslo_db import exception as db_exc
        self.setup.side_effect = db_exc.DBConnectionError('no route')
        self.assertEqual(2, self.main()[0])
        self.assertEqual('nova-vmw-sched snapshot: database: '
                         'DBConnectionError: no route\n',
                         self.err.getvalue())

    def test_no_such_directory(self):
        self.assertEqual(2, self.main('-o', '/nonexistent/x.yaml')[0])
        self.assertIn('no such directory', self.err.getvalue())
        self.setup.assert_not_called()

    def test_write_failure_removes_temporary_file(self):
        path = os.path.join(self.dir, 'estate.yaml')
        self.useFixture(test.fixtures.MockPatch(
            'os.replace', side_effect=OSError(28, 'No space left')))
        self.assertEqual(2, self.main('-o', path)[0])
        self.assertEqual([], os.listdir(self.dir))


class TestFormat(test.NoDBTestCase):
    """The fields a snapshot needs, in the scenario format."""

    def data(self, cluster):
        return {
            'version': 1,
            'vcenters': {'vc1': {'uuid': VC, 'clusters': {
                'domain-c1': cluster}}},
            'services': {'s1': {'clusters': ['vc1/domain-c1'],
                                'forced_down': True, 'state': 'down'}},
            'flavors': {'f': {'vcpus': 1, 'memory_mb': 512}},
            'requests': [{'flavor': 'f'}]}

    def test_inventory(self):
        scenario = scenario_mod.from_data(self.data({'inventory': {
            'VCPU': {'total': 64, 'max_unit': 16, 'allocation_ratio': 2.0},
            'MEMORY_MB': {'total': 8192, 'reserved': 512}}}))
        [c] = scenario.clusters
        self.assertEqual(2.0, c.ratios.vcpu)
        self.assertEqual(512, c.reserved.memory_mb)
        self.assertIsNone(c.disk_gb)
        self.assertTrue(scenario.services[0].forced_down)

    def test_inventory_not_with_hosts(self):
        e = self.assertRaises(
            scenario_mod.ScenarioError, scenario_mod.from_data,
            self.data({'inventory': {'VCPU': {'total': 4}},
                       'hosts': [{'cpus': 4, 'memory_mb': 8}]}))
        self.assertIn('hosts: not with inventory', str(e))

    def test_hosts_or_inventory_required(self):
        e = self.assertRaises(scenario_mod.ScenarioError,
                              scenario_mod.from_data, self.data({}))
        self.assertIn('hosts: required field is missing (or give '
                      'inventory)', str(e))
