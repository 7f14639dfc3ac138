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

"""``vmware:cluster`` through nova's real API, conductor, scheduler and
placement, each scenario in both topologies."""

from nova import utils

from tests.functional import base

GOOD_UUID = '6f1c2a6e-2f6b-4c39-9d55-3b1f4c1e7a01'


class TestClusterPinning(base.ClusterTestCase):
    """Each cluster holds 4096 MB: two 2048 MB servers fill it."""

    def test_pinned_flavor_lands_on_its_cluster(self):
        def scenario(estate):
            full = estate.flavor('full', pin=estate.pin('c3'))
            moref = estate.flavor('moref', pin='domain-c2')
            return (estate.boot(full, name='a')[0],
                    estate.boot(full, name='b')[0],
                    estate.boot(moref, name='c')[0])

        self.assertEqual(('c3', 'c3', 'c2'),
                         self.in_both_topologies(scenario))

    def test_alias_from_config(self):
        def scenario(estate):
            self.flags(cluster_aliases={'gold': estate.node('c4')},
                       group='vmware_scheduler')
            gold = estate.flavor('gold', pin='gold')
            missing = estate.flavor('missing', pin='silver,gold')
            return (estate.boot(gold, name='a')[0],
                    estate.boot(missing, name='b')[0])

        self.assertEqual(('c4', base.NO_VALID_HOST),
                         self.in_both_topologies(scenario))
        self.assertIn("alias 'silver' is not defined",
                      self.stdlog.logger.output)

    def test_list_falls_over_when_full_then_no_valid_host(self):
        def scenario(estate):
            flavor = estate.flavor('big', memory_mb=2048,
                                   pin=estate.pin('c1', 'c2'))
            return [estate.boot(flavor, name='vm%d' % i)[0]
                    for i in range(5)]

        # The preference keeps c1 first while it has room, although nova's
        # RAMWeigher would spread to the emptier c2.
        self.assertEqual(['c1', 'c1', 'c2', 'c2', base.NO_VALID_HOST],
                         self.in_both_topologies(scenario))

    def test_multi_create_fills_in_list_order(self):
        def scenario(estate):
            flavor = estate.flavor('big', memory_mb=2048,
                                   pin=estate.pin('c1', 'c2'))
            return sorted(estate.boot(flavor, name='multi', min_count=3))

        self.assertEqual(['c1', 'c1', 'c2'],
                         self.in_both_topologies(scenario))

    def test_list_falls_over_when_first_service_disabled(self):
        # Service state is per nova-compute service: when clusters share a
        # service, disabling it takes out all of them. So the clusters that
        # share a service here are c1+c2 and c3+c4, and the list names c1
        # and c3, which are on different services in both topologies.
        topologies = (
            ('shared', (('c1', 'c2'), ('c3', 'c4'))),
            ('split', (('c1',), ('c2',), ('c3',), ('c4',))),
        )

        def scenario(estate):
            flavor = estate.flavor('pin', pin=estate.pin('c1', 'c3'))
            first = estate.boot(flavor, name='a')[0]
            estate.set_service(estate.service_of('c1'), disabled=True)
            second = estate.boot(flavor, name='b')[0]
            estate.set_service(estate.service_of('c3'), disabled=True)
            third = estate.boot(flavor, name='c')[0]
            estate.set_service(estate.service_of('c1'), disabled=False)
            fourth = estate.boot(flavor, name='d')[0]
            return first, second, third, fourth

        self.assertEqual(('c1', 'c3', base.NO_VALID_HOST, 'c1'),
                         self.in_both_topologies(scenario, topologies))

    def test_unpinned_flavor_spreads_over_all_clusters(self):
        def scenario(estate):
            flavor = estate.flavor('free', memory_mb=2048)
            return sorted(estate.boot(flavor, name='vm%d' % i)[0]
                          for i in range(4))

        self.assertEqual(['c1', 'c2', 'c3', 'c4'],
                         self.in_both_topologies(scenario))

    def test_value_stored_before_validation_fails_closed(self):
        # Microversions before 2.86 do not validate extra specs, so a value
        # our validator refuses can still be stored; the filter must then
        # refuse every host rather than guess.
        def scenario(estate):
            flavor = estate.flavor('plain')
            with utils.temporary_mutation(self.admin_api,
                                               microversion='2.85'):
                self.admin_api.post_extra_spec(
                    flavor, {'extra_specs': {
                        'vmware:cluster': estate.node('c1') + ',,'}})
            return estate.boot(flavor, name='bad')[0]

        self.assertEqual(base.NO_VALID_HOST,
                         self.in_both_topologies(scenario))
        self.assertIn('element 2: empty cluster reference',
                      self.stdlog.logger.output)


class TestClusterExtraSpecAPI(base.ClusterTestCase):
    """nova-api validates ``vmware:cluster`` from microversion 2.86."""

    def _set(self, value, microversion='latest'):
        flavor = self._create_flavor(name='f-%d' % len(self._flavors))
        self._flavors.append(flavor)
        with utils.temporary_mutation(self.admin_api,
                                           microversion=microversion):
            return self.admin_api.post_extra_spec(
                flavor, {'extra_specs': {'vmware:cluster': value}}
            ).body['extra_specs']

    def setUp(self):
        super().setUp()
        self._flavors = []

    def test_accepts_well_formed_values(self):
        for value in ('domain-c7',
                      'domain-c7.%s' % GOOD_UUID,
                      'domain-c7.%s' % GOOD_UUID.upper(),
                      'domain-c7(Gold Cluster)',
                      'gold',
                      'domain-c7.%s, domain-c8 ,gold' % GOOD_UUID):
            self.assertEqual({'vmware:cluster': value}, self._set(value))

    def test_rejects_malformed_values_naming_the_problem(self):
        cases = [
            ('', 'empty value'),
            ('domain-c7,', 'element 2: empty cluster reference'),
            ('domain-x7', "bad cluster moref 'domain-x7'"),
            ('domain-c7.not-a-uuid', "bad vCenter uuid 'not-a-uuid'"),
            ('domain-c7,domain-c7', "'domain-c7' repeats element 1"),
            ('gold,gold', "'gold' repeats element 1"),
            ('gold cluster', "'gold cluster' is neither a cluster"),
            ('domain-c7()', 'bad display name'),
        ]
        for value, needle in cases:
            self.assertBadRequest(lambda: self._set(value),
                                  'vmware:cluster', needle)

    def test_older_microversion_does_not_validate(self):
        self.assertEqual({'vmware:cluster': 'domain-x7'},
                         self._set('domain-x7', microversion='2.85'))
