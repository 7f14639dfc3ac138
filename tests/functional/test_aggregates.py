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

"""Availability zones and aggregate-based isolation reach every cluster of
a service host (the keeper's aggregates duty), in both topologies."""

import uuid

from nova import context as base_context
from nova.scheduler.client import report

from nova_vmw_sched import aggregates
from tests.functional import base
from tests.functional import fake_driver

ALL = ['c1', 'c2', 'c3', 'c4']


class CountingClient:
    """A report client that counts its PUTs."""

    def __init__(self, client):
        self.client = client
        self.puts = 0

    def get(self, url, version=None):
        return self.client.get(url, version=version)

    def put(self, url, body, version=None):
        self.puts += 1
        return self.client.put(url, body, version=version)


class AggregateTestCase(base.ClusterTestCase):
    CLUSTERS = {
        'c%d' % n: fake_driver.ClusterSpec() for n in range(1, 7)}
    #: what the tests allow the keeper: one interval plus a run (slack for
    #: a loaded test machine)
    BOUND = base.ClusterTestCase.KEEPER_INTERVAL + 10.0

    def aggregate(self, estate, name, hosts=None, zone=None, metadata=None):
        """A nova host aggregate of ``hosts`` (default: every service of
        the estate); returns its API body."""
        body = self.admin_api.post_aggregate({'aggregate': {
            'name': '%s-%s' % (estate.name, name),
            'availability_zone': zone}})
        if metadata:
            self.admin_api.post_aggregate_action(
                body['id'], {'set_metadata': {'metadata': metadata}})
        for host in (estate.services if hosts is None else hosts):
            self.admin_api.add_host_to_aggregate(body['id'], host)
        return body

    def provider(self, estate, label):
        return self.placement.get(
            '/resource_providers?name=%s' % estate.node(label),
            version='1.19').body['resource_providers'][0]['uuid']

    def provider_aggregates(self, estate, label):
        return set(self.placement.get(
            '/resource_providers/%s/aggregates'
            % self.provider(estate, label), version='1.19'
        ).body['aggregates'])

    def members(self, estate, agg, labels):
        """The clusters among ``labels`` in the placement aggregate."""
        return [label for label in labels
                if agg['uuid'] in self.provider_aggregates(estate, label)]

    def wait_for_members(self, estate, agg, labels):
        """Wait, without poking the keeper, until exactly ``labels`` of
        the estate's clusters are members."""
        started = sorted(label for labels_of in estate.services.values()
                         for label in labels_of)
        self.wait_until(
            lambda: self.members(estate, agg, started) == sorted(labels),
            self.BOUND,
            'members %s of %s' % (labels, agg['name']))

    def add_cluster(self, estate, label, host):
        """Cluster ``label`` appears under the running service ``host``."""
        nodes = fake_driver.VMwareClusterFakeDriver.estate[host]
        nodes[estate.node(label)] = estate.clusters[label]
        estate.services[host] = estate.services[host] + (label,)
        compute = self.computes[host]
        compute.driver._set_nodes(list(nodes))
        ctxt = base_context.get_admin_context()
        with base_context.target_cell(
                ctxt, self.host_mappings[host].cell_mapping) as cctxt:
            compute.manager.update_available_resource(cctxt)

    def boot_in(self, estate, zone, flavor, name):
        request = estate.create_request(flavor, name)
        request['server']['availability_zone'] = zone
        return estate.outcome(estate.wait(
            self.admin_api.post_server(request)))

    def pinned(self, estate, label):
        return estate.flavor('pin-%s' % label, memory_mb=512,
                             pin=estate.pin(label))


