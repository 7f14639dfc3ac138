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

"""VMwareClusterFilter through nova's filter handler and HostManager."""

import datetime
import importlib
import inspect
import logging
import pkgutil

import fixtures
import nova.conf
from nova import objects
from nova.scheduler import filters as nova_filters
from nova.scheduler.filters import compute_filter
from nova.scheduler import host_manager
from nova import test
from oslo_utils import timeutils

from nova_vmw_sched import cluster
from nova_vmw_sched import conf as vmw_conf
import nova_vmw_sched.filters
from nova_vmw_sched.filters import pin_filter

CONF = nova.conf.CONF
VC1 = '6f1c2a6e-2f6b-4c39-9d55-3b1f4c1e7a01'
VC2 = '0b7e4d2c-91a3-4f5e-8c6d-2e1f3a4b5c6d'
IRONIC = '1b3c5d7e-0000-4000-8000-00000000abcd'


class _Records(logging.Handler):
    """Keep the WARNING records of a logger (not ERROR or others)."""

    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.records = []

    def emit(self, record):
        if record.levelno == logging.WARNING:
            self.records.append(record)


def spec(pin=None, hints=None, num_instances=1):
    extra_specs = {'hw:cpu_policy': 'shared'}
    if pin is not None:
        extra_specs['vmware:cluster'] = pin
    return objects.RequestSpec(
        flavor=objects.Flavor(extra_specs=extra_specs),
        scheduler_hints=hints or {},
        instance_uuid='00000000-0000-4000-8000-000000000001',
        num_instances=num_instances,
        ignore_hosts=None, force_hosts=None, force_nodes=None,
        requested_destination=None)


class ClusterFilterTestCase(test.NoDBTestCase):

    # (service host, node) of a small estate: two vCenters with the same
    # morefs, one legacy node, a KVM host and an ironic node.
    NODES = (
        ('svc1', 'domain-c7.' + VC1),
        ('svc1', 'domain-c8.' + VC1),
        ('svc2', 'domain-c7.' + VC2),
        ('svc2', 'domain-c9.' + VC2),
        ('svc3', 'domain-c10(Gold Cluster)'),
        ('compute1', 'compute1'),
        ('ironic', IRONIC),
    )

    def setUp(self):
        super().setUp()
        vmw_conf.register_opts(CONF)
        self.warnings = _Records()
        self.useFixture(fixtures.LogHandler(
            self.warnings, name='nova_vmw_sched', nuke_handlers=False))
        self.handler = nova_filters.HostFilterHandler()
        self.filter = pin_filter.VMwareClusterFilter()
        self.hosts = [host_manager.HostState(host, node, 'cell1')
                      for host, node in self.NODES]

    def passing(self, spec_obj, hosts=None, index=0, filters=None):
        result = self.handler.get_filtered_objects(
            filters or [self.filter],
            self.hosts if hosts is None else hosts, spec_obj, index=index)
        return [h.nodename for h in result]


