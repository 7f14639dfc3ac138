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
from nova.conductor import manager as conductor_manager
from nova import objects

from tests.functional import base
from tests.functional import fake_driver

EsxiHost = fake_driver.EsxiHost
ClusterSpec = fake_driver.ClusterSpec


class Held(fixtures.Fixture):
    """Holds a step of nova's until :meth:`release` (at the latest when the
    fixture is cleaned up)."""

    def _setUp(self):
        self.released = threading.Event()
        self.addCleanup(self.released.set)

    def release(self):
        self.released.set()


class HeldBuilds(Held):
    """Hold the compute's build of servers whose name ends in ``-held``:
    scheduled and allocated in placement, but not yet claimed by the
    compute (no ``instance.node``)."""

    def _setUp(self):
        super()._setUp()
        original = compute_manager.ComputeManager._do_build_and_run_instance
        fixture = self

        def build(manager_self, context, instance, *args, **kwargs):
            if instance.display_name.endswith('-held'):
                fixture.released.wait(60)
            return original(manager_self, context, instance, *args,
                            **kwargs)

        self.useFixture(fixtures.MonkeyPatch(
            'nova.compute.manager.ComputeManager._do_build_and_run_instance',
            build))


class HeldJoin(Held):
    """Hold nova-api between creating a server's build request and adding
    the server to its group, for one server posted after :meth:`arm`."""

    def _setUp(self):
        super()._setUp()
        self.lock = threading.Lock()
        self.armed = None  # joins to let pass before the held one
        self.holding = threading.Event()
        original = objects.InstanceGroup.add_members
        fixture = self

        def add_members(cls, context, group_uuid, instance_uuids):
            with fixture.lock:
                hold = fixture.armed == 0
                if fixture.armed is not None:
                    fixture.armed = None if hold else fixture.armed - 1
            if hold:
                fixture.holding.set()
                fixture.released.wait(60)
            return original(context, group_uuid, instance_uuids)

        self.useFixture(fixtures.MonkeyPatch(
            'nova.objects.InstanceGroup.add_members',
            classmethod(add_members)))

    def arm(self, let_pass=0):
        """Hold the join after ``let_pass`` joins."""
        self.holding.clear()
        self.released.clear()
        with self.lock:
            self.armed = let_pass


class HeldAfterScheduling(Held):
    """Hold the conductor of servers whose name ends in ``-claimed``: the
    scheduler has claimed them in placement, and they are still build
    requests."""

    def _setUp(self):
        super()._setUp()
        original = conductor_manager.ComputeTaskManager._schedule_instances
        fixture = self

        def schedule(manager_self, context, request_spec, instance_uuids,
                     *args, **kwargs):
            selected = original(manager_self, context, request_spec,
                                instance_uuids, *args, **kwargs)
            try:
                name = objects.BuildRequest.get_by_instance_uuid(
                    context, instance_uuids[0]).instance.display_name
            except Exception:  # a reschedule: no build request
                name = ''
            if name.endswith('-claimed'):
                fixture.released.wait(60)
            return selected

        self.useFixture(fixtures.MonkeyPatch(
            'nova.conductor.manager.ComputeTaskManager._schedule_instances',
            schedule))


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

    def test_member_that_joins_its_group_after_a_later_one(self):
        # nova-api creates a server's build request, then adds the server
        # to its group: the second request joins in between, and is
        # scheduled (claimed, still a build request) before the first is
        joins = self.useFixture(HeldJoin())
        claimed = self.useFixture(HeldAfterScheduling())

        def scenario(estate):
            claimed.released.clear()
            group = estate.group('anti-join', 'anti-affinity')
            on_c1 = estate.flavor('on-c1', memory_mb=512,
                                  pin=estate.pin('c1'))
            joins.arm()
            first = {}
            poster = threading.Thread(target=lambda: first.update(
                estate.post(on_c1, 'first', group=group)))
            poster.start()
            self.assertTrue(joins.holding.wait(30))
            second = estate.post(on_c1, 'second-claimed', group=group)
            estate.wait_for_allocation(second)
            joins.release()
            poster.join(30)
            # the first counts the second, which joined the group earlier
            first_landed = estate.outcome(estate.wait(first))
            claimed.release()
            return estate.outcome(estate.wait(second)), first_landed

        self.assertEqual(('c1', base.NO_VALID_HOST),
                         self.in_both_topologies(scenario))

    def test_member_that_joins_between_instances_of_a_multi_create(self):
        # nova-api adds a multi-create's instances to the group one after
        # the other: a single request's member joins between the two
        joins = self.useFixture(HeldJoin())

        def scenario(estate):
            group = estate.group('anti-multi', 'anti-affinity')
            flavor = estate.flavor('small', memory_mb=512)
            request = estate.create_request(flavor, 'multi', group=group)
            request['server'].update(min_count=2, max_count=2,
                                     return_reservation_id=True)
            joins.arm(let_pass=1)
            reservation = {}
            poster = threading.Thread(target=lambda: reservation.update(
                self.admin_api.post_server(request)))
            poster.start()
            self.assertTrue(joins.holding.wait(30))
            # joins after the first instance, before the second
            single = estate.post(flavor, 'single', group=group)
            joins.release()
            poster.join(30)
            multi = self.admin_api.get_servers(search_opts={
                'reservation_id': reservation['reservation_id']})
            self.assertEqual(2, len(multi))
            return sorted(estate.outcome(estate.wait(server))
                          for server in multi + [single])

        # the single one counts the first instance, the second instance
        # counts the single one: three clusters
        self.assertEqual(['c1', 'c2', 'c3'],
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
