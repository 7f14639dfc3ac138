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

"""``nova-vmw-sched simulate`` against nova's real services.

Each scenario of
:func:`nova_vmw_sched.simulate.generate.generate_reproducible` (a fixed
list of seeds) is run twice per topology: through the simulator, in
process, and through nova's API, conductor, scheduler and placement with
the fake multi-node driver, with the same clusters, flavors, server groups
and requests in the same order. Every instance must land on the same
cluster (or fail with NoValidHost in both), with all clusters under one
service and with one service per cluster.

Ties: nova's ``_get_sorted_hosts`` keeps the hosts' order among equal
weights (``shuffle_best_same_weighed_hosts`` off, ``host_subset_size`` 1,
nova's defaults), and that order comes from a set in nova's HostManager,
so it changes from process to process; the simulator keeps file order. The
scenarios' clusters differ in size so that weights seldom tie; where the
simulator reports a tie, nova's choice must be one of the tied clusters,
and the rest of that scenario is not compared (the estates differ from
there on).
"""

import copy
import math

import yaml

from nova_vmw_sched.cmd import main as cli
from nova_vmw_sched.simulate import engine
from nova_vmw_sched.simulate import generate
from nova_vmw_sched.simulate import scenario as scenario_mod
from nova_vmw_sched.simulate import topology as topology_mod
from tests.functional import base
from tests.functional import fake_driver

NVH = base.NO_VALID_HOST

#: the seeds of the generated scenarios; clusters and requests per seed
SEEDS = tuple(range(21))


def sizes(seed):
    return 2 + seed % 3, 5


def _label(sim_label):
    """``vc1/domain-c3`` -> ``c3``, as the harness names clusters."""
    return sim_label.split('/domain-', 1)[1]


class _Differential(base.ClusterTestCase):
    """Run a scenario through the simulator and through nova."""

    # the simulator's scenario keeps the option's default failover policy
    FAILOVER_POLICY = None

    def simulate(self, scenario, topology, label=_label):
        """The simulator's outcome of every request: [(names, clusters)]."""
        sim = engine.Simulation(scenario, engine.configured(True), topology)
        out = []
        for (result,) in engine.run_together([sim], scenario.requests):
            names = result.request.instance_names
            if not result.ok:
                out.append((names, (NVH,) * len(names), None))
                continue
            tie = None
            for placed in result.instances:
                if placed.ties and tie is None:
                    tie = (placed.name, {label(placed.cluster)} |
                           {label(t) for t in placed.ties})
            out.append((names, tuple(label(p.cluster)
                                     for p in result.instances), tie))
        # the simulator's CONF overrides end with it: set the test's again
        self.scheduler_flags()
        return out

    def build(self, estate, scenario):
        flavors = {}
        for name, flavor in scenario.flavors.items():
            specs = {k: v.replace(scenario.clusters[0].vcenter_uuid,
                                  estate.vcenter)
                     for k, v in flavor.extra_specs.items()}
            flavors[name] = estate.flavor(
                name, memory_mb=flavor.memory_mb, vcpus=flavor.vcpus,
                disk=flavor.disk_gb, extra_specs=specs)
        groups = {name: estate.group(name, g.policy, dict(g.rules) or None)
                  for name, g in scenario.groups.items()}
        return flavors, groups

    def check(self, seed):
        clusters, requests = sizes(seed)
        scenario = generate.generate_reproducible(clusters, requests, seed)
        self.CLUSTERS = {
            _label(c.label): fake_driver.ClusterSpec(
                hosts=tuple(fake_driver.EsxiHost(h.cpus, h.memory_mb)
                            for h in c.hosts for _ in range(h.count)),
                disk_gb=c.disk_gb)
            for c in scenario.clusters}
        labels = tuple(self.CLUSTERS)
        expected = {
            'shared': self.simulate(scenario, topology_mod.PER_VCENTER),
            'split': self.simulate(scenario, topology_mod.PER_CLUSTER)}
        for group, options in scenario.config.items():
            self.flags(group=group, **options)
        self.compared = 0

        def run(estate):
            flavors, groups = self.build(estate, scenario)
            return self.requests(estate, scenario, flavors, groups,
                                 expected[estate.name], {}, seed)

        self.in_both_topologies(run, (
            ('shared', (labels,)), ('split', tuple((l,) for l in labels))))
        # a scenario that placed nothing would prove nothing
        self.assertGreater(self.compared, 0)

    def requests(self, estate, scenario, flavors, groups, expected, uuids,
                 seed, zones=None):
        """Run the scenario's requests in ``estate``; compare each with the
        simulator's ``expected`` outcome; the clusters they landed on.

        :param zones: {scenario zone: the estate's zone of that name}
        """
        landed = []
        for request, (names, want, tie) in zip(
                scenario.requests, expected):
            hints = {}
            if request.same_host:
                hints['same_host'] = [uuids[n] for n in request.same_host]
            if request.different_host:
                hints['different_host'] = [
                    uuids[n] for n in request.different_host]
            servers = estate.boot_servers(
                flavors[request.flavor], name=request.name,
                group=groups.get(request.group), hints=hints or None,
                min_count=request.count if request.count > 1 else None,
                zone=(zones or {}).get(request.availability_zone))
            got = tuple(estate.outcome(s) for s in servers)
            for name, server in zip(names, servers):
                uuids[name] = server['id']
            where = 'seed %s, %s, request %s' % (seed, estate.name,
                                                 request.name)
            if tie is not None:
                # compared up to the tie, which nova may break otherwise
                index = names.index(tie[0])
                self.assertEqual(want[:index], got[:index], where)
                self.assertIn(got[index], tie[1], where)
                self.compared += index + 1
                landed.append(got[:index])
                break
            self.assertEqual(want, got, where)
            self.compared += len(names)
            landed.append(got)
        return landed


