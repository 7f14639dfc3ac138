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

"""Cluster identity: node names, references, aliases, pins."""

import uuid

import fixtures
from nova.scheduler import host_manager
from nova import test

from nova_vmw_sched import cluster

VC1 = '6f1c2a6e-2f6b-4c39-9d55-3b1f4c1e7a01'
VC2 = '0b7e4d2c-91a3-4f5e-8c6d-2e1f3a4b5c6d'


def node(moref, vcenter=VC1):
    return '%s.%s' % (moref, vcenter)


class TestParseNodename(test.NoDBTestCase):

    def test_full_node_name(self):
        found = cluster.parse_nodename(node('domain-c7'))
        self.assertEqual(cluster.ClusterId('domain-c7', VC1), found)
        self.assertIsNone(found.display_name)
        self.assertEqual(node('domain-c7'), str(found))

    def test_full_node_name_uuid_is_lower_cased(self):
        found = cluster.parse_nodename(node('domain-c7', VC1.upper()))
        self.assertEqual(cluster.ClusterId('domain-c7', VC1), found)

    def test_legacy_node_name(self):
        found = cluster.parse_nodename('domain-c7(Gold Cluster)')
        self.assertEqual(
            cluster.ClusterId('domain-c7', None, 'Gold Cluster'), found)
        self.assertEqual('domain-c7(Gold Cluster)', str(found))

    def test_not_a_cluster(self):
        for name in ('compute1',
                     '1b3c5d7e-0000-4000-8000-00000000abcd',  # ironic
                     'domain-c7',  # a bare moref is no node name
                     'domain-c7.',
                     'domain-c7.not-a-uuid',
                     node('domain-c7') + 'x',
                     ' ' + node('domain-c7'),
                     node('domain-c7') + '\n',
                     'domain-c7()',
                     'domain-c7(a(b))',
                     'domain-h7.' + VC1,
                     'DOMAIN-C7.' + VC1,
                     'domain-c.' + VC1,
                     'domain-c\u0663.' + VC1,  # ARABIC-INDIC DIGIT THREE
                     ''):
            self.assertIsNone(cluster.parse_nodename(name), name)

    def test_not_a_string(self):
        for name in (None, 7, 7.5, node('domain-c7').encode(), ['x'],
                     {'domain-c7': VC1}, object()):
            self.assertIsNone(cluster.parse_nodename(name), repr(name))