class TestAvailabilityZone(AggregateTestCase):

    def zone(self, estate):
        zone = '%s-zone' % estate.name
        agg = self.aggregate(estate, 'az', zone=zone)
        self.converge()
        return agg, zone

    def test_pinned_flavor_reaches_every_cluster_of_the_zone(self):
        def scenario(estate):
            agg, zone = self.zone(estate)
            return (self.members(estate, agg, ALL),
                    [self.boot_in(estate, zone, self.pinned(estate, label),
                                  'vm-%s' % label) for label in ALL])

        self.assertEqual((ALL, ALL), self.in_both_topologies(scenario))

    def test_anti_affinity_members_in_the_zone(self):
        def scenario(estate):
            _, zone = self.zone(estate)
            group = estate.group('anti', 'anti-affinity')
            flavor = estate.flavor('small', memory_mb=512)
            landed = []
            for i in range(5):
                request = estate.create_request(flavor, 'm%d' % i, group)
                request['server']['availability_zone'] = zone
                landed.append(estate.outcome(estate.wait(
                    self.admin_api.post_server(request))))
            return sorted(landed[:4]), landed[4]

        self.assertEqual((ALL, base.NO_VALID_HOST),
                         self.in_both_topologies(scenario))

    def test_unpinned_boots_use_every_cluster(self):
        def scenario(estate):
            _, zone = self.zone(estate)
            # one fills a cluster: four need every cluster of the zone
            whole = estate.flavor('whole', memory_mb=4096)
            landed = [self.boot_in(estate, zone, whole, 'vm%d' % i)
                      for i in range(5)]
            return sorted(landed[:4]), landed[4]

        self.assertEqual((ALL, base.NO_VALID_HOST),
                         self.in_both_topologies(scenario))

    def test_host_leaving_the_zone_takes_all_its_clusters(self):
        def scenario(estate):
            # a zone of one host ends with it: another keeps it there
            estate.start_service('%s-spare' % estate.name, ['c5'])
            agg, zone = self.zone(estate)
            before = self.members(estate, agg, ALL)
            gone = estate.service_of('c1')
            self.admin_api.remove_host_from_aggregate(agg['id'], gone)
            stay = [label for label in ALL
                    if estate.service_of(label) != gone]
            self.wait_for_members(estate, agg, stay + ['c5'])
            landed = [self.boot_in(estate, zone, self.pinned(estate, label),
                                   'vm-%s' % label) == label
                      for label in ALL]
            return before, landed == [label in stay for label in ALL]

        self.assertEqual((ALL, True), self.in_both_topologies(scenario))

    def test_cluster_added_to_a_running_service_joins(self):
        def scenario(estate):
            agg, zone = self.zone(estate)
            self.add_cluster(estate, 'c5', estate.service_of('c4'))
            self.wait_for_members(estate, agg, ALL + ['c5'])
            return self.boot_in(estate, zone, self.pinned(estate, 'c5'),
                                'vm')

        self.assertEqual('c5', self.in_both_topologies(scenario))

    def test_cluster_taken_over_follows_its_new_host(self):
        def scenario(estate):
            standby = '%s-standby' % estate.name
            outside = '%s-outside' % estate.name
            estate.start_service(standby, ['c5'])
            agg, zone = self.zone(estate)
            # a service outside the zone, started after it was made
            estate.start_service(outside, ['c6'])
            self.converge()
            before = self.boot_in(estate, zone, self.pinned(estate, 'c6'),
                                  'before')
            # c6 moves into the zone, c1 out of it
            estate.take_over('c6', standby)
            estate.take_over('c1', outside)
            self.wait_for_members(estate, agg,
                                  ['c2', 'c3', 'c4', 'c5', 'c6'])
            flavor = estate.flavor('either', memory_mb=512,
                                   pin=estate.pin('c1', 'c6'))
            return before, self.boot_in(estate, zone, flavor, 'after')

        self.assertEqual((base.NO_VALID_HOST, 'c6'),
                         self.in_both_topologies(scenario))

    def test_other_provider_aggregates_are_left_alone(self):
        def scenario(estate):
            foreign = str(uuid.uuid4())
            rp = self.provider(estate, 'c2')
            current = self.placement.get(
                '/resource_providers/%s/aggregates' % rp,
                version='1.19').body
            self.placement.put(
                '/resource_providers/%s/aggregates' % rp, version='1.19',
                body={'aggregates': current['aggregates'] + [foreign],
                      'resource_provider_generation':
                          current['resource_provider_generation']})
            agg, _ = self.zone(estate)
            other = self.aggregate(estate, 'other')
            self.converge()
            kept = self.provider_aggregates(estate, 'c2')
            return (sorted(kept) == sorted(
                        [foreign, agg['uuid'], other['uuid']]),
                    self.members(estate, other, ALL))

        self.assertEqual((True, ALL), self.in_both_topologies(scenario))


