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

"""Server groups and hints under concurrent requests, through nova's real
API, conductor, scheduler and placement, each in both topologies.

Members are posted at the same moment from threads, as orchestrators do,
and members are held between scheduling and their compute's claim (their
``instance.node`` still empty), as a busy shared service holds them. nova's
late check on the compute is off (``[workarounds]
disable_group_policy_check_upcall = True``, the documented setup), so the
policy is kept by the scheduler alone.
"""

import collections
import threading

import fixtures

from nova.compute import manager as compute_manager

from tests.functional import base
from tests.functional import fake_driver

EsxiHost = fake_driver.EsxiHost
ClusterSpec = fake_driver.ClusterSpec


class HeldBuilds(fixtures.Fixture):
    """Hold the compute's build of servers whose name ends in ``-held``
    until :meth:`release`: scheduled and allocated in placement, but not
    yet claimed by the compute (no ``instance.node``)."""

    def _setUp(self):
        self.released = threading.Event()
        self.held = []
        original = compute_manager.ComputeManager._do_build_and_run_instance
        fixture = self

        def build(manager_self, context, instance, *args, **kwargs):
            if instance.display_name.endswith('-held'):
                fixture.held.append(instance.uuid)
                fixture.released.wait(60)
            return original(manager_self, context, instance, *args,
                            **kwargs)

        self.useFixture(fixtures.MonkeyPatch(
            'nova.compute.manager.ComputeManager._do_build_and_run_instance',
            build))
        self.addCleanup(self.released.set)

    def release(self):
        self.released.set()


class TestConcurrentMembers(base.ClusterTestCase):
    # c1 has the most free RAM, so nova's RAMWeigher alone would send
    # every request there: only the group policy spreads them.
    CLUSTERS = {'c%d' % n: ClusterSpec(hosts=(EsxiHost(memory_mb=m),))
                for n, m in enumerate((8192, 7168, 6144, 5120), start=1)}

    def _all_scheduled_then_release(self, estate, held):
        """A ``before_wait`` for boot_at_once: every member is scheduled
        (allocated in placement) before any compute claims one."""
        def before_wait(servers):
            for server in servers:
                estate.wait_for_allocation(server)
            held.release()
        return before_wait

    def test_anti_affinity_members_posted_at_once(self):
        held = self.useFixture(HeldBuilds())

        def scenario(estate):
            held.released.clear()
            group = estate.group('anti', 'anti-affinity')
            flavor = estate.flavor('small', memory_mb=512)
            landed = estate.boot_at_once(
                flavor, ['vm%d-held' % i for i in range(4)], group=group,
                before_wait=self._all_scheduled_then_release(estate, held))
            # a fifth finds every cluster taken
            fifth = estate.boot(flavor, name='vm4', group=group)[0]
            return sorted(landed), fifth

        self.assertEqual((['c1', 'c2', 'c3', 'c4'], base.NO_VALID_HOST),
                         self.in_both_topologies(scenario))

    def test_anti_affinity_more_members_than_clusters_at_once(self):
        def scenario(estate):
            group = estate.group('anti2', 'anti-affinity',
                                 rules={'max_server_per_host': 2})
            flavor = estate.flavor('small', memory_mb=512)
            landed = estate.boot_at_once(
                flavor, ['vm%d' % i for i in range(9)], group=group)
            # 8 fit, two per cluster; exactly one is refused
            return sorted(collections.Counter(landed).items())

        self.assertEqual(
            [('NoValidHost', 1), ('c1', 2), ('c2', 2), ('c3', 2),
             ('c4', 2)],
            self.in_both_topologies(scenario))

    def test_affinity_members_posted_at_once(self):
        held = self.useFixture(HeldBuilds())

        def scenario(estate):
            held.released.clear()
            group = estate.group('aff', 'affinity')
            # after one member, c1 has less free RAM than c2: RAMWeigher
            # alone would move on
            flavor = estate.flavor('mid', memory_mb=2048)
            return estate.boot_at_once(
                flavor, ['vm%d-held' % i for i in range(4)], group=group,
                before_wait=self._all_scheduled_then_release(estate, held))

        self.assertEqual(['c1'] * 4, self.in_both_topologies(scenario))

    def test_soft_anti_affinity_members_posted_at_once(self):
        self.flags(cluster_soft_anti_affinity_weight_multiplier=100.0,
                   group='vmware_scheduler')

        def scenario(estate):
            group = estate.group('soft', 'soft-anti-affinity')
            flavor = estate.flavor('small', memory_mb=512)
            return sorted(estate.boot_at_once(
                flavor, ['vm%d' % i for i in range(4)], group=group))

        self.assertEqual(['c1', 'c2', 'c3', 'c4'],
                         self.in_both_topologies(scenario))

    def test_member_not_yet_claimed_by_its_compute_counts(self):
        held = self.useFixture(HeldBuilds())

        def scenario(estate):
            results = []
            # the affinity group's first member is pinned to c2; RAMWeigher
            # alone would send the second one to c1
            for policy, pin in (('anti-affinity', None),
                                ('affinity', estate.pin('c2'))):
                group = estate.group(policy, policy)
                flavor = estate.flavor(policy, memory_mb=512)
                first_flavor = estate.flavor(policy + '-first',
                                             memory_mb=512, pin=pin)
                first = estate.post(first_flavor, '%s-a-held' % policy,
                                    group=group)
                # scheduled and claimed in placement; the compute has not
                # set instance.node
                estate.wait_for_allocation(first)
                self.assertIsNone(self.admin_api.get_server(first['id'])[
                    'OS-EXT-SRV-ATTR:hypervisor_hostname'])
                second = estate.boot(flavor, name='%s-b' % policy,
                                     group=group)[0]
                held.release()
                results.append((estate.outcome(estate.wait(first)), second))
                held.released.clear()
            return results

        self.assertEqual([('c1', 'c2'), ('c2', 'c2')],
                         self.in_both_topologies(scenario))

    def test_affinity_members_at_once_beyond_one_cluster(self):
        def scenario(estate):
            group = estate.group('aff-big', 'affinity')
            # two fit on c1; a third would have to go elsewhere
            flavor = estate.flavor('big', memory_mb=3072)
            return sorted(estate.boot_at_once(
                flavor, ['vm%d' % i for i in range(3)], group=group))

        self.assertEqual([base.NO_VALID_HOST, 'c1', 'c1'],
                         self.in_both_topologies(scenario))

    def test_hints_name_an_instance_not_yet_claimed(self):
        held = self.useFixture(HeldBuilds())

        def scenario(estate):
            flavor = estate.flavor('small', memory_mb=512)
            # the anchor goes to c2 (pinned), then is held
            pinned = estate.flavor('pinned', memory_mb=512,
                                   pin=estate.pin('c2'))
            anchor = estate.post(pinned, 'anchor-held')
            estate.wait_for_allocation(anchor)
            same = estate.boot(flavor, name='same',
                               hints={'same_host': [anchor['id']]})[0]
            different = estate.boot(
                flavor, name='different',
                hints={'different_host': [anchor['id']]})[0]
            held.release()
            return estate.outcome(estate.wait(anchor)), same, different

        # RAMWeigher alone would put both on c1
        self.assertEqual(('c2', 'c2', 'c1'),
                         self.in_both_topologies(scenario))