class TestClusterFilter(ClusterFilterTestCase):

    def test_declares_rebuild_and_once_per_request(self):
        self.assertFalse(pin_filter.VMwareClusterFilter.RUN_ON_REBUILD)
        self.assertTrue(
            pin_filter.VMwareClusterFilter.run_filter_once_per_request)

    def test_unpinned_passes_everything(self):
        self.assertEqual([n for _, n in self.NODES], self.passing(spec()))
        self.assertEqual([n for _, n in self.NODES],
                         self.passing(objects.RequestSpec(
                             scheduler_hints={})))
        self.assertEqual([], self.warnings.records)

    def test_full_node_name(self):
        self.assertEqual(['domain-c7.' + VC1],
                         self.passing(spec('domain-c7.' + VC1)))
        self.assertEqual(['domain-c7.' + VC1],
                         self.passing(spec('domain-c7.' + VC1.upper())))
        # same moref, other vCenter: nothing of VC1 passes
        self.assertEqual(['domain-c9.' + VC2],
                         self.passing(spec('domain-c9.' + VC2)))
        self.assertEqual([], self.passing(spec('domain-c9.' + VC1)))

    def test_legacy_node_name(self):
        self.assertEqual(['domain-c10(Gold Cluster)'],
                         self.passing(spec('domain-c10(Gold Cluster)')))
        self.assertEqual([], self.passing(spec('domain-c10(Gold)')))

    def test_bare_moref_matches_every_vcenter(self):
        self.assertEqual(['domain-c7.' + VC1, 'domain-c7.' + VC2],
                         self.passing(spec('domain-c7')))
        self.assertEqual(['domain-c10(Gold Cluster)'],
                         self.passing(spec('domain-c10')))
        self.assertEqual([], self.passing(spec('domain-c70')))

    def test_list_passes_every_listed_cluster(self):
        self.assertEqual(
            ['domain-c8.' + VC1, 'domain-c9.' + VC2,
             'domain-c10(Gold Cluster)'],
            self.passing(spec('domain-c9, domain-c10(Gold Cluster),'
                              'domain-c8.' + VC1)))

    def test_alias_from_config(self):
        self.flags(cluster_aliases={'gold': 'domain-c8.' + VC1,
                                    'any7': 'domain-c7'},
                   group='vmware_scheduler')
        self.assertEqual(['domain-c8.' + VC1], self.passing(spec('gold')))
        self.assertEqual(['domain-c7.' + VC1, 'domain-c7.' + VC2],
                         self.passing(spec('any7')))
        self.assertEqual([], self.warnings.records)

    def test_undefined_alias_fails_closed_one_warning_per_request(self):
        self.flags(cluster_aliases={'gold': 'domain-c8.' + VC1},
                   group='vmware_scheduler')
        self.assertEqual([], self.passing(spec('gold,silver')))
        self.assertEqual(1, len(self.warnings.records))
        message = self.warnings.records[0].getMessage()
        self.assertIn("alias 'silver' is not defined", message)
        self.assertIn('gold,silver', message)
        # the next request warns again, once
        self.assertEqual([], self.passing(spec('silver')))
        self.assertEqual(2, len(self.warnings.records))

    def test_malformed_stored_value_fails_closed(self):
        for value in ('domain-c7,,', 'domain-x7', '', 'domain-c7,domain-c7',
                      'domain-c7.' + VC1[:-1], 'two words'):
            self.warnings.records.clear()
            self.assertEqual([], self.passing(spec(value)), value)
            self.assertEqual(1, len(self.warnings.records), value)
            self.assertEqual(logging.WARNING,
                             self.warnings.records[0].levelno)

    def test_non_vmware_nodes_fail_a_pinned_request(self):
        hosts = self.hosts[-2:]
        self.assertEqual(['compute1', IRONIC],
                         self.passing(spec(), hosts=hosts))
        self.assertEqual([], self.passing(spec('domain-c7'), hosts=hosts))

    def test_listed_cluster_of_a_disabled_or_down_service_fails(self):
        now = timeutils.utcnow()

        def with_service(moref, disabled=False, down=False):
            hs = host_manager.HostState('svc-' + moref, moref + '.' + VC1,
                                        'cell1')
            hs.update(service={
                'host': hs.host, 'disabled': disabled,
                'disabled_reason': 'maintenance' if disabled else None,
                'forced_down': False, 'created_at': now,
                'last_seen_up': now - datetime.timedelta(
                    seconds=3600 if down else 0)})
            return hs

        hosts = [with_service('domain-c1'),
                 with_service('domain-c2', disabled=True),
                 with_service('domain-c3', down=True)]
        self.assertEqual(['domain-c1.' + VC1],
                         self.passing(spec('domain-c1,domain-c2,domain-c3'),
                                      hosts=hosts))
        # unpinned requests leave the service to ComputeFilter
        self.assertEqual(3, len(self.passing(spec(), hosts=hosts)))

    def test_reasons(self):
        now = timeutils.utcnow()
        hosts = self.hosts[:2] + self.hosts[-2:]
        prepared = self.filter.prepare_hosts(spec('domain-c7'), hosts)
        self.assertEqual(
            [None, 'not a VMware cluster that vmware:cluster=domain-c7 lists',
             'not a VMware cluster that vmware:cluster=domain-c7 lists',
             'not a VMware cluster that vmware:cluster=domain-c7 lists'],
            [self.filter.check(h, prepared) for h in hosts])
        for disabled, down, why in (
                (True, False, 'service svc1 is disabled (maintenance)'),
                (False, True, 'service svc1 is down')):
            hosts[0].service = {
                'host': 'svc1', 'disabled': disabled,
                'disabled_reason': 'maintenance' if disabled else None,
                'forced_down': False, 'created_at': now,
                'last_seen_up': now - datetime.timedelta(
                    seconds=3600 if down else 0)}
            self.assertEqual(why, self.filter.check(hosts[0], prepared))
        prepared = self.filter.prepare_hosts(spec('domain-c7,,'), hosts)
        self.assertEqual(
            'vmware:cluster=domain-c7,, cannot be used (element 2: empty '
            'cluster reference)', self.filter.check(hosts[0], prepared))
        prepared = self.filter.prepare_hosts(spec(), hosts)
        self.assertEqual([None] * 4,
                         [self.filter.check(h, prepared) for h in hosts])

    def test_rebuild_is_not_filtered(self):
        rebuild = {'_nova_check_type': ['rebuild']}
        everything = [n for _, n in self.NODES]
        self.assertEqual(everything,
                         self.passing(spec('domain-c8', hints=rebuild)))
        self.assertEqual(['domain-c8.' + VC1],
                         self.passing(spec('domain-c8',
                                           hints={'_nova_check_type':
                                                  ['resize']})))
        # not even a broken value stops or warns on a rebuild
        self.assertEqual(everything,
                         self.passing(spec('domain-x', hints=rebuild)))
        self.assertEqual([], self.warnings.records)

    def test_host_passes(self):
        c7, c8 = self.hosts[:2]
        self.assertTrue(self.filter.host_passes(c7, spec('domain-c7')))
        self.assertFalse(self.filter.host_passes(c8, spec('domain-c7')))
        self.assertTrue(self.filter.host_passes(
            c8, spec('domain-c7',
                     hints={'_nova_check_type': ['rebuild']})))

    def test_extra_spec_parsed_once_per_request(self):
        calls = []
        real = cluster.parse_reference_list

        def counting(*args, **kwargs):
            calls.append(args)
            return real(*args, **kwargs)

        self.useFixture(fixtures.MonkeyPatch(
            'nova_vmw_sched.cluster.parse_reference_list', counting))
        hosts = [host_manager.HostState('svc', 'domain-c%d.%s' % (i, VC1),
                                        'cell1') for i in range(200)]
        spec_obj = spec('domain-c3,domain-c150', num_instances=3)
        for index in range(3):
            result = self.passing(spec_obj, hosts=hosts, index=index)
        self.assertEqual(1, len(calls))
        self.assertEqual(('domain-c3,domain-c150',), calls[0])
        # index 2 got every host it was given: the filter did not run
        self.assertEqual(200, len(result))

    def test_run_once_per_request_through_the_handler(self):
        spec_obj = spec('domain-c8')
        self.assertEqual(['domain-c8.' + VC1],
                         self.passing(spec_obj, index=0))
        self.assertEqual([n for _, n in self.NODES],
                         self.passing(spec_obj, index=1))

    def test_broken_value_warns_once_for_a_multi_create(self):
        spec_obj = spec('domain-x', num_instances=3)
        for index in range(3):
            self.passing(spec_obj, index=index)
        self.assertEqual(1, len(self.warnings.records))


