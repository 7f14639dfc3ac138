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

"""The rejection line of a pinned request that finds no host."""

import datetime
import logging

import fixtures
from oslo_utils import timeutils

import nova.conf
from nova import objects
from nova.scheduler import filters as nova_filters
from nova.scheduler import host_manager
from nova import test

from nova_vmw_sched import conf as vmw_conf
from nova_vmw_sched.filters import anti_affinity_filter
from nova_vmw_sched.filters import capacity_filter
from nova_vmw_sched.filters import pin_filter
from nova_vmw_sched.simulate import probes
from tests import data_fixture
from tests.unit import capacity_fakes

CONF = nova.conf.CONF
VC = '6f1c2a6e-2f6b-4c39-9d55-3b1f4c1e7a01'
MEMBER = '00000000-0000-4000-8000-0000000000aa'
ME = '00000000-0000-4000-8000-000000000001'


def node(moref):
    return '%s.%s' % (moref, VC)


class _Source:
    def __init__(self, nodes):
        self.nodes = nodes

    def nodes_of(self, context, uuids):
        return {u: self.nodes[u] for u in uuids if u in self.nodes}


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.INFO)
        self.lines = []

    def emit(self, record):
        if record.levelno == logging.INFO:
            self.lines.append(record.getMessage())


def host(service_host, moref, down=False, disabled=False):
    state = host_manager.HostState(service_host, node(moref), 'cell1')
    now = timeutils.utcnow()
    state.service = {
        'host': service_host, 'disabled': disabled,
        'disabled_reason': 'maintenance' if disabled else None,
        'forced_down': False, 'created_at': now,
        'last_seen_up': now - datetime.timedelta(
            seconds=3600 if down else 0)}
    return state


