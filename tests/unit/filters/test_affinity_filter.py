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

"""ServerGroupAffinityFilter by cluster, through nova's filter handler.

Also the shadowing check of :mod:`nova_vmw_sched.filters`, which guards the
names this filter and its siblings take over from nova.
"""

import logging

import fixtures
import nova.conf
from nova import objects
from nova.scheduler import filters as nova_filters
from nova.scheduler.filters import affinity_filter as nova_affinity
from nova.scheduler import manager
from nova.scheduler import weights as nova_weights
from oslo_utils.fixture import uuidsentinel as uuids

from nova_vmw_sched.filters import affinity_filter
from nova_vmw_sched.filters import anti_affinity_filter
from nova_vmw_sched.filters import different_host_filter
from nova_vmw_sched.filters import same_host_filter
from tests.unit import test_membership as fakes

CONF = nova.conf.CONF
node = fakes.node
host = fakes.host
group = fakes.group
spec = fakes.spec


class AffinityTestCase(fakes.FilterTestCase):

    FILTER = affinity_filter.ServerGroupAffinityFilter


class TestAffinity(AffinityTestCase):

    def test_reasons(self):
        self.source.nodes = {uuids.m1: node(1)}
        spec_obj = spec(group('affinity', [uuids.m1, uuids.new],
                              hosts=['svc1']), instance_uuid=uuids.new)
        why = ('affinity: no group member on its cluster (members are on '
               '%s)' % node(1))
        self.assertEqual({node(1): None, node(2): why, node(3): why},
                         self.reasons(spec_obj))

    def test_before_any_member_has_a_node_all_pass(self):
        # members exist but were never scheduled, or are deleted
        self.source.nodes = {uuids.m1: None}
        spec_obj = spec(group('affinity', [uuids.m1, uuids.m2, uuids.new]),
                        instance_uuid=uuids.new)
        self.assertEqual(self.all, self.passing(spec_obj))

    def test_only_the_members_cluster_passes_not_its_sibling(self):
        self.source.nodes = {uuids.m1: node(1)}
        spec_obj = spec(group('affinity', [uuids.m1, uuids.new],
                              hosts=['svc1']), instance_uuid=uuids.new)
        self.assertEqual([node(1)], self.passing(spec_obj))
        self.source.nodes = {uuids.m1: node(2)}
        spec_obj = spec(group('affinity', [uuids.m1, uuids.new],
                              hosts=['svc1']), instance_uuid=uuids.new)
        self.assertEqual([node(2)], self.passing(spec_obj))
        # nova's filter would pass the sibling
        self.source.nodes = {uuids.m1: node(1)}
        spec_obj = spec(group('affinity', [uuids.m1, uuids.new],
                              hosts=['svc1']), instance_uuid=uuids.new)
        # nova's filter reads the legacy policies field
        spec_obj.instance_group.policies = ['affinity']
        self.assertEqual([node(1), node(2)], self.run_filters(
            nova_affinity.ServerGroupAffinityFilter(), self.hosts, spec_obj))
        self.assertEqual([node(1)], self.passing(spec_obj))

    def test_member_on_a_cluster_under_another_service_or_not_vmware(self):
        self.source.nodes = {uuids.m1: node(2)}
        hosts = [host('svc1', node(1)), host('svc9', node(2)),
                 host('svc2', node(3))]
        spec_obj = spec(group('affinity', [uuids.m1], hosts=['svc1']))
        self.assertEqual([node(2)], self.passing(spec_obj, hosts))
        # non-VMware nodes count by node name
        self.source.nodes = {uuids.m1: 'bm-1'}
        hosts = [host('ironic', 'bm-1'), host('ironic', 'bm-2')]
        self.assertEqual(['bm-1'], self.passing(
            spec(group('affinity', [uuids.m1], hosts=['ironic'])), hosts))

    def test_members_on_two_clusters_pass_both(self):
        self.source.nodes = {uuids.m1: node(1), uuids.m2: node(3)}
        spec_obj = spec(group('affinity', [uuids.m1, uuids.m2]))
        self.assertEqual([node(1), node(3)], self.passing(spec_obj))

    def test_moving_instance_does_not_count_for_itself(self):
        self.source.nodes = {uuids.moving: node(1), uuids.other: node(2)}
        spec_obj = spec(group('affinity', [uuids.moving, uuids.other]),
                        instance_uuid=uuids.moving)
        self.assertEqual([node(2)], self.passing(spec_obj))
        # the only member with a node: it may go anywhere
        spec_obj = spec(group('affinity', [uuids.moving]),
                        instance_uuid=uuids.moving)
        self.assertEqual(self.all, self.passing(spec_obj))

    def test_other_policy_or_no_group_passes_all(self):
        self.source.nodes = {uuids.m1: node(1)}
        for policy in ('anti-affinity', 'soft-affinity',
                       'soft-anti-affinity', None):
            self.assertEqual(self.all, self.passing(spec(group(
                policy, [uuids.m1]))), policy)
        self.assertEqual(self.all, self.passing(spec()))
        self.assertEqual([], self.source.calls)

    def test_rebuild_passes_all_other_requests_every_instance(self):
        self.assertFalse(self.filter.RUN_ON_REBUILD)
        self.assertFalse(self.filter.run_filter_once_per_request)
        self.source.nodes = {uuids.m1: node(1)}
        self.assertEqual([node(1)], self.passing(spec(
            group('affinity', [uuids.m1]))))
        self.assertEqual(self.all, self.passing(spec(
            group('affinity', [uuids.m1]), hints=fakes.REBUILD)))

    def test_odd_host_data(self):
        class Bare:
            pass

        self.source.nodes = {uuids.m1: node(1)}
        spec_obj = spec(group('affinity', [uuids.m1]))
        odd = [host('svc1', None), host('svc1', 42), host('svc1', ''),
               Bare(), self.hosts[0]]
        self.assertEqual([self.hosts[0]],
                         self.filter.filter_all(odd, spec_obj))
        self.assertEqual([node(1)], self.passing(
            spec_obj, odd[:3] + [self.hosts[0]]))

    def test_odd_group_data(self):
        self.source.nodes = {uuids.m1: node(1)}
        for odd in (objects.InstanceGroup(policy='affinity', members=None),
                    objects.InstanceGroup(policy='affinity'),
                    objects.InstanceGroup(members=[uuids.m1])):
            self.assertEqual(self.all, self.passing(spec(odd)), odd)


