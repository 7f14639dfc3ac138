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

"""Seeded fuzzing of node names, ``vmware:cluster`` values and the plugins.

Every input is generated together with what it is by construction:
well-formed (then the generator also knows what it means), malformed (then
it must be refused), or garbage (then only "no exception" is asserted).
The parser, nova-api's validator, ``VMwareClusterFilter`` and
``VMwareClusterPreferenceWeigher`` are checked against that knowledge, on
nova's real ``HostState``, filter handler and weight handler. The seeds are
fixed, so a failure is reproducible; the failing input is in the message.
"""

import random
import string

import nova.conf
from nova.api.validation.extra_specs import validators
from nova import exception
from nova import objects
from nova.scheduler import filters as nova_filters
from nova.scheduler import host_manager
from nova.scheduler import weights as nova_weights
from nova import test

from nova_vmw_sched import cluster
from nova_vmw_sched import conf as vmw_conf
from nova_vmw_sched.filters import pin_filter
from nova_vmw_sched.weights import preference_weigher

CONF = nova.conf.CONF
KEY = 'vmware:cluster'

HEX = '0123456789abcdef'
ALIAS_FIRST = string.ascii_letters + '_'
ALIAS_REST = string.ascii_letters + string.digits + '_.-'
# Display-name characters: anything but parentheses (the node name syntax)
# and commas (the list syntax), with some unicode and inner whitespace.
NAME_CHARS = (string.ascii_letters + string.digits +
              ' _-.:;/\\\'"!@#$%^&*[]{}<>?=+~`|\t' +
              '\u00e9\u00fc\u00df\u00f8\u96c6\u7fa4\u30af\u30e9\u00a0'
              '\U0001f642')
GARBAGE_CHARS = NAME_CHARS + '(),\n\r\x00\x7f\u200b\u0663\uff17\ufeff'
NON_ASCII_DIGITS = '\u0663\u06f7\u0967\uff17\u00b2\U0001d7d5'
BAD_ALIAS_CHARS = ' /@\u00e9\u96c6\u00a0(+*'
PADDING = ('', '', '', ' ', '  ', '\t', ' \t ')
EMPTY_ELEMENTS = ('', ' ', '\t', '  \t', '\u3000')
EMPTY_VALUES = ('', ' ', '\t\n', '   ')


# -- generators --------------------------------------------------------------

def gen_uuid(rng):
    text = '-'.join(''.join(rng.choice(HEX) for _ in range(n))
                    for n in (8, 4, 4, 4, 12))
    roll = rng.random()
    if roll < 0.2:
        return text.upper()
    if roll < 0.35:
        return ''.join(c.upper() if rng.random() < 0.5 else c for c in text)
    return text


def gen_moref(rng):
    digits = str(rng.randrange(1, 10 ** rng.randint(1, 7)))
    if rng.random() < 0.05:
        digits = '0' + digits
    return 'domain-c' + digits


def gen_display(rng, chars=NAME_CHARS, max_len=40):
    return ''.join(rng.choice(chars) for _ in range(rng.randint(1, max_len)))


def gen_alias(rng):
    while True:
        alias = rng.choice(ALIAS_FIRST) + ''.join(
            rng.choice(ALIAS_REST)
            for _ in range(rng.randint(0, rng.choice((4, 12, 63)))))
        if not alias.lower().startswith('domain-'):
            return alias


def gen_garbage(rng, max_len=60):
    return ''.join(rng.choice(GARBAGE_CHARS)
                   for _ in range(rng.randint(0, max_len)))


def replace_char(rng, text, start, end, chars):
    """Replace one character of text[start:end] by one of chars."""
    i = rng.randrange(start, end)
    return text[:i] + rng.choice(chars) + text[i + 1:]


# References are described by tuples: ('bare', moref),
# ('full', moref, uuid as written), ('legacy', moref, display name),
# ('alias', name).

def render(ref):
    kind = ref[0]
    if kind == 'bare':
        return ref[1]
    if kind == 'full':
        return '%s.%s' % (ref[1], ref[2])
    if kind == 'legacy':
        return '%s(%s)' % (ref[1], ref[2])
    return ref[1]


def identity(ref):
    if ref[0] == 'full':
        return ('full', ref[1], ref[2].lower())
    return ref


