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

"""SameHostFilter by cluster, through nova's filter handler."""

from nova import objects
from nova.scheduler.filters import affinity_filter as nova_affinity
from oslo_utils.fixture import uuidsentinel as uuids

from nova_vmw_sched.filters import same_host_filter
from tests.unit import test_membership as fakes

node = fakes.node
host = fakes.host
spec = fakes.spec


class TestSameHost(fakes.FilterTestCase):

    FILTER = same_host_filter.SameHostFilter

    def setUp(self):
        super().setUp()
        self.source.nodes = {uuids.a: node(1), uuids.b: node(3),
                             uuids.building: None}

    def test_reasons(self):
        self.assertEqual(
            {node(1): None,
             node(2): 'same_host: none of the hinted instances is on its '
                      'cluster',
             node(3): 'same_host: none of the hinted instances is on its '
                      'cluster'},
            self.reasons(spec(hints={'same_host': uuids.a})))

    def test_hint_as_single_value_or_list(self):
        # the API's single string; nova stores it as a list of one
        self.assertEqual([node(1)], self.passing(spec(
            hints={'same_host': uuids.a})))
        self.assertEqual([node(3)], self.passing(spec(
            hints={'same_host': uuids.b})))
        self.assertEqual([node(1), node(3)], self.passing(spec(
            hints={'same_host': [uuids.a, uuids.b]})))
        self.assertEqual([node(1)], self.passing(spec(
            hints={'same_host': [uuids.a, uuids.gone]})))

    def test_sibling_cluster_of_the_same_service_fails(self):
        spec_obj = spec(hints={'same_host': [uuids.a]})
        self.assertEqual([node(1)], self.passing(spec_obj))
        # nova's filter reads the service host's instances, which every
        # cluster of svc1 sees
        shared = {uuids.a: objects.Instance(uuid=uuids.a, host='svc1')}
        hosts = [host('svc1', node(1), shared), host('svc1', node(2), shared),
                 host('svc2', node(3))]
        self.assertEqual([node(1), node(2)], self.run_filters(
            nova_affinity.SameHostFilter(), hosts, spec_obj))
        self.assertEqual([node(1)], self.passing(spec_obj, hosts))

    def test_cluster_under_another_service_or_not_vmware(self):
        hosts = [host('svc1', node(2)), host('svc9', node(1))]
        self.assertEqual([node(1)], self.passing(
            spec(hints={'same_host': uuids.a}), hosts))
        # non-VMware nodes count by node name
        self.source.nodes = {uuids.a: 'bm-1'}
        hosts = [host('ironic', 'bm-1'), host('ironic', 'bm-2')]
        self.assertEqual(['bm-1'], self.passing(
            spec(hints={'same_host': uuids.a}), hosts))

    def test_no_hint_passes_all(self):
        self.assertEqual(self.all, self.passing(spec()))
        self.assertEqual(self.all, self.passing(spec(
            hints={'different_host': [uuids.a]})))
        self.assertEqual(self.all, self.passing(objects.RequestSpec()))

    def test_hint_naming_no_existing_instance_passes_none(self):
        for hint in (uuids.gone, [uuids.gone, uuids.other],
                     uuids.building):
            self.assertEqual([], self.passing(spec(
                hints={'same_host': hint})), hint)

    def test_rebuild_passes_all_and_runs_once_per_request(self):
        self.assertFalse(self.filter.RUN_ON_REBUILD)
        self.assertTrue(self.filter.run_filter_once_per_request)
        self.assertFalse(self.filter.run_filter_for_index(1))
        self.assertEqual([], self.passing(spec(
            hints={'same_host': uuids.gone})))
        self.assertEqual(self.all, self.passing(spec(
            hints=dict(fakes.REBUILD, same_host=uuids.gone))))

    def test_odd_host_data(self):
        class Bare:
            pass

        spec_obj = spec(hints={'same_host': uuids.a})
        odd = [host('svc1', None), host('svc1', 42), Bare(), self.hosts[0]]
        self.assertEqual([self.hosts[0]],
                         self.filter.filter_all(odd, spec_obj))
