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

from nova_vmw_sched.simulate import engine
from nova_vmw_sched.simulate import generate
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


class TestSimulateAgreesWithNova(base.ClusterTestCase):
    """The simulator's decisions are nova's own, scenario by scenario."""

    # the simulator's scenario keeps the option's default failover policy
    FAILOVER_POLICY = None

    def simulate(self, scenario, topology):
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
                    tie = (placed.name, {_label(placed.cluster)} |
                           {_label(t) for t in placed.ties})
            out.append((names, tuple(_label(p.cluster)
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
            uuids = {}
            landed = []
            for request, (names, want, tie) in zip(
                    scenario.requests, expected[estate.name]):
                hints = {}
                if request.same_host:
                    hints['same_host'] = [uuids[n] for n in request.same_host]
                if request.different_host:
                    hints['different_host'] = [
                        uuids[n] for n in request.different_host]
                servers = estate.boot_servers(
                    flavors[request.flavor], name=request.name,
                    group=groups.get(request.group), hints=hints or None,
                    min_count=request.count if request.count > 1 else None)
                got = tuple(estate.outcome(s) for s in servers)
                for name, server in zip(names, servers):
                    uuids[name] = server['id']
                where = 'seed %d, %s, request %s' % (seed, estate.name,
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

        self.in_both_topologies(run, (
            ('shared', (labels,)), ('split', tuple((l,) for l in labels))))
        # a scenario that placed nothing would prove nothing
        self.assertGreater(self.compared, 0)


def _add_seed_tests():
    for seed in SEEDS:
        def test(self, seed=seed):
            self.check(seed)
        test.__name__ = 'test_seed_%02d' % seed
        test.__doc__ = 'generate_reproducible(%d, %d, %d)' % (
            sizes(seed) + (seed,))
        setattr(TestSimulateAgreesWithNova, test.__name__, test)


_add_seed_tests()