def ref_matches(ref, node):
    """Does a (non-alias) reference match a node built as ``node``?"""
    if node is None or node[0] not in ('full', 'legacy'):
        return False
    if ref[1] != node[1]:
        return False
    if ref[0] == 'bare':
        return True
    if ref[0] != node[0]:
        return False
    if ref[0] == 'full':
        return ref[2].lower() == node[2].lower()
    return ref[2] == node[2]


def gen_ref(rng, kinds=('bare', 'full', 'legacy', 'alias')):
    kind = rng.choice(kinds)
    if kind == 'bare':
        return ('bare', gen_moref(rng))
    if kind == 'full':
        return ('full', gen_moref(rng), gen_uuid(rng))
    if kind == 'legacy':
        return ('legacy', gen_moref(rng), gen_display(rng))
    return ('alias', gen_alias(rng))


def gen_good_list(rng, make_ref=gen_ref, max_len=8):
    refs = []
    seen = set()
    for _ in range(rng.randint(1, max_len)):
        ref = make_ref(rng)
        if identity(ref) not in seen:
            seen.add(identity(ref))
            refs.append(ref)
    return refs


def pad(rng, text):
    return rng.choice(PADDING) + text + rng.choice(PADDING)


def join(rng, refs):
    return ','.join(pad(rng, render(ref)) for ref in refs)


def gen_bad_element(rng):
    """One list element that is malformed by construction (no comma)."""
    moref = gen_moref(rng)
    digits = moref[len('domain-c'):]
    uuid = gen_uuid(rng)
    kind = rng.randrange(17)
    if kind == 0:
        return 'domain-x' + digits
    if kind == 1:
        return 'domain-c'
    if kind == 2:
        return rng.choice(('DOMAIN-C', 'Domain-c', 'domain-C')) + digits
    if kind == 3:
        return replace_char(rng, moref, len('domain-c'), len(moref),
                            NON_ASCII_DIGITS)
    if kind == 4:
        return moref + rng.choice(('x', '-1', ' 1', '_', ')', ' .'))
    if kind == 5:  # a non-hex character in the uuid
        i = rng.choice([i for i, c in enumerate(uuid) if c != '-'])
        uuid = uuid[:i] + rng.choice('gGzZ_ \u00e9') + uuid[i + 1:]
        return '%s.%s' % (moref, uuid)
    if kind == 6:  # uuid too short
        return '%s.%s' % (moref, uuid[:rng.randrange(0, 36)])
    if kind == 7:  # uuid too long
        if rng.random() < 0.5:
            return '%s.%s%s' % (moref, uuid, rng.choice(HEX))
        return '%s.%s%s' % (moref, rng.choice(HEX), uuid)
    if kind == 8:  # a dash moved or lost
        i = rng.choice([i for i, c in enumerate(uuid) if c == '-'])
        return '%s.%s' % (moref, uuid[:i] + uuid[i + 1:])
    if kind == 9:
        return '%s..%s' % (moref, uuid)
    if kind == 10:
        return '%s()' % moref
    if kind == 11:
        return '%s(%s' % (moref, gen_display(rng))
    if kind == 12:
        return '%s(%s(%s))' % (moref, gen_display(rng), gen_display(rng))
    if kind == 13:
        return '%s(%s)%s' % (moref, gen_display(rng),
                             rng.choice(('x', ')', '(', '.1')))
    if kind == 14:  # alias-like, but starting with a bad character
        return rng.choice(string.digits + '-.') + gen_alias(rng)
    if kind == 15:  # alias-like, with a bad character inside
        return (rng.choice(ALIAS_FIRST) + rng.choice(BAD_ALIAS_CHARS) +
                rng.choice(ALIAS_REST))
    # alias-like, too long
    return rng.choice(ALIAS_FIRST) + ''.join(
        rng.choice(ALIAS_REST) for _ in range(rng.randint(64, 200)))


def gen_bad_value(rng):
    """(value, 1-based index of the bad element or None for the value)."""
    roll = rng.random()
    if roll < 0.05:
        return rng.choice(EMPTY_VALUES), None
    refs = gen_good_list(rng)
    texts = [pad(rng, render(ref)) for ref in refs]
    if roll < 0.3:
        bad = rng.choice(EMPTY_ELEMENTS)
        index = rng.randint(0, len(texts))
    elif roll < 0.5:
        # a duplicate: the same cluster or alias written again, after it
        original = rng.randrange(len(refs))
        ref = refs[original]
        if ref[0] == 'full':
            ref = ('full', ref[1], rng.choice((ref[2].upper(),
                                               ref[2].lower())))
        bad = pad(rng, render(ref))
        index = rng.randint(original + 1, len(texts))
    else:
        bad = pad(rng, gen_bad_element(rng))
        index = rng.randint(0, len(texts))
    texts.insert(index, bad)
    return ','.join(texts), index + 1


