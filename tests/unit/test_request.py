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

"""Reading ``vmware:cluster`` and the aliases from a request."""

import logging

import fixtures
import nova.conf
from nova import objects
from nova import test

from nova_vmw_sched import cluster
from nova_vmw_sched import conf as vmw_conf
from nova_vmw_sched import request

CONF = nova.conf.CONF
VC1 = '6f1c2a6e-2f6b-4c39-9d55-3b1f4c1e7a01'


class _Records(logging.Handler):
    """Keep the WARNING records of a logger (not ERROR or others)."""

    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.records = []

    def emit(self, record):
        if record.levelno == logging.WARNING:
            self.records.append(record)


def spec(extra_specs=None):
    return objects.RequestSpec(
        flavor=objects.Flavor(extra_specs=extra_specs or {}))


class RequestTestCase(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        vmw_conf.register_opts(CONF)
        # the module's memo cache, observed (not replaced)
        self.alias_cache = request._alias_cache
        self.warnings = _Records()
        self.useFixture(fixtures.LogHandler(
            self.warnings, name='nova_vmw_sched', nuke_handlers=False))


class TestFlavorExtraSpecs(RequestTestCase):

    def test_flavor_extra_specs(self):
        self.assertEqual('domain-c7', request.cluster_pin(
            spec({'vmware:cluster': 'domain-c7', 'a': 'b'}), CONF).raw)

    def test_no_flavor(self):
        self.assertEqual(request.PinRequest(), request.cluster_pin(
            objects.RequestSpec(), CONF))
        self.assertEqual(request.PinRequest(),
                         request.cluster_pin(None, CONF))

    def test_flavor_without_loaded_extra_specs(self):
        # Lazy-loading extra_specs of an orphaned flavor raises in nova.
        flavor = objects.Flavor(flavorid='f1')
        self.assertEqual(request.PinRequest(), request.cluster_pin(
            objects.RequestSpec(flavor=flavor), CONF))


class TestConfiguredAliases(RequestTestCase):

    def test_default_is_empty(self):
        self.assertEqual({}, request.configured_aliases(CONF))

    def test_aliases(self):
        self.flags(cluster_aliases={'gold': 'domain-c7.' + VC1,
                                    'silver': 'domain-c8'},
                   group='vmware_scheduler')
        aliases = request.configured_aliases(CONF)
        self.assertEqual(
            cluster.ClusterRef('domain-c7', VC1, None, 'gold'),
            aliases['gold'])
        self.assertEqual(['gold', 'silver'], sorted(aliases))
        self.assertEqual([], self.warnings.records)

    def test_change_of_option_is_seen(self):
        self.flags(cluster_aliases={'gold': 'domain-c7'},
                   group='vmware_scheduler')
        self.assertEqual('domain-c7',
                         request.configured_aliases(CONF)['gold'].moref)
        self.flags(cluster_aliases={'gold': 'domain-c8'},
                   group='vmware_scheduler')
        self.assertEqual('domain-c8',
                         request.configured_aliases(CONF)['gold'].moref)
        # only the current value is kept
        self.assertEqual(1, len(self.alias_cache))

    def test_bad_entry_warns_once_per_value(self):
        self.flags(cluster_aliases={'gold': 'domain-c7', 'bad': 'domain-x'},
                   group='vmware_scheduler')
        for _ in range(3):
            self.assertEqual(['gold'],
                             list(request.configured_aliases(CONF)))
        self.assertEqual(1, len(self.warnings.records))
        self.assertIn("alias 'bad'", self.warnings.records[0].getMessage())

        self.flags(cluster_aliases={'gold': 'domain-c7', 'worse': 'x y'},
                   group='vmware_scheduler')
        request.configured_aliases(CONF)
        request.configured_aliases(CONF)
        self.assertEqual(2, len(self.warnings.records))
        self.assertIn("alias 'worse'", self.warnings.records[1].getMessage())


class TestClusterPin(RequestTestCase):

    def test_unpinned(self):
        pin = request.cluster_pin(spec({'hw:cpu_policy': 'dedicated'}), CONF)
        self.assertEqual(request.PinRequest(), pin)
        self.assertFalse(pin.pinned)
        self.assertFalse(request.cluster_pin(objects.RequestSpec(),
                                             CONF).pinned)

    def test_pinned(self):
        pin = request.cluster_pin(
            spec({'vmware:cluster': 'domain-c8,domain-c7.' + VC1}), CONF)
        self.assertTrue(pin.pinned)
        self.assertIsNone(pin.error)
        self.assertEqual('domain-c8,domain-c7.' + VC1, pin.raw)
        self.assertEqual(
            1, pin.pin.rank(cluster.ClusterId('domain-c7', VC1)))
        self.assertEqual(
            0, pin.pin.rank(cluster.ClusterId('domain-c8', VC1)))

    def test_malformed(self):
        pin = request.cluster_pin(spec({'vmware:cluster': 'domain-c7,,'}),
                                  CONF)
        self.assertTrue(pin.pinned)
        self.assertIsNone(pin.pin)
        self.assertIn('element 2: empty', pin.error)

    def test_empty_value_is_pinned_and_broken(self):
        pin = request.cluster_pin(spec({'vmware:cluster': ''}), CONF)
        self.assertTrue(pin.pinned)
        self.assertIn('empty value', pin.error)

    def test_alias(self):
        self.flags(cluster_aliases={'gold': 'domain-c7'},
                   group='vmware_scheduler')
        pin = request.cluster_pin(spec({'vmware:cluster': 'gold'}), CONF)
        self.assertIsNone(pin.error)
        self.assertEqual(
            0, pin.pin.rank(cluster.ClusterId('domain-c7', VC1)))
        self.assertIsNone(pin.pin.rank(cluster.ClusterId('domain-c8', VC1)))

    def test_undefined_alias(self):
        self.flags(cluster_aliases={'gold': 'domain-c7'},
                   group='vmware_scheduler')
        pin = request.cluster_pin(spec({'vmware:cluster': 'gold,silver'}),
                                  CONF)
        self.assertTrue(pin.pinned)
        self.assertIsNone(pin.pin)
        self.assertIn("alias 'silver' is not defined", pin.error)