class TestSimulateAgreesWithNova(_Differential):
    """The simulator's decisions are nova's own, scenario by scenario (a
    ``test_seed_NN`` per seed, added below)."""


def shipped_as_boots(path=cli.DEFAULT_SCENARIO):
    """The shipped scenario in the form both sides can build: (scenario,
    {cluster label: filler flavor}); see :func:`shipped_data`."""
    data, fillers = shipped_data(path)
    return scenario_mod.from_data(data, path), fillers


def shipped_data(path=cli.DEFAULT_SCENARIO):
    """The shipped scenario as data (dicts and lists), in the form both
    sides can build, and {cluster label: filler flavor}.

    nova's harness cannot start a cluster with usage and no instances, so
    each cluster's ``used`` becomes instances that were there before
    ("fillers": as few as fit, each on one ESXi host, of one flavor per
    cluster, so the usage is rounded up to a multiple of that flavor);
    ``used.instances`` is the number of fillers. Each cluster reserves
    nothing (the fake driver reports no reserved amounts) and has a 10 TB
    datastore; ``[filter_scheduler] io_ops_weight_multiplier`` is 0, as in
    the generated scenarios. Everything else is the shipped file: two
    vCenters with a
    moref in both, a shared service and per-cluster ones, a disabled and a
    down service, a host in maintenance, HA policies, aliases, pinned
    flavors, server groups with members, hints.
    """
    with open(path, encoding='utf-8') as f:
        data = yaml.safe_load(f)
    fillers = {}
    instances = {}
    for vc_name, vc in data['vcenters'].items():
        for moref, c in vc['clusters'].items():
            label = '%s/%s' % (vc_name, moref)
            used = c.pop('used', None) or {}
            c['reserved'] = {'vcpus': 0, 'memory_mb': 0, 'disk_gb': 0}
            c['disk_gb'] = 10240
            vcpus, memory_mb = used.get('vcpus', 0), used.get('memory_mb', 0)
            if not (vcpus or memory_mb):
                continue
            up = [h for h in c['hosts'] if not h.get('maintenance')]
            count = max(1, math.ceil(vcpus / max(h['cpus'] for h in up)),
                        math.ceil(memory_mb / max(h['memory_mb']
                                                  for h in up)))
            flavor = 'filler-%s-%s' % (vc_name, moref)
            data['flavors'][flavor] = {
                'vcpus': max(1, math.ceil(vcpus / count)),
                'memory_mb': max(1, math.ceil(memory_mb / count)),
                'disk_gb': 1}
            fillers[label] = flavor
            for n in range(count):
                instances['%s-%d' % (flavor, n)] = {
                    'cluster': label, 'flavor': flavor}
    instances.update(data.get('instances') or {})
    data['instances'] = instances
    # as in the generated scenarios: nova counts a build among a host's io
    # ops until the next resource audit, which the simulator cannot time
    data.setdefault('config', {}).setdefault('filter_scheduler', {})[
        'io_ops_weight_multiplier'] = 0.0
    return data, fillers


