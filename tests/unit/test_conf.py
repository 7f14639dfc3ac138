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

"""The ``[vmware_scheduler]`` options."""

import importlib.metadata
import os

import fixtures
from nova import test
from oslo_config import cfg

from nova_vmw_sched import capacity
from nova_vmw_sched import cluster
from nova_vmw_sched import conf as vmw_conf
from nova_vmw_sched import request

VC1 = '6f1c2a6e-2f6b-4c39-9d55-3b1f4c1e7a01'


class TestConf(test.NoDBTestCase):

    def _conf(self, text=None):
        conf = cfg.ConfigOpts()
        args = []
        if text is not None:
            path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                'nova.conf')
            with open(path, 'w') as f:
                f.write(text)
            args = ['--config-file', path]
        vmw_conf.register_opts(conf)
        conf(args, project='nova', default_config_files=[])
        return conf

    def test_list_opts(self):
        [(group, opts)] = vmw_conf.list_opts()
        self.assertEqual('vmware_scheduler', group.name)
        self.assertTrue(group.title)
        self.assertTrue(group.help)
        by_name = {opt.name: opt for opt in opts}
        self.assertEqual(len(opts), len(by_name))
        self.assertIn('cluster_aliases', by_name)
        self.assertIsInstance(by_name['cluster_aliases'], cfg.DictOpt)
        self.assertEqual({}, by_name['cluster_aliases'].default)
        multiplier = by_name['cluster_preference_weight_multiplier']
        self.assertIsInstance(multiplier, cfg.FloatOpt)
        self.assertEqual(1000.0, multiplier.default)
        self.assertEqual(0.0, multiplier.type.min)
        for opt in opts:
            self.assertIn('Possible values', opt.help, opt.name)
            self.assertIn('Related options', opt.help, opt.name)

    def test_register_opts_registers_what_list_opts_lists(self):
        conf = self._conf()
        [(group, opts)] = vmw_conf.list_opts()
        for opt in opts:
            self.assertEqual(opt.default,
                             getattr(conf.vmware_scheduler, opt.dest))
        # and nothing else
        self.assertEqual({opt.dest for opt in opts},
                         set(conf.vmware_scheduler.keys()))

    def test_list_opts_entry_point(self):
        [ep] = importlib.metadata.entry_points(
            group='oslo.config.opts').select(name='nova_vmw_sched')
        self.assertIs(vmw_conf.list_opts, ep.load())

    def test_defaults(self):
        conf = self._conf()
        self.assertEqual({}, conf.vmware_scheduler.cluster_aliases)
        self.assertEqual(
            1000.0, conf.vmware_scheduler.cluster_preference_weight_multiplier)

    def test_register_twice(self):
        conf = self._conf()
        vmw_conf.register_opts(conf)
        self.assertEqual({}, conf.vmware_scheduler.cluster_aliases)

    def test_from_file(self):
        conf = self._conf(
            '[vmware_scheduler]\n'
            'cluster_aliases = gold:domain-c7.%s, silver:domain-c8\n'
            'cluster_preference_weight_multiplier = 2.5\n' % VC1)
        self.assertEqual({'gold': 'domain-c7.' + VC1, 'silver': 'domain-c8'},
                         conf.vmware_scheduler.cluster_aliases)
        self.assertEqual(
            2.5, conf.vmware_scheduler.cluster_preference_weight_multiplier)

    def test_negative_multiplier_is_refused(self):
        conf = self._conf(
            '[vmware_scheduler]\n'
            'cluster_preference_weight_multiplier = -1\n')
        self.assertRaises(
            cfg.ConfigFileValueError, getattr, conf.vmware_scheduler,
            'cluster_preference_weight_multiplier')
        self.assertRaises(
            ValueError, conf.set_override,
            'cluster_preference_weight_multiplier', -1.0,
            group='vmware_scheduler')

    def test_every_option_is_mutable(self):
        self.assertEqual([], [o.name for o in vmw_conf.OPTS
                              if not o.mutable])

    def test_register_again_keeps_the_value_cache(self):
        conf = self._conf()
        aliases = conf.vmware_scheduler.cluster_aliases
        vmw_conf.register_opts(conf)
        # oslo.config hands out the cached object: nothing was registered
        self.assertIs(aliases, conf.vmware_scheduler.cluster_aliases)

    def test_reload_reaches_aliases_and_overrides(self):
        directory = self.useFixture(fixtures.TempDir()).path
        path = os.path.join(directory, 'nova.conf')

        def write(alias_target, override):
            with open(path, 'w') as f:
                f.write('[vmware_scheduler]\n'
                        'cluster_aliases = gold:%s\n'
                        'cluster_failover_overrides = gold:%s\n'
                        % (alias_target, override))

        write('domain-c7', 'none')
        conf = cfg.ConfigOpts()
        vmw_conf.register_opts(conf)
        conf(['--config-file', path], project='nova',
             default_config_files=[])
        c7 = cluster.ClusterId('domain-c7', VC1)
        c8 = cluster.ClusterId('domain-c8', VC1)
        aliases = request.configured_aliases(conf)
        self.assertTrue(aliases['gold'].matches(c7))
        table = capacity.reserve_policies(conf)
        self.assertEqual('none', str(table.for_cluster(c7)))
        # what nova-scheduler does on SIGHUP
        write('domain-c8', 'host_failures=2')
        conf.mutate_config_files()
        aliases = request.configured_aliases(conf)
        self.assertTrue(aliases['gold'].matches(c8))
        self.assertFalse(aliases['gold'].matches(c7))
        table = capacity.reserve_policies(conf)
        self.assertEqual('host_failures=2', str(table.for_cluster(c8)))
        self.assertEqual(str(table.default), str(table.for_cluster(c7)))
