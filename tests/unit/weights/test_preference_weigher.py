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

"""VMwareClusterPreferenceWeigher through nova's HostWeightHandler."""

import importlib
import inspect
import pkgutil

import fixtures
import nova.conf
from nova import objects
from nova.scheduler import host_manager
from nova.scheduler import weights as nova_weights
from nova.scheduler.weights import cpu
from nova.scheduler.weights import disk
from nova.scheduler.weights import ram
from nova import test

from nova_vmw_sched import cluster
from nova_vmw_sched import conf as vmw_conf
import nova_vmw_sched.weights
from nova_vmw_sched.weights import preference_weigher

CONF = nova.conf.CONF
VC1 = '6f1c2a6e-2f6b-4c39-9d55-3b1f4c1e7a01'
VC2 = '0b7e4d2c-91a3-4f5e-8c6d-2e1f3a4b5c6d'
KEY = 'cluster_preference_weight_multiplier'


def node(n, vcenter=VC1):
    return 'domain-c%d.%s' % (n, vcenter)


def host(nodename, ram_mb=1024, vcpus=8, disk_mb=10240, service='svc1'):
    hs = host_manager.HostState(service, nodename, 'cell1')
    hs.free_ram_mb = ram_mb
    hs.vcpus_total = vcpus
    hs.vcpus_used = 0
    hs.cpu_allocation_ratio = 1.0
    hs.free_disk_mb = disk_mb
    return hs


def spec(pin=None):
    extra_specs = {}
    if pin is not None:
        extra_specs['vmware:cluster'] = pin
    return objects.RequestSpec(
        flavor=objects.Flavor(extra_specs=extra_specs),
        scheduler_hints={})


def aggregate(value, hosts=('svc1',)):
    return objects.Aggregate(id=1, name='agg1', hosts=list(hosts),
                             metadata={KEY: value})