class TestClusterOf(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        # the module's memo cache, observed (not replaced)
        self.cache = cluster._cache

    def test_host_state(self):
        hs = host_manager.HostState('host1', node('domain-c7'), 'cell1')
        self.assertEqual(cluster.ClusterId('domain-c7', VC1),
                         cluster.cluster_of(hs))
        hs = host_manager.HostState('host1', 'compute1', 'cell1')
        self.assertIsNone(cluster.cluster_of(hs))

    def test_cached_by_node_name(self):
        hs = host_manager.HostState('host1', node('domain-c7'), 'cell1')
        first = cluster.cluster_of(hs)
        self.assertIn(node('domain-c7'), self.cache)
        self.assertIs(first, cluster.cluster_of(hs))
        other = host_manager.HostState('host2', node('domain-c8'), 'cell1')
        self.assertEqual('domain-c8', cluster.cluster_of(other).moref)

    def test_cache_is_bounded(self):
        self.useFixture(fixtures.MonkeyPatch(
            'nova_vmw_sched.cluster._CACHE_LIMIT', 10))
        # names no other test has parsed: each is a miss
        vcenter = str(uuid.uuid4())
        for i in range(25):
            hs = host_manager.HostState('h', node('domain-c%d' % i, vcenter),
                                        'c')
            self.assertEqual('domain-c%d' % i, cluster.cluster_of(hs).moref)
            self.assertLessEqual(len(self.cache), 10)
            self.assertIn(node('domain-c%d' % i, vcenter), self.cache)

    def test_odd_objects(self):
        hs = host_manager.HostState('host1', 'x', 'cell1')
        for value in (None, 7, b'domain-c7.' + VC1.encode(), ['x'], {}):
            hs.nodename = value
            self.assertIsNone(cluster.cluster_of(hs), repr(value))
        self.assertIsNone(cluster.cluster_of(object()))
        self.assertIsNone(cluster.cluster_of(None))


class TestParseReference(test.NoDBTestCase):

    def test_bare_moref(self):
        self.assertEqual(cluster.ClusterRef('domain-c7', text='domain-c7'),
                         cluster.parse_reference(' domain-c7 '))

    def test_full_node_name(self):
        ref = cluster.parse_reference(node('domain-c7', VC1.upper()))
        self.assertEqual(('domain-c7', VC1, None),
                         (ref.moref, ref.vcenter_uuid, ref.display_name))

    def test_legacy_node_name(self):
        ref = cluster.parse_reference('domain-c7(Gold)')
        self.assertEqual(('domain-c7', None, 'Gold'),
                         (ref.moref, ref.vcenter_uuid, ref.display_name))

    def test_alias(self):
        self.assertEqual(cluster.Alias('gold_1.a-b'),
                         cluster.parse_reference('gold_1.a-b'))
        self.assertEqual(cluster.Alias('_x'), cluster.parse_reference('_x'))
        self.assertEqual(
            cluster.Alias('a' * 64), cluster.parse_reference('a' * 64))

    def _error(self, text):
        return str(self.assertRaises(cluster.InvalidClusterReference,
                                     cluster.parse_reference, text))

    def test_bad_references(self):
        self.assertIn('empty', self._error('  '))
        self.assertIn("bad cluster moref 'domain-x7'",
                      self._error('domain-x7'))
        self.assertIn("bad cluster moref 'DOMAIN-C7'",
                      self._error('DOMAIN-C7'))
        self.assertIn("bad vCenter uuid 'nope'", self._error('domain-c7.nope'))
        self.assertIn('bad display name', self._error('domain-c7()'))
        self.assertIn('bad display name', self._error('domain-c7(a(b))'))
        self.assertIn("'9gold' is neither a cluster", self._error('9gold'))
        self.assertIn('neither', self._error('a' * 65))
        self.assertIn('neither', self._error('gold cluster'))
        self.assertIn('neither', self._error('caf\u00e9'))

    def test_not_a_string(self):
        self.assertIn('must be a string, not NoneType', self._error(None))
        self.assertIn('not bytes', self._error(b'domain-c7'))


class TestParseReferenceList(test.NoDBTestCase):

    def test_order_is_kept(self):
        refs = cluster.parse_reference_list(
            'gold, domain-c7,%s ,domain-c9(Legacy)' % node('domain-c8'))
        self.assertEqual(['gold', 'domain-c7', node('domain-c8'),
                          'domain-c9(Legacy)'], [r.text for r in refs])
        self.assertIsInstance(refs[0], cluster.Alias)
        self.assertIsInstance(refs[1], cluster.ClusterRef)

    def test_single(self):
        self.assertEqual(1, len(cluster.parse_reference_list('domain-c7')))

    def _error(self, value):
        return str(self.assertRaises(cluster.InvalidClusterReference,
                                     cluster.parse_reference_list, value))

    def test_errors_name_the_element(self):
        self.assertIn('empty value', self._error(''))
        self.assertIn('empty value', self._error(' \t'))
        self.assertIn('element 2: empty cluster reference',
                      self._error('domain-c7,,domain-c8'))
        self.assertIn('element 2: empty', self._error('domain-c7,'))
        self.assertIn("element 3: 'domain-c9.x': bad vCenter uuid 'x'",
                      self._error('domain-c7,domain-c8,domain-c9.x'))
        self.assertIn("element 2: 'domain-7': bad cluster moref",
                      self._error('gold,domain-7'))
        self.assertIn("element 1: 'g/old' is neither",
                      self._error('g/old,domain-c7'))

    def test_duplicates(self):
        self.assertIn("element 3: 'domain-c7' repeats element 1",
                      self._error('domain-c7,domain-c8,domain-c7'))
        self.assertIn('element 2: %r repeats element 1'
                      % node('domain-c7', VC1.upper()),
                      self._error('%s,%s' % (node('domain-c7'),
                                             node('domain-c7', VC1.upper()))))
        self.assertIn("element 2: 'gold' repeats element 1",
                      self._error('gold, gold'))

    def test_distinct_but_similar_are_not_duplicates(self):
        refs = cluster.parse_reference_list(','.join([
            'domain-c7', node('domain-c7'), node('domain-c7', VC2),
            'domain-c7(Gold)', 'domain-c7(gold)', 'Gold', 'gold']))
        self.assertEqual(7, len(refs))

    def test_not_a_string(self):
        self.assertIn('not NoneType', self._error(None))
        self.assertIn('not list', self._error(['domain-c7']))


class TestParseAliases(test.NoDBTestCase):

    def test_good(self):
        aliases, errors = cluster.parse_aliases({
            'gold': node('domain-c7'), 'silver': 'domain-c8',
            'old': 'domain-c9(Old)'})
        self.assertEqual([], errors)
        self.assertEqual(
            {'gold': cluster.ClusterRef('domain-c7', VC1, None, 'gold'),
             'silver': cluster.ClusterRef('domain-c8', None, None, 'silver'),
             'old': cluster.ClusterRef('domain-c9', None, 'Old', 'old')},
            aliases)

    def test_empty(self):
        self.assertEqual(({}, []), cluster.parse_aliases({}))
        self.assertEqual(({}, []), cluster.parse_aliases(None))

    def test_bad_entries_are_left_out(self):
        aliases, errors = cluster.parse_aliases({
            'gold': 'domain-c7',
            '9bad': 'domain-c8',
            'domain-x': 'domain-c8',
            'Domain-y': 'domain-c8',
            'chain': 'gold',
            'broken': 'domain-c8.nope',
            'empty': '',
        })
        self.assertEqual(['gold'], list(aliases))
        self.assertEqual(6, len(errors), errors)
        text = '\n'.join(errors)
        for expected in ("alias name '9bad' is not valid",
                         "alias name 'domain-x' is not valid",
                         "alias name 'Domain-y' is not valid",
                         "alias 'chain': 'gold'",
                         "alias 'broken': 'domain-c8.nope': bad vCenter uuid",
                         "alias 'empty': empty cluster reference"):
            self.assertIn(expected, text)


class TestResolveAndRank(test.NoDBTestCase):

    def test_resolve_aliases(self):
        aliases, _ = cluster.parse_aliases({'gold': node('domain-c7')})
        pin = cluster.resolve(
            cluster.parse_reference_list('domain-c8,gold'), aliases)
        self.assertEqual(
            [cluster.ClusterRef('domain-c8', text='domain-c8'),
             cluster.ClusterRef('domain-c7', VC1, None, 'gold')],
            list(pin.refs))

    def test_unknown_alias(self):
        aliases, _ = cluster.parse_aliases({'gold': 'domain-c7'})
        refs = cluster.parse_reference_list('gold,silver,bronze')
        e = self.assertRaises(cluster.UnknownAlias, cluster.resolve,
                              refs, aliases)
        self.assertIsInstance(e, cluster.InvalidClusterReference)
        self.assertIn("alias 'silver' is not defined", str(e))

    def _pin(self, value):
        return cluster.resolve(cluster.parse_reference_list(value), {})

    def test_rank_in_list_order(self):
        pin = self._pin('domain-c9,domain-c7,domain-c8')
        rank = [pin.rank(cluster.parse_nodename(node(m)))
                for m in ('domain-c7', 'domain-c8', 'domain-c9',
                          'domain-c10')]
        self.assertEqual([1, 2, 0, None], rank)
        self.assertIsNone(pin.rank(None))

    def test_first_match_wins(self):
        pin = self._pin('domain-c7,%s' % node('domain-c7'))
        self.assertEqual(
            0, pin.rank(cluster.parse_nodename(node('domain-c7'))))
        pin = self._pin('%s,domain-c7' % node('domain-c7', VC2))
        self.assertEqual(
            1, pin.rank(cluster.parse_nodename(node('domain-c7'))))

    def test_bare_moref_matches_every_vcenter(self):
        pin = self._pin('domain-c7')
        for name in (node('domain-c7', VC1), node('domain-c7', VC2),
                     'domain-c7(Gold)'):
            self.assertEqual(0, pin.rank(cluster.parse_nodename(name)), name)
        self.assertIsNone(pin.rank(cluster.parse_nodename(node('domain-c70'))))

    def test_full_name_matches_one_vcenter(self):
        pin = self._pin(node('domain-c7', VC1.upper()))
        self.assertEqual(
            0, pin.rank(cluster.parse_nodename(node('domain-c7', VC1))))
        for name in (node('domain-c7', VC2), node('domain-c8', VC1),
                     'domain-c7(Gold)'):
            self.assertIsNone(pin.rank(cluster.parse_nodename(name)), name)

    def test_legacy_name_matches_its_display_name(self):
        pin = self._pin('domain-c7(Gold)')
        self.assertEqual(
            0, pin.rank(cluster.parse_nodename('domain-c7(Gold)')))
        for name in ('domain-c7(gold)', 'domain-c8(Gold)',
                     node('domain-c7')):
            self.assertIsNone(pin.rank(cluster.parse_nodename(name)), name)
