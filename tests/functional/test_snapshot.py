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

"""``nova-vmw-sched snapshot`` is faithful: simulate on a snapshot of nova's
real services places every instance where those services do.

In each topology an estate is built in nova's API, conductor, scheduler
and placement (pinned flavors, server groups with members, a zone, an
aggregate whose metadata weighs, a disabled service, a down service,
instances of several flavors); the
command's code path (:func:`nova_vmw_sched.simulate.snapshot.take`, then
the file the command writes) snapshots it; the same boot requests go to
the simulator, on the snapshot, and then to nova. Ties are handled as in
:mod:`tests.functional.test_simulate_differential`: where the simulator
reports one, nova's choice must be among the tied clusters and the rest of
that topology is not compared; the instances compared are counted.
"""

import os

import fixtures
import yaml

from nova import context as nova_context
from nova.scheduler.client import report

from nova_vmw_sched.cmd import snapshot as snapshot_cmd
from nova_vmw_sched.simulate import scenario as scenario_mod
from nova_vmw_sched.simulate import snapshot
from tests.functional import fake_driver
from tests.functional import test_simulate_differential as differential

H = fake_driver.EsxiHost

#: boot requests, in order (flavor and group names without the estate's
#: prefix; ``hints`` name instances booted before the snapshot)
REQUESTS = [
    {'name': 'r01', 'flavor': 'small'},
    {'name': 'r02', 'flavor': 'medium'},
    {'name': 'r03', 'flavor': 'large'},
    {'name': 'r04', 'flavor': 'pinned'},
    {'name': 'r05', 'flavor': 'small', 'group': 'web'},
    {'name': 'r06', 'flavor': 'medium', 'group': 'db'},
    {'name': 'r07', 'flavor': 'small', 'availability_zone': 'az1'},
    {'name': 'r08', 'flavor': 'small', 'group': 'batch', 'count': 3},
    {'name': 'r09', 'flavor': 'large'},
    {'name': 'r10', 'flavor': 'pinned', 'count': 2},
    {'name': 'r11', 'flavor': 'medium', 'group': 'web'},
    {'name': 'r12', 'flavor': 'small', 'hints': {'same_host': ['app']}},
    {'name': 'r13', 'flavor': 'small',
     'hints': {'different_host': ['app']}},
    {'name': 'r14', 'flavor': 'medium', 'availability_zone': 'az1'},
    {'name': 'r15', 'flavor': 'large', 'group': 'db'},
    {'name': 'r16', 'flavor': 'small', 'group': 'batch'},
    {'name': 'r17', 'flavor': 'medium'},
    {'name': 'r18', 'flavor': 'large', 'count': 2},
    {'name': 'r19', 'flavor': 'small', 'group': 'web'},
    {'name': 'r20', 'flavor': 'medium'},
    {'name': 'r21', 'flavor': 'huge'},
    {'name': 'r22', 'flavor': 'small'},
]


