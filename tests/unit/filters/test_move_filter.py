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

"""VMwareClusterMoveFilter, through nova's filter handler."""

import logging

import fixtures
from oslo_utils.fixture import uuidsentinel as uuids

from nova_vmw_sched.filters import move_filter
from nova_vmw_sched import data
from tests import data_fixture
from tests.unit import test_membership as fakes

node = fakes.node
host = fakes.host


def move(ignore_hosts=(), flavor_id=1, instance_uuid=None):
    """A move request as nova hands it over: ignore_hosts set (a list)."""
    spec_obj = fakes.spec(instance_uuid=instance_uuid or uuids.moving)
    spec_obj.flavor.id = flavor_id
    spec_obj.ignore_hosts = list(ignore_hosts) if ignore_hosts is not None \
        else None
    return spec_obj


class TestMoveFilter(fakes.FilterTestCase):

    FILTER = move_filter.VMwareClusterMoveFilter

    def setUp(self):
        super().setUp()
        # the instance is on c1 of svc1 (with c2), flavor 1
        self.source.instances = {uuids.moving: (node(1), 1)}

    def test_reasons(self):
        self.assertEqual(
            {node(1): 'source cluster of the move (a migration leaves its '
                      'cluster)', node(2): None, node(3): None},
            self.reasons(move()))
        self.flags(allow_resize_to_same_host=False)
        self.assertEqual(
            {node(1): 'source cluster of the resize ([DEFAULT] '
                      'allow_resize_to_same_host = False)',
             node(2): None, node(3): None},
            self.reasons(move(flavor_id=2)))

    def test_cold_migration_leaves_its_cluster_not_its_service(self):
        self.assertEqual([node(2), node(3)], self.passing(move()))
        # the same when nova left out hosts (live migration, evacuation)
        self.assertEqual([node(2), node(3)], self.passing(
            move(ignore_hosts=['svc9'])))

    def test_resize_follows_allow_resize_to_same_host(self):
        self.flags(allow_resize_to_same_host=True)
        self.assertEqual(self.all, self.passing(move(flavor_id=2)))
        self.flags(allow_resize_to_same_host=False)
        self.assertEqual([node(2), node(3)],
                         self.passing(move(flavor_id=2)))
        # a cold migration leaves its cluster whatever the option says
        self.flags(allow_resize_to_same_host=True)
        self.assertEqual([node(2), node(3)], self.passing(move()))

    def test_new_boots_ask_nothing(self):
        self.assertEqual(self.all, self.passing(move(ignore_hosts=None)))
        self.assertEqual(self.all, self.passing(fakes.spec()))
        self.assertEqual([], self.source.calls)

    def test_instance_without_node_passes_all(self):
        # shelved and offloaded, or not in a cell at all
        self.source.instances = {uuids.moving: (None, 1)}
        self.assertEqual(self.all, self.passing(move()))
        self.assertEqual(self.all, self.passing(
            move(instance_uuid=uuids.unknown)))

    def test_one_lookup_per_request(self):
        spec_obj = move()
        for _ in range(3):
            self.passing(spec_obj)
        self.assertEqual([[uuids.moving]], self.source.calls)

    def test_failed_lookup_refuses_with_one_warning(self):
        class Broken(fakes.FakeSource):
            def instance_of(self, context, uuid):
                raise data.LookupFailed('cell X did not answer')

        self.useFixture(data_fixture.DataFixture(members=Broken()))
        warnings = fakes.Records(logging.WARNING)
        self.useFixture(fixtures.LogHandler(
            warnings, name='nova_vmw_sched', nuke_handlers=False))
        self.assertEqual([], self.passing(move()))
        self.assertEqual(1, len(warnings.records))
        message = warnings.records[0].getMessage()
        self.assertIn(uuids.moving, message)
        self.assertIn('cell X did not answer', message)

    def test_odd_hosts(self):
        class Bare:
            pass

        odd = [host('svc1', None), host('svc1', 42), host('svc1', ''),
               host('svc1', 'domain-c1')]
        self.assertEqual([None, 42, '', 'domain-c1'],
                         self.passing(move(), hosts=odd))
        self.assertEqual(1, len(self.filter.filter_all([Bare()], move())))

    def test_rebuild_passes_all(self):
        spec_obj = move()
        spec_obj.scheduler_hints = {'_nova_check_type': ['rebuild']}
        self.assertEqual(self.all, self.passing(spec_obj))