class TestScaleGuard(ClusterFilterTestCase):
    """One WARNING when a pinned request meets max_placement_results."""

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.MonkeyPatch(
            'nova_vmw_sched.conf._warned', set()))

    def test_pinned_request_at_the_limit_warns_once(self):
        self.flags(max_placement_results=len(self.hosts), group='scheduler')
        for _ in range(3):
            self.passing(spec('domain-c7'))
        self.assertEqual(1, len(self.warnings.records))
        message = self.warnings.records[0].getMessage()
        self.assertIn('%d candidates reached [scheduler] '
                      'max_placement_results = %d'
                      % (len(self.hosts), len(self.hosts)), message)
        self.assertIn('Placement comes first', message)

    def test_below_the_limit_or_unpinned_says_nothing(self):
        self.flags(max_placement_results=len(self.hosts) + 1,
                   group='scheduler')
        self.passing(spec('domain-c7'))
        self.flags(max_placement_results=2, group='scheduler')
        self.passing(spec())
        self.assertEqual([], self.warnings.records)


class TestAllFilters(test.NoDBTestCase):

    def _defined_filters(self):
        """BaseHostFilter classes defined in nova_vmw_sched.filters.*."""
        found = set()
        package = nova_vmw_sched.filters
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(
                '%s.%s' % (package.__name__, info.name))
            for _, obj in inspect.getmembers(module, inspect.isclass):
                if (obj.__module__ == module.__name__ and
                        not obj.__name__.startswith('_') and
                        issubclass(obj, nova_filters.BaseHostFilter)):
                    found.add(obj)
        return found

    def test_all_filters(self):
        classes = nova_vmw_sched.filters.all_filters()
        self.assertEqual(len(classes), len(set(classes)))
        self.assertIn(pin_filter.VMwareClusterFilter, classes)
        self.assertNotIn(nova_vmw_sched.filters.RequestScopedFilter, classes)
        self.assertEqual(self._defined_filters(), set(classes))
        for cls in classes:
            self.assertTrue(cls.__module__.startswith('nova_vmw_sched.'), cls)

    def test_class_map(self):
        # HostManager maps enabled_filters names through
        # {cls.__name__: cls} over available_filters, in order.
        handler = nova_filters.HostFilterHandler()
        ours = nova_vmw_sched.filters.all_filters()
        our_names = {cls.__name__ for cls in ours}
        cls_map = {cls.__name__: cls for cls in handler.get_matching_classes(
            ['nova.scheduler.filters.all_filters',
             'nova_vmw_sched.filters.all_filters'])}
        for cls in ours:
            self.assertIs(cls, cls_map[cls.__name__])
        for cls in nova_filters.all_filters():
            if cls.__name__ not in our_names:
                self.assertIs(cls, cls_map[cls.__name__])


