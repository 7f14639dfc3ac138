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

"""Generated scenarios and the regrouping of clusters under services."""

from nova import test

from nova_vmw_sched.cmd import main as cli
from nova_vmw_sched.simulate import generate
from nova_vmw_sched.simulate import scenario
from nova_vmw_sched.simulate import schema
from nova_vmw_sched.simulate import topology


class TestGenerate(test.NoDBTestCase):

    def test_sizes_and_validity(self):
        generated = generate.generate(150, 40, seed=7)
        self.assertIsInstance(generated, scenario.Scenario)
        self.assertEqual(150, len(generated.clusters))
        self.assertEqual(40, len(generated.requests))
        self.assertEqual(3, len({c.vcenter for c in generated.clusters}))
        self.assertEqual('generated:150:40:7', generated.source)

    def test_same_seed_same_scenario(self):
        one = generate.generate_data(20, 10, seed=3)
        self.assertEqual(one, generate.generate_data(20, 10, seed=3))
        self.assertNotEqual(one, generate.generate_data(20, 10, seed=4))

    def test_has_what_the_property_test_needs(self):
        generated = generate.generate(64, 60, seed=1)
        sizes = {len(s.clusters) for s in generated.services}
        self.assertIn(1, sizes)
        self.assertTrue(any(size > 1 for size in sizes))
        self.assertTrue(any(c.ha_policy for c in generated.clusters))
        self.assertTrue(any('vmware:cluster' in f.extra_specs
                            for f in generated.flavors.values()))
        self.assertEqual(
            set(schema.POLICIES),
            {g.policy for g in generated.groups.values()})
        self.assertTrue(any(r.same_host or r.different_host
                            for r in generated.requests))
        self.assertTrue(any(r.count > 1 for r in generated.requests))

    def test_reproducible_leaves_out_what_the_harness_lacks(self):
        one = generate.generate_reproducible_data(4, 5, seed=2)
        self.assertEqual(one, generate.generate_reproducible_data(4, 5, 2))
        generated = generate.generate_reproducible(4, 5, seed=2)
        self.assertEqual('reproducible:4:5:2', generated.source)
        self.assertEqual(['domain-c1', 'domain-c2', 'domain-c3',
                          'domain-c4'],
                         [c.moref for c in generated.clusters])
        self.assertEqual({}, generated.instances)
        for c in generated.clusters:
            self.assertEqual(scenario.Amounts(), c.used)
            self.assertEqual(scenario.Amounts(), c.reserved)
            self.assertIsNone(c.ha_policy)
        self.assertEqual(1, len(generated.services))
        self.assertEqual(0.0, generated.config['filter_scheduler'][
            'io_ops_weight_multiplier'])


class TestTopology(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        self.scenario = scenario.load(cli.DEFAULT_SCENARIO)

    def test_as_written_is_unchanged(self):
        self.assertIs(self.scenario,
                      topology.regroup(self.scenario, topology.AS_WRITTEN))

    def test_per_cluster(self):
        regrouped = topology.regroup(self.scenario, topology.PER_CLUSTER)
        self.assertEqual(len(self.scenario.clusters),
                         len(regrouped.services))
        self.assertTrue(all(len(s.clusters) == 1
                            for s in regrouped.services))
        lab = [s for s in regrouped.services
               if s.clusters == ('vc-east/domain-c10',)][0]
        self.assertTrue(lab.disabled)
        self.assertEqual('lab rebuild', lab.disabled_reason)
        self.assertEqual(self.scenario.clusters, regrouped.clusters)

    def test_per_vcenter_keeps_service_state(self):
        regrouped = topology.regroup(self.scenario, topology.PER_VCENTER)
        by_name = {s.name: s for s in regrouped.services}
        self.assertEqual(
            {'vc-east': ('vc-east/domain-c7', 'vc-east/domain-c8',
                         'vc-east/domain-c9'),
             'vc-east-disabled': ('vc-east/domain-c10',),
             'vc-west': ('vc-west/domain-c7', 'vc-west/domain-c12'),
             'vc-west-down': ('vc-west/domain-c13',)},
            {n: s.clusters for n, s in by_name.items()})
        self.assertEqual('down', by_name['vc-west-down'].state)
        self.assertTrue(by_name['vc-east-disabled'].disabled)