def gen_node(rng):
    """(node name, what it is): ('full', moref, uuid), ('legacy', moref,
    name), ('bad', None) for a malformed one, ('garbage', None)."""
    roll = rng.random()
    moref = gen_moref(rng)
    if roll < 0.2:
        uuid = gen_uuid(rng)
        return '%s.%s' % (moref, uuid), ('full', moref, uuid)
    if roll < 0.3:
        # Node names may hold commas; only the extra spec cannot.
        name = gen_display(rng, NAME_CHARS + ',')
        return '%s(%s)' % (moref, name), ('legacy', moref, name)
    if roll < 0.33:  # very long, still valid
        if rng.random() < 0.5:
            moref = 'domain-c' + '7' * rng.randint(1000, 20000)
            uuid = gen_uuid(rng)
            return '%s.%s' % (moref, uuid), ('full', moref, uuid)
        name = 'x' * rng.randint(1000, 50000)
        return '%s(%s)' % (moref, name), ('legacy', moref, name)
    if roll < 0.6:
        # A malformed element is also a malformed node name, and so is a
        # good one with anything around it or a bare moref.
        choice = rng.randrange(4)
        if choice == 0:
            return gen_bad_element(rng), ('bad', None)
        if choice == 1:
            return moref, ('bad', None)
        good = '%s.%s' % (moref, gen_uuid(rng))
        junk = rng.choice((' ', '\t', '\n', 'x', '.', ',', '\u00a0'))
        if choice == 2:
            return junk + good, ('bad', None)
        return good + junk, ('bad', None)
    if roll < 0.65:  # long garbage
        return gen_garbage(rng, 5000), ('garbage', None)
    return gen_garbage(rng), ('garbage', None)


ODD_NODENAMES = (None, 0, 7, -1, 2 ** 80, 7.5, float('nan'), True, b'',
                 b'domain-c7.6f1c2a6e-2f6b-4c39-9d55-3b1f4c1e7a01',
                 ('domain-c7',), frozenset(['x']))
UNHASHABLE_NODENAMES = (['domain-c7'], {'domain-c7': 1}, bytearray(b'x'),
                        {'x'})
UNHASHABLE_TYPES = (list, dict, set, bytearray)


class FuzzTestCase(test.NoDBTestCase):

    SEED = 20260124

    def setUp(self):
        super().setUp()
        vmw_conf.register_opts(CONF)
        self.rng = random.Random('%s:%s' % (self.SEED, self.id()))


class TestFuzzNodeNames(FuzzTestCase):

    def test_parse_nodename_and_cluster_of(self):
        counts = {'full': 0, 'legacy': 0, 'bad': 0, 'garbage': 0}
        for _ in range(4000):
            name, (kind, *parts) = gen_node(self.rng)
            counts[kind] += 1
            found = cluster.parse_nodename(name)
            hs = host_manager.HostState('svc', 'x', 'cell1')
            hs.nodename = name
            self.assertEqual(found, cluster.cluster_of(hs), repr(name))
            self.assertEqual(found, cluster.cluster_of(hs), repr(name))
            if kind == 'full':
                self.assertEqual(
                    cluster.ClusterId(parts[0], parts[1].lower()), found,
                    repr(name))
            elif kind == 'legacy':
                self.assertEqual(
                    cluster.ClusterId(parts[0], None, parts[1]), found,
                    repr(name))
            elif kind == 'bad':
                self.assertIsNone(found, repr(name))
            elif found is not None:
                # garbage that happens to be a node name must round-trip
                self.assertEqual(name.lower(), str(found).lower())
        # the generator really produced every kind
        for kind, count in counts.items():
            self.assertGreater(count, 200, kind)

    def test_non_string_node_names(self):
        hs = host_manager.HostState('svc', 'x', 'cell1')
        for name in ODD_NODENAMES + UNHASHABLE_NODENAMES + (object(),):
            self.assertIsNone(cluster.parse_nodename(name), repr(name))
            hs.nodename = name
            self.assertIsNone(cluster.cluster_of(hs), repr(name))
        del hs.nodename
        self.assertIsNone(cluster.cluster_of(hs))