class TestExplanation(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        vmw_conf.register_opts(CONF)
        self.useFixture(data_fixture.DataFixture(
            members=_Source({MEMBER: node('domain-c3')})))
        self.lines = _Lines()
        self.useFixture(fixtures.LogHandler(
            self.lines, name='nova_vmw_sched.explain', nuke_handlers=False))
        self.handler = nova_filters.HostFilterHandler()
        self.filters = [pin_filter.VMwareClusterFilter(),
                        anti_affinity_filter.ServerGroupAntiAffinityFilter()]

    def spec(self, pin, group=True):
        extra = {'vmware:cluster': pin} if pin is not None else {}
        return objects.RequestSpec(
            flavor=objects.Flavor(extra_specs=extra), scheduler_hints={},
            instance_uuid=ME, num_instances=1,
            instance_group=objects.InstanceGroup(
                policy='anti-affinity', members=[MEMBER, ME], hosts=[],
                rules={}) if group else None)

    def run_filters(self, spec_obj, hosts):
        return self.handler.get_filtered_objects(self.filters, hosts,
                                                 spec_obj, 0)

    def test_line_names_every_listed_cluster_with_its_reason(self):
        hosts = [host('svc-a', 'domain-c1', down=True),
                 host('svc-b', 'domain-c2', disabled=True),
                 host('svc-b', 'domain-c3'), host('svc-c', 'domain-c4')]
        pin = ','.join([node('domain-c1'), 'domain-c2', node('domain-c3'),
                        'domain-c9'])
        self.assertEqual([], self.run_filters(self.spec(pin), hosts))
        self.assertEqual(1, len(self.lines.lines), self.lines.lines)
        line = self.lines.lines[0]
        self.assertIn('No host left for instance %s: vmware:cluster=%s '
                      'lists ' % (ME, pin), line)
        self.assertIn('%s on svc-a: VMwareClusterFilter: service svc-a is '
                      'down' % node('domain-c1'), line)
        self.assertIn('domain-c2 (%s) on svc-b: VMwareClusterFilter: '
                      'service svc-b is disabled (maintenance)'
                      % node('domain-c2'), line)
        self.assertIn('%s on svc-b: ServerGroupAntiAffinityFilter: '
                      'anti-affinity: 1 group member(s) on its cluster, at '
                      'most 1 allowed' % node('domain-c3'), line)
        self.assertIn('domain-c9: not a candidate', line)
        self.assertNotIn('domain-c4', line)

    def test_said_once_per_request(self):
        spec_obj = self.spec(node('domain-c3'))
        hosts = [host('svc-b', 'domain-c3')]
        self.run_filters(spec_obj, hosts)
        self.run_filters(spec_obj, hosts)
        self.assertEqual(1, len(self.lines.lines))
        self.run_filters(self.spec(node('domain-c3')), hosts)
        self.assertEqual(2, len(self.lines.lines))

    def test_nothing_said_while_a_host_is_left(self):
        hosts = [host('svc-a', 'domain-c1', down=True),
                 host('svc-c', 'domain-c4')]
        passed = self.run_filters(
            self.spec(node('domain-c1') + ',' + node('domain-c4')), hosts)
        self.assertEqual([hosts[1]], passed)
        self.assertEqual([], self.lines.lines)

    def test_unpinned_request_says_nothing(self):
        hosts = [host('svc-b', 'domain-c3')]
        self.assertEqual([], self.run_filters(self.spec(None), hosts))
        self.assertEqual([], self.lines.lines)

    def test_unusable_value_is_said(self):
        hosts = [host('svc-b', 'domain-c3')]
        self.assertEqual([], self.run_filters(
            self.spec('domain-c3,,', group=False), hosts))
        self.assertEqual(1, len(self.lines.lines))
        self.assertIn('vmware:cluster=domain-c3,, cannot be used: element '
                      '2: empty cluster reference', self.lines.lines[0])


class TestCapacityReasons(test.NoDBTestCase):
    """The capacity filter's refusals, as the line words them."""

    def setUp(self):
        super().setUp()
        vmw_conf.register_opts(CONF)
        self.useFixture(capacity_fakes.ConfigCachesFixture())
        self.lines = _Lines()
        self.useFixture(fixtures.LogHandler(
            self.lines, name='nova_vmw_sched.explain', nuke_handlers=False))
        self.flags(cluster_failover_policy='host_failures',
                   cluster_failover_host_failures=1,
                   group='vmware_scheduler')

    def test_too_small_and_reserve_reached_are_named(self):
        small = capacity_fakes.host_state(capacity_fakes.node('domain-c1'))
        full = capacity_fakes.host_state(capacity_fakes.node('domain-c2'),
                                         memory_mb_used=40960)
        self.useFixture(capacity_fakes.CacheFixture({
            # four 16 GB hosts; the VM needs 20 GB: larger than any host
            small.uuid: capacity_fakes.inventories(),
            # one 16 GB host held back: 48 GB usable, 40 GB used
            full.uuid: capacity_fakes.inventories()}))
        filters = [pin_filter.VMwareClusterFilter(),
                   capacity_filter.VMwareClusterCapacityFilter()]
        spec_obj = capacity_fakes.request_spec(memory_mb=20480)
        spec_obj.flavor.extra_specs = {'vmware:cluster': 'domain-c1'}
        self.assertEqual([], nova_filters.HostFilterHandler().
                         get_filtered_objects(filters, [small, full],
                                              spec_obj, 0))
        self.assertIn(
            'VMwareClusterCapacityFilter: the instance needs 20480 MEMORY_MB, '
            'more than the largest ESXi host of cluster %s offers (16384)'
            % capacity_fakes.node('domain-c1'), self.lines.lines[0])

        spec_obj = capacity_fakes.request_spec(memory_mb=10240)
        spec_obj.flavor.extra_specs = {'vmware:cluster': 'domain-c2'}
        self.assertEqual([], nova_filters.HostFilterHandler().
                         get_filtered_objects(filters, [small, full],
                                              spec_obj, 0))
        self.assertIn(
            'VMwareClusterCapacityFilter: with the instance placed, cluster '
            '%s would use 51200 MEMORY_MB, more than 49152, its capacity '
            'less the failover reserve of 16384 (host_failures=1)'
            % capacity_fakes.node('domain-c2'), self.lines.lines[1])


class TestOneReason(test.NoDBTestCase):
    """The DEBUG line, the explanation line and the simulator show the
    string the filter's check() returned."""

    def setUp(self):
        super().setUp()
        vmw_conf.register_opts(CONF)
        self.useFixture(capacity_fakes.ConfigCachesFixture())
        self.lines = _Lines()
        self.useFixture(fixtures.LogHandler(
            self.lines, name='nova_vmw_sched.explain', nuke_handlers=False))
        self.debug = self.useFixture(fixtures.FakeLogger(
            name='nova_vmw_sched.filters', level=logging.DEBUG,
            format='%(name)s %(message)s'))
        #: what the simulator's probes report: [(host, filter, reason)]
        self.simulated = []

    def run_probed(self, filters, hosts, spec_obj):
        """The filters through nova's handler, as the simulator runs them.
        """
        probed = [probes.probe(
            probes.FilterProbe, f,
            lambda *rejection: self.simulated.append(rejection))
            for f in filters]
        return nova_filters.HostFilterHandler().get_filtered_objects(
            probed, hosts, spec_obj, 0)

    def assertSaidEverywhere(self, filter_obj, host_state, reason):
        name = type(filter_obj).__name__
        self.assertIn('%s %s fails: %s' % (type(filter_obj).__module__,
                                           host_state, reason),
                      self.debug.output)
        self.assertEqual(1, len(self.lines.lines), self.lines.lines)
        self.assertIn('%s: %s' % (name, reason), self.lines.lines[0])
        self.assertIn((host_state, name, reason), self.simulated)

    def test_capacity_filter(self):
        small = capacity_fakes.host_state(capacity_fakes.node('domain-c1'))
        self.useFixture(capacity_fakes.CacheFixture({
            small.uuid: capacity_fakes.inventories()}))
        filt = capacity_filter.VMwareClusterCapacityFilter()
        spec_obj = capacity_fakes.request_spec(memory_mb=20480)
        spec_obj.flavor.extra_specs = {'vmware:cluster': 'domain-c1'}
        self.assertEqual([], self.run_probed(
            [pin_filter.VMwareClusterFilter(), filt], [small], spec_obj))
        reason = filt.check(small, filt.prepare_hosts(spec_obj, [small]))
        self.assertEqual(
            'the instance needs 20480 MEMORY_MB, more than the largest ESXi '
            'host of cluster %s offers (16384)'
            % capacity_fakes.node('domain-c1'), reason)
        self.assertSaidEverywhere(filt, small, reason)

    def test_anti_affinity_filter(self):
        self.useFixture(data_fixture.DataFixture(
            members=_Source({MEMBER: node('domain-c3')})))
        used = host('svc-b', 'domain-c3')
        filt = anti_affinity_filter.ServerGroupAntiAffinityFilter()
        spec_obj = objects.RequestSpec(
            flavor=objects.Flavor(
                extra_specs={'vmware:cluster': 'domain-c3'}),
            scheduler_hints={}, instance_uuid=ME, num_instances=1,
            instance_group=objects.InstanceGroup(
                policy='anti-affinity', members=[MEMBER, ME], hosts=[],
                rules={}))
        self.assertEqual([], self.run_probed(
            [pin_filter.VMwareClusterFilter(), filt], [used], spec_obj))
        reason = filt.check(used, filt.prepare_hosts(spec_obj, [used]))
        self.assertEqual('anti-affinity: 1 group member(s) on its cluster, '
                         'at most 1 allowed', reason)
        self.assertSaidEverywhere(filt, used, reason)
