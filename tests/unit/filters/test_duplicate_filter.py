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

"""VMwareClusterDuplicateFilter: one record per cluster, the live one."""

import datetime

from oslo_utils import timeutils

import nova.conf
from nova import objects
from nova.scheduler import filters as nova_filters
from nova.scheduler import host_manager
from nova import test

from nova_vmw_sched import conf as vmw_conf
from nova_vmw_sched.filters import duplicate_filter

CONF = nova.conf.CONF
VC = '6f1c2a6e-2f6b-4c39-9d55-3b1f4c1e7a01'
C1 = 'domain-c1.' + VC
C2 = 'domain-c2.' + VC


def host(service_host, node, disabled=False, forced_down=False,
         heartbeat_age=0, updated_age=None):
    """A HostState with nova's service dict and an ``updated`` time."""
    state = host_manager.HostState(service_host, node, 'cell1')
    now = timeutils.utcnow()
    state.service = {
        'host': service_host, 'binary': 'nova-compute',
        'disabled': disabled, 'disabled_reason': 'test' if disabled else None,
        'forced_down': forced_down,
        'last_seen_up': now - datetime.timedelta(seconds=heartbeat_age),
        'created_at': now - datetime.timedelta(days=1),
        'updated_at': now}
    if updated_age is not None:
        state.updated = (now - datetime.timedelta(seconds=updated_age)
                         ).replace(tzinfo=datetime.timezone.utc)
    return state


class TestDuplicateFilter(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        vmw_conf.register_opts(CONF)
        self.handler = nova_filters.HostFilterHandler()
        self.filter = duplicate_filter.VMwareClusterDuplicateFilter()
        self.spec = objects.RequestSpec(scheduler_hints={})

    def passing(self, hosts):
        return [(h.host, h.nodename) for h in self.handler.
                get_filtered_objects([self.filter], hosts, self.spec, 0)]

    def test_declares_rebuild_and_once_per_request(self):
        self.assertFalse(self.filter.RUN_ON_REBUILD)
        self.assertTrue(self.filter.run_filter_once_per_request)

    def test_unique_clusters_and_other_nodes_pass(self):
        nameless = host('x', 'x')
        nameless.nodename = None
        hosts = [host('a', C1), host('a', C2), host('kvm1', 'kvm1'),
                 host('kvm2', 'kvm1'), nameless]
        self.assertEqual([('a', C1), ('a', C2), ('kvm1', 'kvm1'),
                          ('kvm2', 'kvm1'), ('x', None)],
                         self.passing(hosts))

    def test_live_service_wins_over_down_one(self):
        stale = host('old', C1, heartbeat_age=3600, updated_age=1)
        live = host('new', C1, updated_age=100)
        self.assertEqual([('new', C1)], self.passing([stale, live]))
        self.assertEqual([('new', C1)], self.passing([live, stale]))

    def test_enabled_service_wins_over_disabled_and_forced_down(self):
        live = host('new', C1, updated_age=100)
        self.assertEqual([('new', C1)], self.passing(
            [host('old', C1, disabled=True, updated_age=1), live]))
        self.assertEqual([('new', C1)], self.passing(
            [host('old', C1, forced_down=True, updated_age=1), live]))

    def test_both_live_most_recently_updated_wins(self):
        older = host('a', C1, updated_age=300)
        newer = host('b', C1, updated_age=5)
        never = host('c', C1)
        self.assertEqual([('b', C1)], self.passing([older, newer, never]))
        self.assertEqual([('b', C1)], self.passing([never, newer, older]))

    def test_tie_is_broken_by_host_name_deterministically(self):
        first = host('a', C1, updated_age=5)
        second = host('b', C1)
        second.updated = first.updated
        self.assertEqual([('b', C1)], self.passing([first, second]))
        self.assertEqual([('b', C1)], self.passing([second, first]))

    def test_both_down_the_newer_record_is_kept(self):
        # With no live record the cluster still has exactly one candidate;
        # ComputeFilter then judges its service.
        self.assertEqual([('b', C1)], self.passing(
            [host('a', C1, forced_down=True, updated_age=50),
             host('b', C1, forced_down=True, updated_age=10)]))

    def test_reason_names_the_record_used(self):
        stale = host('old', C1, heartbeat_age=3600)
        live = host('new', C1)
        losers = self.filter.prepare_hosts(self.spec, [stale, live])
        self.assertEqual('stale duplicate of the record under new',
                         self.filter.check(stale, losers))
        self.assertIsNone(self.filter.check(live, losers))

    def test_odd_host_data_never_raises(self):
        odd = host_manager.HostState('odd', C1, 'cell1')  # no service
        odd.updated = None
        weird = host('weird', C1)
        weird.service = {'disabled': None}  # no heartbeat fields
        # one record of C1 (whichever) and C2
        passed = self.passing([odd, weird, host('h', C2)])
        self.assertEqual(2, len(passed))
        self.assertEqual({C1, C2}, {node for _, node in passed})