class TestAffinityMultiCreate(AffinityTestCase):
    """Siblings of one request, in both states of nova's instance view."""

    def _multi_create(self, shared, count=3):
        common = {}
        hosts = [host('svc1', node(n), common if shared else {})
                 for n in (1, 2, 3)] + [host('svc2', node(4))]
        instance_uuids = [getattr(uuids, 'i%d' % i) for i in range(count)]
        self.source.nodes = dict.fromkeys(instance_uuids)
        self.source.allocations = {}
        spec_obj = spec(group('affinity', instance_uuids, hosts=[]),
                        num_instances=count)
        return spec_obj, hosts

    def test_siblings_follow_the_first(self):
        for shared in (True, False):
            spec_obj, hosts = self._multi_create(shared)
            # reverse the order: nova's first choice is c4 of svc2
            self.assertEqual([node(4)] * 3, self.schedule(
                hosts[::-1], spec_obj, [uuids.i0, uuids.i1, uuids.i2],
                filters=[self.filter]))

    def test_sibling_cluster_of_the_first_does_not_pass(self):
        for shared in (True, False):
            spec_obj, hosts = self._multi_create(shared, count=2)
            spec_obj.instance_uuid = uuids.i0
            self.assertEqual([node(1), node(2), node(3), node(4)],
                             self.passing(spec_obj, hosts))
            # nova claims in placement, then consumes
            self.source.allocations[uuids.i0] = [hosts[1].uuid]
            manager.SchedulerManager._consume_selected_host(
                hosts[1], spec_obj, instance_uuid=uuids.i0)
            spec_obj.instance_uuid = uuids.i1
            self.assertEqual([node(2)],
                             self.passing(spec_obj, hosts, index=1))