class PreferenceWeigherTestCase(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        vmw_conf.register_opts(CONF)
        self.handler = nova_weights.HostWeightHandler()
        self.weigher = preference_weigher.VMwareClusterPreferenceWeigher()

    def weighed(self, hosts, spec_obj, weighers=None):
        """[(nodename, weight)] best first, as nova's handler orders them."""
        result = self.handler.get_weighed_objects(
            weighers or [self.weigher], hosts, spec_obj)
        return [(w.obj.nodename, w.weight) for w in result]

    def names(self, hosts, spec_obj, weighers=None):
        return [n for n, _ in self.weighed(hosts, spec_obj, weighers)]


class TestPreferenceWeigher(PreferenceWeigherTestCase):

    def test_first_listed_weighs_most_then_next(self):
        hosts = [host(node(n)) for n in (1, 2, 3, 4)]
        weighed = self.weighed(hosts, spec('domain-c2,domain-c1,domain-c3'))
        self.assertEqual([node(2), node(1), node(3), node(4)],
                         [n for n, _ in weighed])
        for expected, (_, weight) in zip((1000.0, 2000.0 / 3, 1000.0 / 3,
                                          0.0), weighed):
            self.assertAlmostEqual(expected, weight)

    def test_order_follows_the_list_not_the_hosts(self):
        hosts = [host(node(n)) for n in (1, 2, 3)]
        self.assertEqual([node(3), node(1), node(2)],
                         self.names(hosts, spec('domain-c3,domain-c1,'
                                                'domain-c2')))
        self.assertEqual([node(1), node(3), node(2)],
                         self.names(hosts, spec('domain-c1,domain-c3,'
                                                'domain-c2')))

    def test_unlisted_and_non_vmware_weigh_zero(self):
        hosts = [host('compute1'), host(node(5)), host('domain-c6(Old)'),
                 host(node(1))]
        weighed = dict(self.weighed(hosts, spec('domain-c1')))
        self.assertEqual({'compute1': 0.0, node(5): 0.0,
                          'domain-c6(Old)': 0.0, node(1): 1000.0}, weighed)

    def test_bare_moref_weighs_every_vcenter_alike(self):
        hosts = [host(node(1)), host(node(7, VC2)), host(node(7, VC1))]
        weighed = self.weighed(hosts, spec('domain-c7,domain-c1'))
        self.assertEqual({node(7, VC1), node(7, VC2)},
                         {n for n, _ in weighed[:2]})
        self.assertEqual(weighed[0][1], weighed[1][1])
        self.assertGreater(weighed[1][1], weighed[2][1])

    def test_alias_from_config(self):
        self.flags(cluster_aliases={'gold': node(3)},
                   group='vmware_scheduler')
        hosts = [host(node(n)) for n in (1, 2, 3)]
        self.assertEqual([node(3), node(2), node(1)],
                         self.names(hosts, spec('gold,domain-c2')))
        self.assertEqual([node(2), node(3), node(1)],
                         self.names(hosts, spec('domain-c2,gold')))

    def test_no_pin_weighs_all_equal(self):
        hosts = [host(node(n)) for n in (1, 2, 3)] + [host('compute1')]
        weighed = self.weighed(hosts, spec())
        self.assertEqual({0.0}, {w for _, w in weighed})
        weighed = self.weighed(hosts, objects.RequestSpec())
        self.assertEqual({0.0}, {w for _, w in weighed})

    def test_unusable_pin_weighs_all_equal(self):
        hosts = [host(node(n)) for n in (1, 2, 3)]
        for value in ('domain-c1,,', 'domain-x1', 'undefined_alias,domain-c1'):
            weighed = self.weighed(hosts, spec(value))
            self.assertEqual({0.0}, {w for _, w in weighed}, value)

    def test_multiplier_zero_has_no_effect(self):
        self.flags(**{KEY: 0.0, 'group': 'vmware_scheduler'})
        hosts = [host(node(1), ram_mb=1024), host(node(2), ram_mb=4096)]
        weighed = self.weighed(hosts, spec('domain-c1,domain-c2'))
        self.assertEqual({0.0}, {w for _, w in weighed})
        # nova's RAMWeigher alone decides
        self.assertEqual([node(2), node(1)],
                         self.names(hosts, spec('domain-c1,domain-c2'),
                                    [ram.RAMWeigher(), self.weigher]))

    def test_multiplier_scales(self):
        self.flags(**{KEY: 2.0, 'group': 'vmware_scheduler'})
        hosts = [host(node(1)), host(node(2))]
        self.assertEqual([(node(1), 2.0), (node(2), 1.0)],
                         self.weighed(hosts, spec('domain-c1,domain-c2')))

    def test_aggregate_override_turns_it_off(self):
        first = host(node(1), service='svc1')
        second = host(node(2), service='svc2')
        pin = spec('domain-c1,domain-c2')
        self.assertEqual([node(1), node(2)], self.names([first, second], pin))
        first.aggregates = [aggregate('0', hosts=['svc1'])]
        self.assertEqual([(node(2), 500.0), (node(1), 0.0)],
                         self.weighed([first, second], pin))

    def test_aggregate_override_turns_it_on(self):
        self.flags(**{KEY: 0.0, 'group': 'vmware_scheduler'})
        first = host(node(1), service='svc1')
        second = host(node(2), service='svc2')
        pin = spec('domain-c1,domain-c2')
        self.assertEqual({0.0}, {w for _, w in self.weighed([first, second],
                                                            pin)})
        second.aggregates = [aggregate('10', hosts=['svc2'])]
        self.assertEqual([(node(2), 5.0), (node(1), 0.0)],
                         self.weighed([first, second], pin))

    def test_default_multiplier_beats_ram_cpu_disk(self):
        spreaders = [ram.RAMWeigher(), cpu.CPUWeigher(), disk.DiskWeigher()]
        hosts = [host(node(1), ram_mb=1024, vcpus=2, disk_mb=1024),
                 host(node(2), ram_mb=1024 * 1024, vcpus=512,
                      disk_mb=1024 * 1024 * 100)]
        pin = spec('domain-c1,domain-c2')
        # without the preference, the spreaders want the second cluster
        self.assertEqual([node(2), node(1)], self.names(hosts, pin,
                                                        spreaders))
        self.assertEqual([node(1), node(2)],
                         self.names(hosts, pin, spreaders + [self.weigher]))

    def test_default_multiplier_beats_spreaders_for_100_clusters(self):
        spreaders = [ram.RAMWeigher(), cpu.CPUWeigher(), disk.DiskWeigher()]
        hosts = [host(node(n), ram_mb=1024, vcpus=2, disk_mb=1024)
                 for n in range(1, 101)]
        # the second listed cluster is by far the emptiest
        hosts[1] = host(node(2), ram_mb=1024 * 1024, vcpus=512,
                        disk_mb=1024 * 1024 * 100)
        pin = spec(','.join('domain-c%d' % n for n in range(1, 101)))
        self.assertEqual(node(2), self.names(hosts, pin, spreaders)[0])
        self.assertEqual([node(n) for n in range(1, 101)],
                         self.names(hosts, pin, spreaders + [self.weigher]))

    def test_extra_spec_parsed_once_per_request(self):
        calls = []
        real = cluster.parse_reference_list

        def counting(*args, **kwargs):
            calls.append(args)
            return real(*args, **kwargs)

        self.useFixture(fixtures.MonkeyPatch(
            'nova_vmw_sched.cluster.parse_reference_list', counting))
        hosts = [host(node(n)) for n in range(100)]
        names = self.names(hosts, spec('domain-c42,domain-c7'))
        self.assertEqual([node(42), node(7)], names[:2])
        self.assertEqual([('domain-c42,domain-c7',)], calls)


class TestAllWeighers(test.NoDBTestCase):

    def _defined_weighers(self):
        """BaseHostWeigher classes defined in nova_vmw_sched.weights.*."""
        found = set()
        package = nova_vmw_sched.weights
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(
                '%s.%s' % (package.__name__, info.name))
            for _, obj in inspect.getmembers(module, inspect.isclass):
                if (obj.__module__ == module.__name__ and
                        not obj.__name__.startswith('_') and
                        issubclass(obj, nova_weights.BaseHostWeigher)):
                    found.add(obj)
        return found

    def test_all_weighers(self):
        classes = nova_vmw_sched.weights.all_weighers()
        self.assertEqual(len(classes), len(set(classes)))
        self.assertIn(preference_weigher.VMwareClusterPreferenceWeigher,
                      classes)
        self.assertEqual(self._defined_weighers(), set(classes))
        novas = set(nova_weights.all_weighers())
        self.assertEqual(set(), novas & set(classes))

    def test_class_map(self):
        handler = nova_weights.HostWeightHandler()
        ours = nova_vmw_sched.weights.all_weighers()
        cls_map = {cls.__name__: cls for cls in handler.get_matching_classes(
            ['nova.scheduler.weights.all_weighers',
             'nova_vmw_sched.weights.all_weighers'])}
        for cls in ours:
            self.assertIs(cls, cls_map[cls.__name__])


class TestHostManager(PreferenceWeigherTestCase):
    """The weigher as nova's HostManager loads and runs it."""

    def setUp(self):
        super().setUp()
        # HostManager reads cells and aggregates from the database at start.
        self.useFixture(fixtures.MockPatchObject(
            host_manager.HostManager, 'refresh_cells_caches'))
        self.useFixture(fixtures.MockPatchObject(
            host_manager.HostManager, '_init_aggregates'))
        self.flags(weight_classes=['nova_vmw_sched.weights.preference_weigher.'
                                   'VMwareClusterPreferenceWeigher'],
                   enabled_filters=['VMwareClusterFilter'],
                   available_filters=['nova_vmw_sched.filters.all_filters'],
                   track_instance_changes=False,
                   group='filter_scheduler')

    def test_weighed_hosts(self):
        manager = host_manager.HostManager()
        [weigher] = manager.weighers
        self.assertIsInstance(
            weigher, preference_weigher.VMwareClusterPreferenceWeigher)
        hosts = [host(node(n)) for n in (1, 2, 3)]
        weighed = manager.get_weighed_hosts(hosts, spec('domain-c3,domain-c2'))
        self.assertEqual([node(3), node(2), node(1)],
                         [w.obj.nodename for w in weighed])

    def test_all_weighers_entry(self):
        self.flags(weight_classes=['nova.scheduler.weights.all_weighers',
                                   'nova_vmw_sched.weights.all_weighers'],
                   group='filter_scheduler')
        manager = host_manager.HostManager()
        self.assertEqual(
            1, len([w for w in manager.weighers if isinstance(
                w, preference_weigher.VMwareClusterPreferenceWeigher)]))
