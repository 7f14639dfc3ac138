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

"""The aggregates duty: what must change, and the write per provider."""

import types
from unittest import mock

from nova import test

from nova_vmw_sched import aggregates
from nova_vmw_sched import keeper


def agg(uuid, *hosts, name=None):
    return types.SimpleNamespace(uuid=uuid, hosts=list(hosts),
                                 name=name or uuid)


def node(host, name):
    return types.SimpleNamespace(host=host, hypervisor_hostname=name)


NODES = {'rp1': node('h1', 'domain-c1.vc'), 'rp2': node('h1', 'domain-c2.vc'),
         'rp3': node('h2', 'domain-c3.vc')}


class TestPlan(test.NoDBTestCase):

    def test_every_node_of_every_host_joins(self):
        self.assertEqual(
            {'rp2': ({'A'}, set()), 'rp3': ({'A'}, set())},
            aggregates.plan([agg('A', 'h1', 'h2')], NODES, {'A': {'rp1'}}))

    def test_nothing_when_in_line(self):
        self.assertEqual({}, aggregates.plan(
            [agg('A', 'h1')], NODES, {'A': {'rp1', 'rp2'}}))

    def test_node_of_a_host_that_left_is_taken_out(self):
        self.assertEqual({'rp3': (set(), {'A'})}, aggregates.plan(
            [agg('A', 'h1')], NODES, {'A': {'rp1', 'rp2', 'rp3'}}))

    def test_provider_that_is_no_compute_node_stays(self):
        # e.g. a sharing storage provider an operator put there
        self.assertEqual({}, aggregates.plan(
            [agg('A', 'h1')], NODES, {'A': {'rp1', 'rp2', 'shared-disk'}}))

    def test_unknown_host_and_empty_aggregate(self):
        self.assertEqual({'rp1': (set(), {'B'})}, aggregates.plan(
            [agg('A', 'gone'), agg('B')], NODES, {'B': {'rp1'}}))

    def test_changes_of_one_provider_are_gathered(self):
        self.assertEqual({'rp3': ({'A'}, {'B'})}, aggregates.plan(
            [agg('A', 'h2'), agg('B', 'h1')], NODES,
            {'A': set(), 'B': {'rp1', 'rp2', 'rp3'}}))


class Response:
    def __init__(self, status_code, body=None):
        self.status_code = status_code
        self.body = body
        self.text = str(body)

    def json(self):
        return self.body


class FakeClient:
    """Provider aggregates with generations; 409s queued on demand."""

    def __init__(self, aggs, conflicts=0):
        self.aggs = dict(aggs)
        self.gens = {rp: 1 for rp in aggs}
        self.conflicts = conflicts
        self.puts = []

    def get(self, url, version=None):
        rp = url.split('/')[2]
        if rp not in self.aggs:
            return Response(404)
        return Response(200, {'aggregates': sorted(self.aggs[rp]),
                              'resource_provider_generation': self.gens[rp]})

    def put(self, url, body, version=None):
        rp = url.split('/')[2]
        self.puts.append((rp, body))
        if self.conflicts:
            self.conflicts -= 1
            # another scheduler did the same change first
            self.aggs[rp] = set(body['aggregates'])
            self.gens[rp] += 1
            return Response(409, 'conflict')
        if body['resource_provider_generation'] != self.gens[rp]:
            return Response(409, 'conflict')
        self.aggs[rp] = set(body['aggregates'])
        self.gens[rp] += 1
        return Response(200, {})


BY_UUID = {'A': agg('A', name='zone-a'), 'B': agg('B', name='b')}


class TestUpdate(test.NoDBTestCase):

    def update(self, client, add=(), remove=(), dry_run=False):
        return aggregates._update(client, 'rp2', NODES['rp2'], set(add),
                                  set(remove), BY_UUID, dry_run)

    def test_one_write_keeps_other_aggregates(self):
        client = FakeClient({'rp2': {'X', 'B'}})
        lines = self.update(client, add=['A'], remove=['B'])
        self.assertEqual({'X', 'A'}, client.aggs['rp2'])
        self.assertEqual(1, len(client.puts))
        self.assertEqual(
            ['add provider rp2 (domain-c2.vc, host h1) to aggregate A '
             '(zone-a)',
             'remove provider rp2 (domain-c2.vc, host h1) from aggregate B '
             '(b)'], lines)

    def test_dry_run_writes_nothing(self):
        client = FakeClient({'rp2': {'X'}})
        self.assertEqual(1, len(self.update(client, add=['A'],
                                            dry_run=True)))
        self.assertEqual([], client.puts)
        self.assertEqual({'X'}, client.aggs['rp2'])

    def test_missing_provider_skipped_quietly(self):
        client = FakeClient({})
        self.assertEqual([], self.update(client, add=['A']))
        self.assertEqual([], client.puts)

    def test_conflict_reread_and_nothing_left_to_write(self):
        client = FakeClient({'rp2': set()}, conflicts=1)
        self.assertEqual([], self.update(client, add=['A']))
        self.assertEqual(1, len(client.puts))
        self.assertEqual({'A'}, client.aggs['rp2'])

    def test_error_raises(self):
        client = FakeClient({'rp2': set()})
        client.put = lambda *a, **kw: Response(500, 'boom')
        self.assertRaises(keeper.PlacementError, self.update, client,
                          add=['A'])


class TestSync(test.NoDBTestCase):

    @mock.patch.object(aggregates, 'compute_nodes', return_value=NODES)
    @mock.patch('nova.objects.AggregateList.get_all')
    def test_second_run_writes_nothing(self, get_all, _nodes):
        get_all.return_value = [agg('A', 'h1', 'h2')]
        client = FakeClient({'rp1': {'A'}, 'rp2': set(), 'rp3': set()})

        def get(url, version=None):
            if 'member_of=' in url:
                return Response(200, {'resource_providers': [
                    {'uuid': rp} for rp, a in client.aggs.items()
                    if 'A' in a]})
            return FakeClient.get(client, url, version)
        client.get = get
        self.assertEqual(2, len(aggregates.sync(None, client)))
        self.assertEqual([], aggregates.sync(None, client))
        self.assertEqual(2, len(client.puts))

    @mock.patch.object(aggregates, 'compute_nodes')
    @mock.patch('nova.objects.AggregateList.get_all', return_value=[])
    def test_no_aggregates_no_reads(self, _get_all, nodes):
        client = mock.Mock()
        self.assertEqual([], aggregates.sync(None, client))
        nodes.assert_not_called()
        client.get.assert_not_called()


class TestComputeNodes(test.NoDBTestCase):

    @mock.patch('nova.context.scatter_gather_all_cells')
    def test_a_cell_that_does_not_answer_stops_the_run(self, gather):
        from nova import context as nova_context
        gather.return_value = {
            'cell1': [types.SimpleNamespace(uuid='rp1', host='h1')],
            'cell2': nova_context.did_not_respond_sentinel}
        self.assertRaises(aggregates.CellDatabaseError,
                          aggregates.compute_nodes, None)

    @mock.patch('nova.context.scatter_gather_all_cells')
    def test_nodes_of_every_cell(self, gather):
        gather.return_value = {
            'cell1': [types.SimpleNamespace(uuid='rp1', host='h1')],
            'cell2': [types.SimpleNamespace(uuid='rp2', host='h2')]}
        self.assertEqual(['rp1', 'rp2'],
                         sorted(aggregates.compute_nodes(None)))