class TestHostManager(ClusterFilterTestCase):
    """The filter as nova's HostManager loads and runs it."""

    def setUp(self):
        super().setUp()
        # HostManager reads cells and aggregates from the database at start.
        self.useFixture(fixtures.MockPatchObject(
            host_manager.HostManager, 'refresh_cells_caches'))
        self.useFixture(fixtures.MockPatchObject(
            host_manager.HostManager, '_init_aggregates'))
        self.flags(available_filters=['nova.scheduler.filters.all_filters',
                                      'nova_vmw_sched.filters.all_filters'],
                   enabled_filters=['VMwareClusterFilter'],
                   track_instance_changes=False,
                   group='filter_scheduler')

    def test_class_map(self):
        manager = host_manager.HostManager()
        self.assertIs(pin_filter.VMwareClusterFilter,
                      manager.filter_cls_map['VMwareClusterFilter'])
        self.assertIs(compute_filter.ComputeFilter,
                      manager.filter_cls_map['ComputeFilter'])
        [enabled] = manager.enabled_filters
        self.assertIsInstance(enabled, pin_filter.VMwareClusterFilter)

    def test_filtered_hosts(self):
        manager = host_manager.HostManager()
        self.assertEqual(
            ['domain-c9.' + VC2],
            [h.nodename for h in manager.get_filtered_hosts(
                self.hosts, spec('domain-c9'))])
        self.assertEqual(
            len(self.hosts),
            len(manager.get_filtered_hosts(self.hosts, spec())))

    def test_unknown_name_without_our_filters(self):
        self.flags(available_filters=['nova.scheduler.filters.all_filters'],
                   group='filter_scheduler')
        self.assertRaises(nova.exception.SchedulerHostFilterNotFound,
                          host_manager.HostManager)
