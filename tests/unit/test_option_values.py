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

"""A bad ``[vmware_scheduler]`` value: one WARNING and the default.

oslo.config raises when a value in the file is out of bounds or of the
wrong type, and only when the option is read. nova-scheduler must not fail
a request for it: every option is read through
:func:`nova_vmw_sched.conf.read_option`, which logs one WARNING per bad
value and uses the documented default. The hard server-group policies stay
hard: with the default wait they still refuse every host if members are in
flight after it.
"""

import logging
import os
import tokenize

import fixtures
from nova.scheduler import weights as nova_weights
from nova import test
from oslo_config import cfg
from oslo_utils.fixture import uuidsentinel as uuids

import nova_vmw_sched
from nova_vmw_sched import conf as vmw_conf
from nova_vmw_sched import membership
from nova_vmw_sched.weights import preference_weigher
from nova_vmw_sched.weights import soft_affinity_weigher
from tests import data_fixture
from tests.unit import test_membership as fakes

#: a value oslo.config refuses for each option, by type
BAD = {cfg.FloatOpt: 'lots', cfg.IntOpt: 'some', cfg.StrOpt: 'sometimes',
       cfg.DictOpt: 'not-a-dict'}
#: out of bounds, for the options that have bounds
OUT_OF_BOUNDS = {
    'cluster_preference_weight_multiplier': '-1',
    'cluster_soft_affinity_weight_multiplier': '-1',
    'cluster_soft_anti_affinity_weight_multiplier': '-1',
    'cluster_failover_host_failures': '101',
    'cluster_failover_cpu_percentage': '101',
    'cluster_failover_memory_percentage': '-1',
    'cluster_inventory_cache_ttl': '0',
    'cluster_inventory_first_read_wait': '61',
    'cluster_inventory_retry_interval': '0.5',
    'cluster_inventory_refresh_workers': '33',
    'cluster_usage_refresh_interval': '3601',
    'server_group_wait_timeout': '601',
    'server_group_wait_interval': '0',
    'placement_sync_interval': '-1',
}


class Records(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record)


class BadValueTestCase(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.MonkeyPatch('nova_vmw_sched.conf._warned',
                                             set()))
        self.warnings = Records()
        self.useFixture(fixtures.LogHandler(
            self.warnings, name='nova_vmw_sched', nuke_handlers=False))

    def conf_with(self, **values):
        """A ConfigOpts loaded from a file with these [vmware_scheduler]
        values, as nova-scheduler would load them."""
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'nova.conf')
        with open(path, 'w') as f:
            f.write('[vmware_scheduler]\n')
            for name, value in values.items():
                f.write('%s = %s\n' % (name, value))
        conf = cfg.ConfigOpts()
        vmw_conf.register_opts(conf)
        conf(['--config-file', path], project='nova',
             default_config_files=[])
        return conf

    def bad_value_lines(self, name):
        return [r for r in self.warnings.records
                if r.getMessage().startswith(
                    'Bad value for [vmware_scheduler] %s (' % name)]


class TestEveryOption(BadValueTestCase):

    def test_bad_type_gives_default_and_one_warning(self):
        for opt in vmw_conf.OPTS:
            conf = self.conf_with(**{opt.name: BAD[type(opt)]})
            self.assertRaises((ValueError, cfg.Error), getattr,
                              conf.vmware_scheduler, opt.name)
            self.assertEqual(opt.default,
                             vmw_conf.read_option(conf, opt.name), opt.name)
            self.assertEqual(opt.default,
                             vmw_conf.read_option(conf, opt.name), opt.name)
            [record] = self.bad_value_lines(opt.name)
            self.assertEqual('nova_vmw_sched.conf', record.name)
            self.assertEqual(logging.WARNING, record.levelno)
            self.assertTrue(record.getMessage().endswith(
                '; using the default, %s.' % (opt.default,)),
                record.getMessage())

    def test_out_of_bounds_gives_default(self):
        bounded = {o.name for o in vmw_conf.OPTS
                   if getattr(o.type, 'min', None) is not None or
                   getattr(o.type, 'max', None) is not None}
        self.assertEqual(bounded, set(OUT_OF_BOUNDS))
        defaults = {o.name: o.default for o in vmw_conf.OPTS}
        for name, value in OUT_OF_BOUNDS.items():
            conf = self.conf_with(**{name: value})
            self.assertEqual(defaults[name],
                             vmw_conf.read_option(conf, name), name)
            self.assertEqual(1, len(self.bad_value_lines(name)), name)

    def test_no_option_is_read_around_read_option(self):
        """Every read of an option in the package goes through read_option,
        but for the two listed here."""
        allowed = {
            # its own guard: a value oslo.config refuses counts as no alias
            # (the default), with one WARNING of its own
            ('request.py', 'cluster_aliases'),
            # simulate refuses a bad value before it runs (exit status 2)
            ('engine.py', 'cluster_failover_overrides'),
        }
        root = os.path.dirname(nova_vmw_sched.__file__)
        found = []
        for dirpath, _, files in os.walk(root):
            for filename in files:
                if not filename.endswith('.py') or filename == 'conf.py':
                    continue
                with open(os.path.join(dirpath, filename)) as f:
                    tokens = [t for t in tokenize.generate_tokens(f.readline)
                              if t.type in (tokenize.NAME, tokenize.OP)]
                for before, op, after in zip(tokens, tokens[1:],
                                             tokens[2:]):
                    if (before.string == 'vmware_scheduler' and
                            op.string in ('.', '[') and
                            (filename, after.string) not in allowed):
                        found.append('%s:%d: %s' % (
                            filename, before.start[0], before.line.strip()))
        self.assertEqual([], found)