class TestFuzzExtraSpecValues(FuzzTestCase):

    def _parse(self, value):
        try:
            return cluster.parse_reference_list(value), None
        except cluster.InvalidClusterReference as e:
            return None, str(e)

    def _validate(self, value):
        try:
            validators.validate(KEY, value)
        except exception.ValidationError as e:
            return str(e)
        return None

    def test_well_formed_values_are_accepted(self):
        for _ in range(3000):
            refs = gen_good_list(self.rng)
            value = join(self.rng, refs)
            parsed, error = self._parse(value)
            self.assertIsNone(error, repr(value))
            self.assertIsNone(self._validate(value), repr(value))
            self.assertEqual(len(refs), len(parsed), repr(value))
            for ref, got in zip(refs, parsed):
                if ref[0] == 'alias':
                    self.assertEqual(cluster.Alias(ref[1]), got)
                    continue
                expected = identity(ref)
                self.assertEqual(
                    (expected[1],
                     expected[2] if expected[0] == 'full' else None,
                     expected[2] if expected[0] == 'legacy' else None),
                    (got.moref, got.vcenter_uuid, got.display_name),
                    repr(value))

    def test_malformed_values_are_refused(self):
        for _ in range(3000):
            value, index = gen_bad_value(self.rng)
            parsed, error = self._parse(value)
            self.assertIsNotNone(error, repr(value))
            message = self._validate(value)
            self.assertIsNotNone(message, repr(value))
            self.assertIn(error, message)
            if index is None:
                self.assertIn('empty value', error)
            else:
                self.assertTrue(error.startswith('element %d: ' % index),
                                '%r: %s' % (value, error))

    def test_garbage_values(self):
        for _ in range(2000):
            value = gen_garbage(self.rng, self.rng.choice((20, 200, 2000)))
            parsed, error = self._parse(value)
            message = self._validate(value)
            self.assertEqual(error is None, message is None, repr(value))

    def test_non_string_values(self):
        for value in ODD_NODENAMES + UNHASHABLE_NODENAMES + (object(),):
            parsed, error = self._parse(value)
            self.assertIsNotNone(error, repr(value))
            self.assertIsNotNone(self._validate(value), repr(value))

    def test_aliases(self):
        mapping = {}
        good = set()
        for _ in range(500):
            if self.rng.random() < 0.5:
                name = gen_alias(self.rng)
                mapping[name] = pad(self.rng, render(gen_ref(
                    self.rng, ('bare', 'full', 'legacy'))))
                good.add(name)
            else:
                name = self.rng.choice((gen_garbage(self.rng),
                                        gen_bad_element(self.rng),
                                        gen_alias(self.rng)))
                mapping[name] = self.rng.choice((
                    gen_bad_element(self.rng), gen_garbage(self.rng),
                    gen_alias(self.rng), ''))
                good.discard(name)
        aliases, errors = cluster.parse_aliases(mapping)
        self.assertTrue(good <= set(aliases))
        self.assertEqual(len(mapping), len(aliases) + len(errors))
        for name, ref in aliases.items():
            self.assertEqual(name, ref.text)


