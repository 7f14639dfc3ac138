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

"""Host aggregates other than zones in ``nova-vmw-sched simulate``: the
scenario's ``aggregates`` and the services' ``aggregates``, seen by nova's
filters through the host states and by nova's request filters through
placement's ``member_of``."""

import copy

from nova_vmw_sched.simulate import estate as estate_mod
from nova_vmw_sched.simulate import scenario
from nova_vmw_sched.simulate import topology
from tests.unit.simulate import test_cli
from tests.unit.simulate import test_scenario
from tests.unit.simulate import test_zones

#: test_zones' estate with an aggregate ``fast`` instead of the zone: a
#: shared service of three clusters in it, one service of its own outside
#: it; the ``whole`` flavor asks for ``fast`` hosts and fills a cluster
AGGREGATED = copy.deepcopy(test_zones.ZONED)
AGGREGATED['services']['shared'].pop('availability_zone')
AGGREGATED['services']['shared']['aggregates'] = ['fast']
AGGREGATED['aggregates'] = {'fast': {'metadata': {'fast': 'true'}}}
AGGREGATED['flavors'] = {
    'whole': {'vcpus': 4, 'memory_mb': 60000, 'extra_specs': {
        'aggregate_instance_extra_specs:fast': 'true'}},
    'plain': {'vcpus': 4, 'memory_mb': 60000}}
AGGREGATED['requests'] = [{'name': 'w%d' % n, 'flavor': 'whole'}
                          for n in range(1, 5)]


def _with_filter(data):
    data = copy.deepcopy(data)
    data['config'] = {'filter_scheduler': {'enabled_filters': [
        'ComputeFilter', 'AggregateInstanceExtraSpecsFilter']}}
    return data


def _tenant_isolated(data):
    """The aggregate isolates the simulated requests' project (placement
    ``member_of``, nova's ``require_tenant_aggregate`` request filter)."""
    data = copy.deepcopy(data)
    data['aggregates']['fast']['metadata'] = {
        'filter_tenant_id': estate_mod.PROJECT}
    data['config'] = {'scheduler': {
        'limit_tenants_to_placement_aggregate': True}}
    for request in data['requests']:
        request['flavor'] = 'plain'
    return data


class TestValidation(test_scenario.MinimalChangedCase):

    def test_read(self):
        loaded = scenario.from_data(copy.deepcopy(AGGREGATED), 'x.yaml')
        self.assertEqual({'fast': {'fast': 'true'}}, loaded.aggregates)
        self.assertEqual({'shared': ('fast',), 'lone': ()},
                         {s.name: s.aggregates for s in loaded.services})

    def test_unknown_aggregate(self):
        def change(data):
            data['services']['svc1']['aggregates'] = ['nope']
        self.assertIn("x.yaml: services.svc1.aggregates[0]: no host "
                      "aggregate named 'nope' under aggregates",
                      self.problems(change))

    def test_zone_not_in_metadata(self):
        def change(data):
            data['aggregates'] = {'a': {'metadata': {
                'availability_zone': 'az1'}}}
        self.assertIn('x.yaml: aggregates.a.metadata.availability_zone: '
                      'expected a metadata key (1 to 255 letters, digits, '
                      'spaces or "_:.-"), not availability_zone',
                      self.problems(change))

    def test_metadata_values_are_strings(self):
        def change(data):
            data['aggregates'] = {'a': {'metadata': {'ssd': True}}}
        self.assertIn('x.yaml: aggregates.a.metadata.ssd: ',
                      self.problems(change))

    def test_topologies_keep_each_cluster_aggregates(self):
        loaded = scenario.from_data(copy.deepcopy(AGGREGATED))
        kept = {name: sorted((label, s.aggregates) for s in
                             topology.regroup(loaded, name).services
                             for label in s.clusters)
                for name in topology.ALL}
        self.assertEqual([('vc1/domain-c1', ('fast',)),
                          ('vc1/domain-c2', ('fast',)),
                          ('vc1/domain-c3', ('fast',)),
                          ('vc1/domain-c4', ())], kept[topology.AS_WRITTEN])
        self.assertEqual(1, len({tuple(v) for v in kept.values()}), kept)


class TestAggregateBoots(test_cli.CliTestCase):

    def outcomes(self, data, *args):
        doc = self.json_of(self.scenario(data), *args)
        return doc, [r['outcome'][0] for r in doc['requests']]

    def test_host_state_aggregates_reach_every_cluster(self):
        # AggregateInstanceExtraSpecsFilter reads the HostStates'
        # aggregates: every cluster of the shared service is in ``fast``
        doc, landed = self.outcomes(_with_filter(AGGREGATED))
        self.assertEqual({'vc1/domain-c1', 'vc1/domain-c2', 'vc1/domain-c3'},
                         set(landed[:3]))
        self.assertEqual('NoValidHost', landed[3])
        lone = [x for x in doc['requests'][0]['rejected']
                if x['cluster'] == 'vc1/domain-c4']
        self.assertEqual('AggregateInstanceExtraSpecsFilter', lone[0]['by'])

    def test_the_same_in_every_topology(self):
        data = _with_filter(AGGREGATED)
        found = {}
        for name in topology.ALL:
            _doc, landed = self.outcomes(data, '--topology', name)
            found[name] = sorted(landed)
        self.assertEqual(1, len({tuple(v) for v in found.values()}), found)

    def test_tenant_isolation_package_every_cluster_stock_the_first(self):
        doc, landed = self.outcomes(_tenant_isolated(AGGREGATED),
                                    '--against-stock')
        self.assertEqual({'vc1/domain-c1', 'vc1/domain-c2', 'vc1/domain-c3'},
                         set(landed[:3]))
        self.assertEqual('NoValidHost', landed[3])
        stock = [r['stock']['outcome'][0] for r in doc['requests']]
        self.assertEqual(['vc1/domain-c1'] + ['NoValidHost'] * 3, stock)
        by = {x['cluster']: x for x in doc['requests'][0]['rejected']}
        self.assertEqual('placement', by['vc1/domain-c4']['by'])
        self.assertIn('host aggregate fast', by['vc1/domain-c4']['reason'])

    def test_isolated_aggregate_left_out_unless_its_trait_is_required(self):
        data = copy.deepcopy(AGGREGATED)
        data['aggregates']['fast']['metadata'] = {
            'trait:CUSTOM_FAST': 'required'}
        data['config'] = {'scheduler': {
            'enable_isolated_aggregate_filtering': True}}
        for request in data['requests']:
            request['flavor'] = 'plain'
        doc, landed = self.outcomes(data)
        self.assertEqual(['vc1/domain-c4'] + ['NoValidHost'] * 3, landed)
        by = {x['cluster']: x for x in doc['requests'][0]['rejected']}
        self.assertEqual('placement', by['vc1/domain-c1']['by'])
        self.assertIn('in the placement aggregate of host aggregate fast, '
                      'which nova asks placement to leave out',
                      by['vc1/domain-c1']['reason'])
        # the summary line counts them by that reason
        self.assertIn('3 placement (isolated aggregate)',
                      doc['requests'][1]['summary'])