class TestShadowing(fakes.GroupTestCase):
    """ERROR when nova's class wins one of the names we take over."""

    ENABLED = ['ComputeFilter', 'ServerGroupAffinityFilter',
               'ServerGroupAntiAffinityFilter', 'SameHostFilter',
               'DifferentHostFilter']

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.MonkeyPatch(
            'nova_vmw_sched.filters._shadow_checked', False))
        self.errors = fakes.Records(logging.ERROR)
        self.useFixture(fixtures.LogHandler(
            self.errors, name='nova_vmw_sched', nuke_handlers=False))

    def _winners(self):
        """What nova's HostManager maps the names to."""
        classes = nova_filters.HostFilterHandler().get_matching_classes(
            CONF.filter_scheduler.available_filters)
        return {cls.__name__: cls for cls in classes}

    def test_ours_listed_before_novas_logs_an_error_per_name(self):
        self.flags(available_filters=['nova_vmw_sched.filters.all_filters',
                                      'nova.scheduler.filters.all_filters'],
                   enabled_filters=self.ENABLED, group='filter_scheduler')
        self.assertIs(nova_affinity.ServerGroupAffinityFilter,
                      self._winners()['ServerGroupAffinityFilter'])
        affinity_filter.ServerGroupAffinityFilter()
        messages = sorted(r.getMessage() for r in self.errors.records)
        self.assertEqual(4, len(messages))
        for name, message in zip(
                ['DifferentHostFilter', 'SameHostFilter',
                 'ServerGroupAffinityFilter',
                 'ServerGroupAntiAffinityFilter'], messages):
            self.assertIn('names %s, which resolves to nova.' % name,
                          message)
            self.assertIn('nova_vmw_sched.filters.all_filters after', message)
        # once per process, not once per filter
        anti_affinity_filter.ServerGroupAntiAffinityFilter()
        self.assertEqual(4, len(self.errors.records))

    def test_ours_listed_after_novas_is_quiet(self):
        self.flags(available_filters=['nova.scheduler.filters.all_filters',
                                      'nova_vmw_sched.filters.all_filters'],
                   enabled_filters=self.ENABLED, group='filter_scheduler')
        winners = self._winners()
        self.assertIs(affinity_filter.ServerGroupAffinityFilter,
                      winners['ServerGroupAffinityFilter'])
        self.assertIs(anti_affinity_filter.ServerGroupAntiAffinityFilter,
                      winners['ServerGroupAntiAffinityFilter'])
        self.assertIs(same_host_filter.SameHostFilter, winners['SameHostFilter'])
        self.assertIs(different_host_filter.DifferentHostFilter,
                      winners['DifferentHostFilter'])
        affinity_filter.ServerGroupAffinityFilter()
        self.assertEqual([], self.errors.records)

    def test_only_enabled_names_are_checked(self):
        self.flags(available_filters=['nova_vmw_sched.filters.all_filters',
                                      'nova.scheduler.filters.all_filters'],
                   enabled_filters=['ComputeFilter',
                                    'ServerGroupAntiAffinityFilter'],
                   group='filter_scheduler')
        same_host_filter.SameHostFilter()
        self.assertEqual(1, len(self.errors.records))
        self.assertIn('ServerGroupAntiAffinityFilter',
                      self.errors.records[0].getMessage())

    def test_reported_when_none_of_our_filters_is_loaded(self):
        # nova's HostManager instantiates only the enabled filters, and
        # here every enabled name resolves to nova's class: the weighers,
        # which nova always instantiates, must report it
        self.flags(available_filters=['nova_vmw_sched.filters.all_filters',
                                      'nova.scheduler.filters.all_filters'],
                   enabled_filters=['ComputeFilter',
                                    'ServerGroupAffinityFilter',
                                    'ServerGroupAntiAffinityFilter'],
                   group='filter_scheduler')
        winners = self._winners()
        for name in CONF.filter_scheduler.enabled_filters:
            winners[name]()
        self.assertEqual([], self.errors.records)
        for cls in nova_weights.HostWeightHandler().get_matching_classes(
                ['nova_vmw_sched.weights.all_weighers']):
            cls()
        self.assertEqual(
            ['ServerGroupAffinityFilter', 'ServerGroupAntiAffinityFilter'],
            sorted(r.args['name'] for r in self.errors.records
                   if 'available_filters' in r.getMessage()))

    def test_class_path_before_novas_list_is_reported(self):
        # the package's filter named by its path, but nova's list last
        self.flags(available_filters=[
            'nova_vmw_sched.filters.same_host_filter.SameHostFilter',
            'nova.scheduler.filters.all_filters'],
            enabled_filters=['SameHostFilter'], group='filter_scheduler')
        same_host_filter.SameHostFilter()
        self.assertEqual(1, len(self.errors.records))
