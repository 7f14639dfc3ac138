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

"""DifferentHostFilter by cluster, through nova's filter handler."""

from nova import objects
from nova.scheduler.filters import affinity_filter as nova_affinity
from oslo_utils.fixture import uuidsentinel as uuids

from nova_vmw_sched.filters import different_host_filter
from tests.unit import test_membership as fakes

node = fakes.node
host = fakes.host
spec = fakes.spec


class TestDifferentHost(fakes.FilterTestCase):

    FILTER = different_host_filter.DifferentHostFilter

    def setUp(self):
        super().setUp()
        self.source.nodes = {uuids.a: node(1), uuids.b: node(3),
                             uuids.building: None}

    def test_reasons(self):
        self.assertEqual(
            {node(1): 'different_host: a hinted instance is on its cluster',
             node(2): None, node(3): None},
            self.reasons(spec(hints={'different_host': uuids.a})))

    def test_hint_as_single_value_or_list(self):
        self.assertEqual([node(2), node(3)], self.passing(spec(
            hints={'different_host': uuids.a})))
        self.assertEqual([node(1), node(2)], self.passing(spec(
            hints={'different_host': uuids.b})))
        self.assertEqual([node(2)], self.passing(spec(
            hints={'different_host': [uuids.a, uuids.b]})))
        self.assertEqual([node(2), node(3)], self.passing(spec(
            hints={'different_host': [uuids.a, uuids.gone]})))

    def test_sibling_cluster_of_the_same_service_passes(self):
        spec_obj = spec(hints={'different_host': [uuids.a]})
        shared = {uuids.a: objects.Instance(uuid=uuids.a, host='svc1')}
        hosts = [host('svc1', node(1), shared), host('svc1', node(2), shared),
                 host('svc2', node(3))]
        # nova's filter rejects every cluster of svc1
        self.assertEqual([node(3)], self.run_filters(
            nova_affinity.DifferentHostFilter(), hosts, spec_obj))
        self.assertEqual([node(2), node(3)], self.passing(spec_obj, hosts))

    def test_cluster_under_another_service_or_not_vmware(self):
        hosts = [host('svc1', node(2)), host('svc9', node(1))]
        self.assertEqual([node(2)], self.passing(
            spec(hints={'different_host': uuids.a}), hosts))
        # non-VMware nodes count by node name
        self.source.nodes = {uuids.a: 'bm-1'}
        hosts = [host('ironic', 'bm-1'), host('ironic', 'bm-2')]
        self.assertEqual(['bm-2'], self.passing(
            spec(hints={'different_host': uuids.a}), hosts))

    def test_no_hint_passes_all(self):
        self.assertEqual(self.all, self.passing(spec()))
        self.assertEqual(self.all, self.passing(spec(
            hints={'same_host': [uuids.a]})))
        self.assertEqual(self.all, self.passing(objects.RequestSpec()))

    def test_hint_naming_no_existing_instance_passes_all(self):
        for hint in (uuids.gone, [uuids.gone, uuids.other],
                     uuids.building):
            self.assertEqual(self.all, self.passing(spec(
                hints={'different_host': hint})), hint)

    def test_rebuild_passes_all_and_runs_once_per_request(self):
        self.assertFalse(self.filter.RUN_ON_REBUILD)
        self.assertTrue(self.filter.run_filter_once_per_request)
        self.assertFalse(self.filter.run_filter_for_index(1))
        self.assertEqual([node(2)], self.passing(spec(
            hints={'different_host': [uuids.a, uuids.b]})))
        self.assertEqual(self.all, self.passing(spec(
            hints=dict(fakes.REBUILD, different_host=[uuids.a, uuids.b]))))

    def test_odd_host_data(self):
        class Bare:
            pass

        spec_obj = spec(hints={'different_host': uuids.a})
        odd = [host('svc1', None), host('svc1', 42), Bare(), self.hosts[0]]
        self.assertEqual(odd[:3], self.filter.filter_all(odd, spec_obj))