class TestKeeperRules(AggregateTestCase):

    def test_dry_run_and_second_run_write_nothing(self):
        def scenario(estate):
            # this test drives the duty itself
            self.keeper.stop()
            ctxt = base_context.get_admin_context()
            client = CountingClient(report.report_client_singleton())
            agg = self.aggregate(estate, 'az', zone='%s-zone' % estate.name)
            planned = aggregates.sync(ctxt, client, dry_run=True)
            dry_puts = client.puts
            done = aggregates.sync(ctxt, client)
            puts = client.puts
            again = aggregates.sync(ctxt, client)
            # nova mirrored the first node of each host: the rest are ours
            expected = len(ALL) - len(estate.services)
            return (dry_puts, planned == done, len(done) == expected,
                    all(agg['uuid'] in line for line in done),
                    puts == len(done), again, client.puts == puts,
                    self.members(estate, agg, ALL))

        self.assertEqual((0, True, True, True, True, [], True, ALL),
                         self.in_both_topologies(scenario))


class TestTenantIsolation(AggregateTestCase):

    def test_tenant_aggregate_keeps_every_cluster(self):
        self.flags(limit_tenants_to_placement_aggregate=True,
                   group='scheduler')

        def scenario(estate):
            agg = self.aggregate(estate, 'tenant', metadata={
                'filter_tenant_id': self.admin_api.project_id})
            self.converge()
            return (self.members(estate, agg, ALL),
                    [estate.boot(self.pinned(estate, label),
                                 name='vm-%s' % label)[0]
                     for label in ALL])

        self.assertEqual((ALL, ALL), self.in_both_topologies(scenario))


class TestIsolatedAggregate(AggregateTestCase):

    def add_trait(self, rp, trait):
        """Add ``trait`` to provider ``rp``; the placement keeper may write
        the same provider meanwhile (a generation conflict): read and try
        again until placement takes it."""
        self.placement.put('/traits/%s' % trait, body=None, version='1.6')

        def added():
            current = self.placement.get(
                '/resource_providers/%s/traits' % rp, version='1.6').body
            answer = self.placement.put(
                '/resource_providers/%s/traits' % rp, version='1.6', body={
                    'traits': current['traits'] + [trait],
                    'resource_provider_generation':
                        current['resource_provider_generation']})
            if answer.status not in (200, 409):
                self.fail('placement answered %s to a trait update: %s'
                          % (answer.status, answer.body))
            return answer.status == 200
        self.wait_until(added, what='trait %s on provider %s' % (trait, rp))

    def test_isolated_aggregate_keeps_every_cluster(self):
        self.flags(enable_isolated_aggregate_filtering=True,
                   group='scheduler')

        def scenario(estate):
            trait = 'CUSTOM_X_%s' % estate.name.upper()
            estate.start_service('%s-plain' % estate.name, ['c5'])
            hosts = {estate.service_of(label) for label in ALL}
            agg = self.aggregate(estate, 'isolated', hosts=sorted(hosts),
                                 metadata={'trait:%s' % trait: 'required'})
            for label in ALL:
                self.add_trait(self.provider(estate, label), trait)
            self.converge()
            plain = [estate.boot(self.pinned(estate, label),
                                 name='plain-%s' % label)[0]
                     for label in ALL + ['c5']]
            wanting = [estate.boot(estate.flavor(
                'x-%s' % label, memory_mb=512, pin=estate.pin(label),
                extra_specs={'trait:%s' % trait: 'required'}),
                name='x-%s' % label)[0] for label in ALL]
            return self.members(estate, agg, ALL), plain, wanting

        self.assertEqual(
            (ALL, [base.NO_VALID_HOST] * 4 + ['c5'], ALL),
            self.in_both_topologies(scenario))