class TestWeigherMultipliers(BadValueTestCase):
    """A bad multiplier weighs with the default instead of failing the
    request."""

    def test_cluster_preference(self):
        weigher = preference_weigher.VMwareClusterPreferenceWeigher()
        conf = self.conf_with(cluster_preference_weight_multiplier='-3')
        for module in ('weights', 'weights.preference_weigher'):
            self.useFixture(fixtures.MonkeyPatch(
                'nova_vmw_sched.%s.CONF' % module, conf))
        hosts = [fakes.host('svc1', fakes.node(n)) for n in (1, 2)]
        spec_obj = fakes.spec()
        spec_obj.flavor.extra_specs = {'vmware:cluster':
                                       'domain-c2,domain-c1'}
        weighed = nova_weights.HostWeightHandler().get_weighed_objects(
            [weigher], hosts, spec_obj)
        self.assertEqual([(fakes.node(2), 1000.0), (fakes.node(1), 500.0)],
                         [(w.obj.nodename, w.weight) for w in weighed])
        self.assertEqual(1000.0, weigher.weight_multiplier(hosts[0]))
        self.assertEqual(1, len(self.bad_value_lines(
            'cluster_preference_weight_multiplier')))

    def test_soft_affinity_and_anti_affinity(self):
        # the documented setup: nova's soft weighers add nothing
        self.flags(soft_affinity_weight_multiplier=0.0,
                   soft_anti_affinity_weight_multiplier=0.0,
                   group='filter_scheduler')
        source = fakes.FakeSource()
        source.nodes = {uuids.m1: fakes.node(1)}
        self.useFixture(data_fixture.DataFixture(members=source))
        affinity = soft_affinity_weigher.VMwareClusterSoftAffinityWeigher()
        anti = soft_affinity_weigher.VMwareClusterSoftAntiAffinityWeigher()
        self.useFixture(fixtures.MonkeyPatch(
            'nova_vmw_sched.weights.CONF',
            self.conf_with(cluster_soft_affinity_weight_multiplier='many',
                           cluster_soft_anti_affinity_weight_multiplier='-2')))
        for weigher, name, policy, best in (
                (affinity, 'cluster_soft_affinity_weight_multiplier',
                 'soft-affinity', 1),
                (anti, 'cluster_soft_anti_affinity_weight_multiplier',
                 'soft-anti-affinity', 2)):
            hosts = [fakes.host('svc1', fakes.node(n)) for n in (1, 2)]
            spec_obj = fakes.spec(fakes.group(policy, [uuids.m1, uuids.new]),
                                  instance_uuid=uuids.new)
            weighed = nova_weights.HostWeightHandler().get_weighed_objects(
                [weigher], hosts, spec_obj)
            self.assertEqual(fakes.node(best), weighed[0].obj.nodename,
                             policy)
            # the default multiplier, 1.0
            self.assertEqual([1.0, 0.0], [w.weight for w in weighed], policy)
            self.assertEqual(1, len(self.bad_value_lines(name)), name)


class TestServerGroupWait(BadValueTestCase, fakes.GroupTestCase):
    """A bad wait option waits the default time; the hard policies stay
    hard (they refuse every host if members are in flight after it)."""

    def setUp(self):
        super().setUp()
        self.hosts = [fakes.host('svc1', fakes.node(n)) for n in (1, 2, 3)]
        self.anti = fakes.anti_affinity_filter.ServerGroupAntiAffinityFilter()

    def _in_flight(self, after):
        source = fakes.EventuallyAllocated(uuids.m1, self.hosts[2].uuid,
                                           after=after)
        source.builds[uuids.m1] = 3
        source.builds[uuids.me] = 5
        self.useFixture(data_fixture.DataFixture(members=source))
        return fakes.spec(fakes.group('anti-affinity', [uuids.m1, uuids.me]),
                          instance_uuid=uuids.me)

    def _patch_conf(self, **values):
        self.useFixture(fixtures.MonkeyPatch(
            'nova_vmw_sched.membership.CONF', self.conf_with(**values)))

    def test_bad_interval_polls_at_the_default(self):
        sleeps = []
        self.useFixture(fixtures.MonkeyPatch(
            'nova_vmw_sched.membership.time.sleep', sleeps.append))
        self._patch_conf(server_group_wait_interval='often')
        spec_obj = self._in_flight(after=2)
        self.assertEqual([fakes.node(1), fakes.node(2)],
                         self.run_filters(self.anti, self.hosts, spec_obj))
        self.assertIsNone(membership.members_of(spec_obj).error)
        self.assertEqual([0.2, 0.2], sleeps)
        self.assertEqual(1, len(self.bad_value_lines(
            'server_group_wait_interval')))

    def test_bad_timeout_waits_the_default_then_fails_closed(self):
        clock = [1000.0]
        self.useFixture(fixtures.MonkeyPatch(
            'nova_vmw_sched.membership.time.monotonic', lambda: clock[0]))

        def sleep(seconds):
            clock[0] += seconds
        self.useFixture(fixtures.MonkeyPatch(
            'nova_vmw_sched.membership.time.sleep', sleep))
        self._patch_conf(server_group_wait_timeout='forever',
                         server_group_wait_interval='10')
        spec_obj = self._in_flight(after=None)
        self.assertEqual([], self.run_filters(self.anti, self.hosts,
                                              spec_obj))
        error = membership.members_of(spec_obj).error
        self.assertIn('still being scheduled after 60.0 s '
                      '([vmware_scheduler] server_group_wait_timeout)', error)
        self.assertEqual(1, len(self.bad_value_lines(
            'server_group_wait_timeout')))