class TestShippedScenarioAgreesWithNova(_Differential):
    """The scenario ``nova-vmw-sched simulate`` runs by default, through
    the simulator and through nova's real services (see
    :func:`shipped_as_boots` for what is changed to boot it)."""

    def test_shipped_scenario(self):
        scenario, _fillers = shipped_as_boots()

        def label(sim_label):
            return sim_label   # vc-east/domain-c7: a moref in two vCenters

        self.CLUSTERS = {
            c.label: fake_driver.ClusterSpec(
                hosts=tuple(fake_driver.EsxiHost(h.cpus, h.memory_mb)
                            for h in c.hosts if not h.maintenance
                            for _ in range(h.count)),
                disk_gb=c.disk_gb)
            for c in scenario.clusters}
        regrouped = {
            'shared': topology_mod.regroup(scenario,
                                           topology_mod.PER_VCENTER),
            'split': topology_mod.regroup(scenario,
                                          topology_mod.PER_CLUSTER)}
        expected = {
            'shared': self.simulate(scenario, topology_mod.PER_VCENTER,
                                    label),
            'split': self.simulate(scenario, topology_mod.PER_CLUSTER,
                                   label)}
        uuid_of = {c.vcenter_uuid: c.vcenter for c in scenario.clusters}
        self.compared = 0

        def local(estate, value):
            """A value of the file with its vCenter uuids the estate's."""
            if isinstance(value, dict):
                return {k: local(estate, v) for k, v in value.items()}
            if isinstance(value, str):
                for vc_uuid, name in uuid_of.items():
                    value = value.replace(vc_uuid, estate.vcenter_of(name))
            return value

        def run(estate):
            for group, options in scenario.config.items():
                self.flags(group=group, **local(estate, options))
            self.flags(cluster_failover_overrides={
                estate.node(c.label): c.ha_policy
                for c in scenario.clusters if c.ha_policy},
                group='vmware_scheduler')
            flavors = {
                name: estate.flavor(
                    name, memory_mb=f.memory_mb, vcpus=f.vcpus,
                    disk=f.disk_gb, extra_specs=local(
                        estate, dict(f.extra_specs)))
                for name, f in scenario.flavors.items()}
            groups = {name: estate.group(name, g.policy,
                                         dict(g.rules) or None)
                      for name, g in scenario.groups.items()}
            uuids = {}
            # the instances that were there before, forced onto their
            # clusters (nova schedules a forced boot without filters)
            for name, inst in scenario.instances.items():
                [server] = estate.boot_servers(
                    flavors[inst.flavor], name=name,
                    group=groups.get(inst.group), on=inst.cluster)
                self.assertEqual(inst.cluster, estate.outcome(server), name)
                uuids[name] = server['id']
            # then the services' states (the fillers of the down service's
            # cluster were booted while it was up)
            hosts = list(estate.services)
            for host, service in zip(hosts,
                                     regrouped[estate.name].services):
                self.assertEqual(service.clusters, estate.services[host])
                if service.disabled or service.state != 'up':
                    estate.set_service(
                        host, disabled=service.disabled or None,
                        forced_down=service.state != 'up' or None)
            return self.requests(estate, scenario, flavors, groups,
                                 expected[estate.name], uuids, 'shipped')

        outcome = self.in_both_topologies(run, tuple(
            (name, tuple(s.clusters for s in regrouped[name].services))
            for name in ('shared', 'split')))
        # every request of the file was compared, and some landed
        self.assertEqual(len(scenario.requests), len(outcome))
        self.assertGreater(self.compared, 0)
        landed = {c for request in outcome for c in request if c != NVH}
        # both vCenters' domain-c7 are told apart
        self.assertTrue({'vc-east/domain-c7', 'vc-west/domain-c7'} & landed,
                        outcome)