class TestSnapshotAgreesWithNova(differential._Differential):
    """Snapshot nova's real services, then simulate and nova agree."""

    #: six clusters of different sizes (weights seldom tie)
    CLUSTERS = {
        'c1': fake_driver.ClusterSpec(hosts=(H(16, 65536),) * 2,
                                      disk_gb=2001),
        'c2': fake_driver.ClusterSpec(hosts=(H(24, 49152),) * 2,
                                      disk_gb=1502),
        'c3': fake_driver.ClusterSpec(hosts=(H(32, 98304),), disk_gb=3003),
        'c4': fake_driver.ClusterSpec(hosts=(H(12, 40960),) * 3,
                                      disk_gb=1204),
        'c5': fake_driver.ClusterSpec(hosts=(H(16, 32768),), disk_gb=1005),
        'c6': fake_driver.ClusterSpec(hosts=(H(16, 36864),), disk_gb=1106),
    }

    def test_snapshot_then_simulate_agrees(self):
        # a build counts among a host's io ops until the next audit, which
        # the simulator cannot time (as in the differential test)
        self.flags(io_ops_weight_multiplier=0.0, group='filter_scheduler')
        self.compared = 0
        self.tied = 0
        self.sent = 0

        def run(estate):
            return self.check_estate(estate)

        self.in_both_topologies(run, (
            ('shared', (('c1', 'c2', 'c3', 'c4'), ('c5',), ('c6',))),
            ('split', tuple((c,) for c in sorted(self.CLUSTERS)))))
        self.assertGreaterEqual(self.sent, 2 * 20)
        # every instance compared, bar those after a tie; ties counted
        self.assertGreater(self.compared, 0)
        self.assertLessEqual(self.tied, 2)
        self.assertGreaterEqual(self.compared, self.sent // 2)

    def check_estate(self, estate):
        p = estate.name
        flavors = {
            'small': estate.flavor('small', memory_mb=2048, vcpus=1,
                                   disk=10),
            'medium': estate.flavor('medium', memory_mb=8192, vcpus=4,
                                    disk=40),
            'large': estate.flavor('large', memory_mb=16384, vcpus=8,
                                   disk=80),
            'huge': estate.flavor('huge', memory_mb=70000, vcpus=8, disk=10),
            'pinned': estate.flavor('pinned', memory_mb=4096, vcpus=2,
                                    disk=20, pin=estate.pin('c2', 'c3')),
        }
        groups = {'web': estate.group('web', 'anti-affinity'),
                  'db': estate.group('db', 'affinity'),
                  'batch': estate.group('batch', 'soft-anti-affinity')}
        hosts = list(estate.services)
        # a zone: the service of c1
        zone = '%s-az1' % p
        agg = self.admin_api.post_aggregate(
            {'aggregate': {'name': zone, 'availability_zone': zone}})
        self.admin_api.add_host_to_aggregate(agg['id'],
                                             estate.service_of('c1'))
        # an aggregate without a zone whose metadata weighs: nova's
        # RAMWeigher takes its multiplier from it for the clusters of c4's
        # service
        fast = self.admin_api.post_aggregate(
            {'aggregate': {'name': '%s-fast' % p}})
        self.admin_api.post_aggregate_action(fast['id'], {'set_metadata': {
            'metadata': {'ram_weight_multiplier': '1.7'}}})
        self.admin_api.add_host_to_aggregate(fast['id'],
                                             estate.service_of('c4'))
        # every cluster of that host into the zone's placement aggregate
        # (nova-api mirrors a host's first node itself; the keeper the
        # rest). Only before the first simulation: seen here, the keeper
        # thread did not complete a run after one had run in this process.
        if len(estate.services[estate.service_of('c1')]) > 1:
            self.converge()
        # instances before the snapshot, of several flavors, group members
        before = {}
        for name, flavor, group in (('web-0', 'small', 'web'),
                                    ('db-0', 'medium', 'db'),
                                    ('app', 'large', None),
                                    ('big-0', 'large', None),
                                    ('b-0', 'small', 'batch')):
            [server] = estate.boot_servers(flavors[flavor], name=name,
                                           group=groups.get(group))
            self.assertNotEqual(differential.NVH, estate.outcome(server))
            before[name] = server['id']
        # a disabled service and a down one
        estate.set_service(estate.service_of('c5'), disabled=True)
        estate.set_service(estate.service_of('c6'), forced_down=True)

        # the command's code path: take(), the file it writes, read back
        # by simulate with the requests in a file of their own
        data = snapshot.take(nova_context.get_admin_context(),
                             report.SchedulerReportClient())
        text = snapshot_cmd.HEADER % {'when': 'now', 'conf': 'nova.conf'} \
            + snapshot_cmd.dump(data)
        data = yaml.safe_load(text)   # JSON is YAML
        self.check_snapshot(estate, data, hosts, before)
        requests = []
        for item in REQUESTS:
            item = dict(item)
            item['flavor'] = '%s-%s' % (p, item['flavor'])
            if 'group' in item:
                item['group'] = '%s-%s' % (p, item['group'])
            if 'availability_zone' in item:
                item['availability_zone'] = zone
            if 'hints' in item:
                item['hints'] = {k: [before[n] for n in v]
                                 for k, v in item['hints'].items()}
            requests.append(item)
        folder = self.useFixture(fixtures.TempDir()).path
        paths = [os.path.join(folder, name)
                 for name in ('estate.json', 'ask.yaml')]
        for path, body in zip(paths, (text, yaml.safe_dump(
                {'requests': requests}))):
            with open(path, 'w') as f:
                f.write(body)
        scenario = scenario_mod.load(*paths)

        def label(sim_label):
            return estate.label_of(scenario.by_label[sim_label].nodename)

        expected = self.simulate(scenario, 'as-written', label)
        self.flags(io_ops_weight_multiplier=0.0, group='filter_scheduler')
        names = {'%s-%s' % (p, k): v for k, v in flavors.items()}
        group_ids = {'%s-%s' % (p, k): v for k, v in groups.items()}
        uuids = {u: u for u in before.values()}
        self.sent += sum(r.count for r in scenario.requests)
        compared = self.compared
        landed = self.requests(estate, scenario, names, group_ids, expected,
                               uuids, 'snapshot', {zone: zone})
        if len(landed) < len(scenario.requests):
            self.tied += 1
        # something was compared in this topology, and something landed
        self.assertGreater(self.compared, compared)
        self.assertTrue(any(c != differential.NVH
                            for r in landed for c in r), landed)
        return None

    def check_snapshot(self, estate, data, hosts, before):
        """What the snapshot says of the estate, before any request."""
        services = data['services']
        for host in hosts:
            self.assertIn(host, services)
        c5 = services[estate.service_of('c5')]
        self.assertTrue(c5.get('disabled'), c5)
        c6 = services[estate.service_of('c6')]
        self.assertEqual('down', c6.get('state'), c6)
        self.assertTrue(c6.get('forced_down'), c6)
        self.assertEqual('%s-az1' % estate.name,
                         services[estate.service_of('c1')].get(
                             'availability_zone'))
        self.assertEqual({'metadata': {'ram_weight_multiplier': '1.7'}},
                         data['aggregates']['%s-fast' % estate.name])
        self.assertIn('%s-fast' % estate.name,
                      services[estate.service_of('c4')]['aggregates'])
        for name, uuid in before.items():
            self.assertIn(uuid, data['instances'], name)
        web = data['server_groups']['%s-web' % estate.name]
        self.assertEqual('anti-affinity', web['policy'])
        self.assertEqual('%s-web' % estate.name,
                         data['instances'][before['web-0']]['group'])
        pinned = data['flavors']['%s-pinned' % estate.name]
        self.assertEqual(estate.pin('c2', 'c3'),
                         pinned['extra_specs']['vmware:cluster'])
        # each cluster by its placement inventory: max_unit the largest host
        vc = [v for v in data['vcenters'].values()
              if v['uuid'] == estate.vcenter]
        self.assertEqual(1, len(vc))
        c1 = vc[0]['clusters']['domain-c1']['inventory']
        self.assertEqual(32, c1['VCPU']['total'])
        self.assertEqual(16, c1['VCPU']['max_unit'])
        self.assertEqual(65536, c1['MEMORY_MB']['max_unit'])
        self.assertEqual(
            self.flags_value('enabled_filters'),
            data['config']['filter_scheduler']['enabled_filters'])

    def flags_value(self, name):
        import nova.conf
        return list(nova.conf.CONF.filter_scheduler[name])
