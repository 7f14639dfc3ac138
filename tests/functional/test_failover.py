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

"""Failover: clusters that change service, stale duplicate records, down
and disabled services, through nova's real services, in both topologies."""

import re

from nova.tests.functional.api import client as api_client

from tests.functional import base
from tests.functional import fake_driver


class TestFailover(base.ClusterTestCase):
    CLUSTERS = {
        'c%d' % n: fake_driver.ClusterSpec() for n in range(1, 6)}

    def _host_of(self, estate, name):
        servers = self.admin_api.get_servers(
            search_opts={'name': '^%s-%s$' % (estate.name, name)})
        return servers[0]['OS-EXT-SRV-ATTR:host']

    def test_shared_service_dies_standby_takes_two_clusters(self):
        def scenario(estate):
            group = estate.group('anti', 'anti-affinity')
            pair = estate.flavor('pair', memory_mb=512,
                                 pin=estate.pin('c1', 'c2'))
            only_c1 = estate.flavor('c1', memory_mb=512,
                                    pin=estate.pin('c1'))
            before = [estate.boot(pair, name='m%d' % i, group=group)[0]
                      for i in range(2)]
            # The service(s) managing c1 and c2 die; a standby service
            # (already running with its own cluster c5) takes both over.
            for host in {estate.service_of('c1'), estate.service_of('c2')}:
                estate.set_service(host, forced_down=True)
            standby = '%s-standby' % estate.name
            estate.start_service(standby, ['c5'])
            estate.take_over('c1', standby)
            estate.take_over('c2', standby)
            # The two members still name the dead service host, yet count
            # on their clusters: a third member has nowhere to go.
            third = estate.boot(pair, name='m2', group=group)[0]
            pinned = estate.boot(only_c1, name='pinned')[0]
            return (before, third, pinned,
                    self._host_of(estate, 'pinned') == standby)

        self.assertEqual((['c1', 'c2'], base.NO_VALID_HOST, 'c1', True),
                         self.in_both_topologies(scenario))

    def test_stale_duplicate_never_passes(self):
        def scenario(estate):
            ghost = '%s-ghost' % estate.name
            estate.add_stale_record('c1', ghost)
            flavor = estate.flavor('c1', memory_mb=512,
                                   pin=estate.pin('c1'))
            # The stale record has no instances, so nova's RAMWeigher
            # would prefer it every time; it must never be chosen.
            landed = [estate.boot(flavor, name='vm%d' % i)[0]
                      for i in range(3)]
            hosts = {self._host_of(estate, 'vm%d' % i) for i in range(3)}
            return landed, hosts == {estate.service_of('c1')}

        self.assertEqual((['c1', 'c1', 'c1'], True),
                         self.in_both_topologies(scenario))


class TestPinnedListFailover(base.ClusterTestCase):
    # Clusters that share a service go down together; c1 and c3 are on
    # different services in both topologies.
    TOPOLOGIES = (
        ('shared', (('c1', 'c2'), ('c3', 'c4'))),
        ('split', (('c1',), ('c2',), ('c3',), ('c4',))),
    )

    def _reason_line(self, estate):
        lines = [line for line in self.stdlog.logger.output.splitlines()
                 if 'No host left for instance' in line and
                 estate.vcenter in line]
        self.assertEqual(1, len(lines), lines)
        # Service host names differ between topologies; the rest must not.
        line = lines[0].split('] ', 1)[1]
        line = re.sub(r'instance \S+:', 'instance X:', line)
        line = line.replace(estate.vcenter, 'VC')
        for host in estate.services:
            line = line.replace(host, 'HOST')
        return line

    def test_first_service_down_then_disabled_then_none_left(self):
        def scenario(estate):
            flavor = estate.flavor('pin', memory_mb=512,
                                   pin=estate.pin('c1', 'c3'))
            c1_host = estate.service_of('c1')
            estate.set_service(c1_host, forced_down=True)
            down = estate.boot(flavor, name='a')[0]
            estate.set_service(c1_host, forced_down=False, disabled=True)
            disabled = estate.boot(flavor, name='b')[0]
            estate.set_service(estate.service_of('c3'), forced_down=True)
            none_left = estate.boot(flavor, name='c')[0]
            return down, disabled, none_left, self._reason_line(estate)

        down, disabled, none_left, line = self.in_both_topologies(scenario)
        self.assertEqual(('c3', 'c3', base.NO_VALID_HOST),
                         (down, disabled, none_left))
        # nova asks placement for enabled nodes only, so the disabled c1 is
        # not even a candidate; the down c3 is, and our filter rejects it.
        self.assertIn('domain-c1.VC: not a candidate (service HOST is '
                      'disabled (test)', line)
        self.assertIn('domain-c3.VC on HOST: VMwareClusterFilter: service '
                      'HOST is down', line)

    def test_reason_line_names_every_listed_cluster(self):
        def scenario(estate):
            group = estate.group('anti', 'anti-affinity')
            on_c3 = estate.flavor('c3', memory_mb=512, pin=estate.pin('c3'))
            member = estate.boot(on_c3, name='member', group=group)[0]
            estate.set_service(estate.service_of('c1'), forced_down=True)
            flavor = estate.flavor(
                'three', memory_mb=512,
                pin=estate.pin('c1', 'c3') + ',domain-c9')
            refused = estate.boot(flavor, name='refused', group=group)[0]
            return member, refused, self._reason_line(estate)

        member, refused, line = self.in_both_topologies(scenario)
        self.assertEqual(('c3', base.NO_VALID_HOST), (member, refused))
        self.assertIn('domain-c1.VC on HOST: VMwareClusterFilter: service '
                      'HOST is down', line)
        self.assertIn('domain-c3.VC on HOST: ServerGroupAntiAffinityFilter: '
                      'anti-affinity: 1 group member(s) on its cluster, at '
                      'most 1 allowed', line)
        self.assertIn('domain-c9: not a candidate (no compute node of that '
                      'cluster)', line)


class TestTakeoverProcedure(base.ClusterTestCase):
    """failover.rst, steps 3 and 4, as written, on nova 34."""

    CLUSTERS = {
        'c%d' % n: fake_driver.ClusterSpec() for n in range(1, 6)}

    def test_dead_service_record_stays_while_instances_name_it(self):
        def scenario(estate):
            flavor = estate.flavor('small', memory_mb=512,
                                   pin=estate.pin('c1'))
            first = estate.boot(flavor, name='vm')[0]
            dead, standby = estate.fail_over('c1')
            # the dead service no longer has a compute node record ...
            hypervisors = self.admin_api.api_get(
                '/os-hypervisors/detail').body['hypervisors']
            on_dead = [h for h in hypervisors
                       if h['service']['host'] == dead]
            # ... but nova refuses to delete it while an instance still
            # names it as its host
            service = self.admin_api.get_services(
                binary='nova-compute', host=dead)[0]
            exc = self.assertRaises(api_client.OpenStackApiException,
                                    self.admin_api.api_delete,
                                    '/os-services/%s' % service['id'])
            # what failover.rst says to do instead: leave it disabled and
            # forced down; new boots go to the cluster under the standby
            estate.set_service(dead, disabled=True)
            second = estate.boot(flavor, name='vm2')[0]
            return (first, len(on_dead), exc.response.status_code,
                    second, self._host(estate, 'vm2') == standby)

        self.assertEqual(('c1', 0, 409, 'c1', True),
                         self.in_both_topologies(scenario))

    def _host(self, estate, name):
        return estate.server(name)['OS-EXT-SRV-ATTR:host']