#: availability zones: a shared service of three clusters in az-east, one of
#: two in az-west; clusters differ in size (and by a few MB) so that
#: weights do not tie
ZONES = {
    'version': 1,
    'description': 'two zones, each of one service of several clusters',
    'config': {'filter_scheduler': {'io_ops_weight_multiplier': 0.0}},
    'vcenters': {'vc1': {'clusters': {
        'domain-c%d' % n: {
            'hosts': [{'cpus': 16, 'memory_mb': memory + 7 * n}],
            'disk_gb': 1000 + n,
            'reserved': {'vcpus': 0, 'memory_mb': 0, 'disk_gb': 0}}
        for n, memory in ((1, 8192), (2, 12288), (3, 16384), (4, 10240),
                          (5, 14336))}}},
    'services': {
        'east': {'clusters': ['vc1/domain-c1', 'vc1/domain-c2',
                              'vc1/domain-c3'],
                 'availability_zone': 'az-east'},
        'west': {'clusters': ['vc1/domain-c4', 'vc1/domain-c5'],
                 'availability_zone': 'az-west'}},
    'flavors': {'big': {'vcpus': 2, 'memory_mb': 6000, 'disk_gb': 1},
                'small': {'vcpus': 1, 'memory_mb': 1024, 'disk_gb': 1}},
    'requests': [
        {'name': 'e1', 'flavor': 'big', 'count': 2,
         'availability_zone': 'az-east'},
        {'name': 'e2', 'flavor': 'big', 'availability_zone': 'az-east'},
        {'name': 'e3', 'flavor': 'big', 'availability_zone': 'az-east'},
        # one big fits in az-east now: the request of two fails
        {'name': 'e4', 'flavor': 'big', 'count': 2,
         'availability_zone': 'az-east'},
        {'name': 'w1', 'flavor': 'small', 'availability_zone': 'az-west'},
        {'name': 'any', 'flavor': 'small'},
        {'name': 'w2', 'flavor': 'big', 'availability_zone': 'az-west'},
    ],
}


class TestZonesAgreeWithNova(_Differential):
    """Requests naming an availability zone: the simulator's member_of
    (every cluster of a zone's services, the package's setup) against
    nova's request filter and placement with the package's keeper."""

    def test_zones(self):
        scenario = scenario_mod.from_data(copy.deepcopy(ZONES), 'zones')
        self.CLUSTERS = {
            _label(c.label): fake_driver.ClusterSpec(
                hosts=tuple(fake_driver.EsxiHost(h.cpus, h.memory_mb)
                            for h in c.hosts for _ in range(h.count)),
                disk_gb=c.disk_gb)
            for c in scenario.clusters}
        regrouped = {
            'shared': topology_mod.regroup(scenario,
                                           topology_mod.PER_VCENTER),
            'split': topology_mod.regroup(scenario,
                                          topology_mod.PER_CLUSTER)}
        expected = {
            'shared': self.simulate(scenario, topology_mod.PER_VCENTER),
            'split': self.simulate(scenario, topology_mod.PER_CLUSTER)}
        for group, options in scenario.config.items():
            self.flags(group=group, **options)
        self.compared = 0

        def run(estate):
            flavors, groups = self.build(estate, scenario)
            # the zones of this estate (the other's aggregates stay)
            zones = {}
            for host, service in zip(list(estate.services),
                                     regrouped[estate.name].services):
                self.assertEqual(
                    tuple(_label(c) for c in service.clusters),
                    estate.services[host])
                zone = service.availability_zone
                if zone not in zones:
                    zones[zone] = self.admin_api.post_aggregate(
                        {'aggregate': {
                            'name': '%s-%s' % (estate.name, zone),
                            'availability_zone': '%s-%s' % (estate.name,
                                                            zone)}})
                self.admin_api.add_host_to_aggregate(zones[zone]['id'], host)
            # every cluster of a host into the placement aggregate
            self.converge()
            return self.requests(
                estate, scenario, flavors, groups, expected[estate.name],
                {}, 'zones', {z: agg['availability_zone']
                              for z, agg in zones.items()})

        outcome = self.in_both_topologies(run, tuple(
            (name, tuple(tuple(_label(c) for c in s.clusters)
                         for s in regrouped[name].services))
            for name in ('shared', 'split')))
        # every instance of every request, in both topologies, no tie
        self.assertEqual(2 * 9, self.compared)
        self.assertEqual(len(scenario.requests), len(outcome))
        east = {'c1', 'c2', 'c3'}
        for landed in outcome[:3]:
            self.assertTrue(set(landed) <= east, outcome)
        # all three clusters of the shared service are used in its zone
        self.assertEqual(east, {c for r in outcome[:3] for c in r})
        self.assertEqual((NVH, NVH), outcome[3])
        self.assertTrue(set(outcome[4] + outcome[6]) <= {'c4', 'c5'},
                        outcome)


def _add_seed_tests():
    for seed in SEEDS:
        def test(self, seed=seed):
            self.check(seed)
        test.__name__ = 'test_seed_%02d' % seed
        test.__doc__ = 'generate_reproducible(%d, %d, %d)' % (
            sizes(seed) + (seed,))
        setattr(TestSimulateAgreesWithNova, test.__name__, test)


_add_seed_tests()