class TestFuzzPlugins(FuzzTestCase):
    """The filter and the weigher over an estate of odd hosts."""

    def setUp(self):
        super().setUp()
        rng = self.rng
        self.vcenters = [gen_uuid(rng) for _ in range(3)]
        self.morefs = ['domain-c%d' % i for i in range(1, 13)]
        self.names = [gen_display(rng, max_len=12) for _ in range(3)]
        # (HostState, what its node name is by construction)
        self.estate = []
        for i in range(160):
            hs = host_manager.HostState('svc%d' % (i % 7), 'x', 'cell1')
            roll = rng.random()
            if roll < 0.45:
                node = ('full', rng.choice(self.morefs),
                        rng.choice(self.vcenters))
                if rng.random() < 0.3:
                    node = ('full', node[1], node[2].upper())
            elif roll < 0.6:
                node = ('legacy', rng.choice(self.morefs),
                        rng.choice(self.names))
            else:
                node = None
            if node is not None:
                hs.nodename = render(node)
            else:
                hs.nodename = rng.choice((
                    'compute%d' % i, '1b3c5d7e-0000-4000-8000-%012d' % i,
                    gen_bad_element(rng), 'x' + gen_garbage(rng),
                    rng.choice(self.morefs), None, i, b'compute',
                    7.5, ('t',), rng.choice(UNHASHABLE_NODENAMES)))
            self.estate.append((hs, node))
        self.aliases = {gen_alias(rng): self._pool_ref() for _ in range(4)}
        self.undefined = [a for a in (gen_alias(rng) for _ in range(4))
                          if a not in self.aliases]
        self.flags(cluster_aliases={name: render(ref) for name, ref
                                    in self.aliases.items()},
                   group='vmware_scheduler')
        self.filter_handler = nova_filters.HostFilterHandler()
        self.weight_handler = nova_weights.HostWeightHandler()
        self.filter = pin_filter.VMwareClusterFilter()
        self.weigher = preference_weigher.VMwareClusterPreferenceWeigher()

    def _pool_ref(self):
        rng = self.rng
        kind = rng.choice(('bare', 'full', 'full', 'legacy'))
        moref = rng.choice(self.morefs)
        if kind == 'bare':
            return ('bare', moref)
        if kind == 'full':
            return ('full', moref, rng.choice(self.vcenters))
        return ('legacy', moref, rng.choice(self.names))

    def _pool_list(self, undefined=False):
        def make(rng):
            if rng.random() < 0.2:
                return ('alias', rng.choice(sorted(self.aliases)))
            return self._pool_ref()
        refs = gen_good_list(self.rng, make, max_len=5)
        if undefined:
            refs.insert(self.rng.randint(0, len(refs)),
                        ('alias', self.rng.choice(self.undefined)))
        return refs

    def _rank(self, refs, node):
        for index, ref in enumerate(refs):
            if ref[0] == 'alias':
                ref = self.aliases[ref[1]]
            if ref_matches(ref, node):
                return index
        return None

    def _spec(self, value, rebuild=False):
        extra_specs = {} if value is None else {KEY: value}
        hints = {'_nova_check_type': ['rebuild']} if rebuild else {}
        return objects.RequestSpec(
            flavor=objects.Flavor(extra_specs=extra_specs),
            scheduler_hints=hints,
            instance_uuid='00000000-0000-4000-8000-00000000f022')

    def test_filter_and_weigher(self):
        rng = self.rng
        modes = {'unpinned': 0, 'good': 0, 'undefined': 0, 'bad': 0,
                 'rebuild': 0}
        weighable = [(hs, node) for hs, node in self.estate
                     if not isinstance(hs.nodename, UNHASHABLE_TYPES)]
        multiplier = CONF.vmware_scheduler.cluster_preference_weight_multiplier
        some_passed = 0
        for _ in range(300):
            mode = rng.choice(sorted(modes))
            modes[mode] += 1
            refs = None
            if mode == 'unpinned':
                value = None
            elif mode in ('good', 'undefined'):
                refs = self._pool_list(undefined=(mode == 'undefined'))
                value = join(rng, refs)
            else:
                value = gen_bad_value(rng)[0]
            spec_obj = self._spec(value, rebuild=(mode == 'rebuild'))
            hosts = [hs for hs, _ in self.estate]

            passed = self.filter_handler.get_filtered_objects(
                [self.filter], hosts, spec_obj)
            if mode in ('unpinned', 'rebuild'):
                expected = hosts
            elif mode == 'good':
                expected = [hs for hs, node in self.estate
                            if self._rank(refs, node) is not None]
                some_passed += bool(expected)
            else:
                expected = []
            self.assertEqual([id(h) for h in expected],
                             [id(h) for h in passed or []], repr(value))

            weighed = self.weight_handler.get_weighed_objects(
                [self.weigher], [hs for hs, _ in weighable], spec_obj)
            weights = {id(w.obj): w.weight for w in weighed}
            self.assertEqual(sorted(weights.values(), reverse=True),
                             [w.weight for w in weighed])
            raw = {}
            for hs, node in weighable:
                rank = (self._rank(refs, node) if mode == 'good' else None)
                raw[id(hs)] = 0 if rank is None else len(refs) - rank
            top = max(raw.values())
            for hs, _ in weighable:
                want = multiplier * raw[id(hs)] / top if top else 0.0
                self.assertAlmostEqual(want, weights[id(hs)],
                                       msg='%r %r' % (value, hs.nodename))
        for mode, count in modes.items():
            self.assertGreater(count, 20, mode)
        # the oracle is not trivially "nothing passes"
        self.assertGreater(some_passed, modes['good'] // 2)
