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

"""Reserve policies, per-cluster overrides and the capacity rules."""

import os
import random

import fixtures
import nova.conf
from nova import objects
from nova import test
from oslo_config import cfg

from nova_vmw_sched import capacity
from nova_vmw_sched import cluster
from nova_vmw_sched import conf as vmw_conf
from nova_vmw_sched import inventory
from tests.unit import capacity_fakes as fakes

CONF = nova.conf.CONF
P = capacity.ReservePolicy
NONE = P()
F1 = P(capacity.HOST_FAILURES, host_failures=1)


def inv(**kw):
    return inventory.from_placement(fakes.inventories(**kw))


def cid(moref, vcenter=fakes.VC1):
    return cluster.parse_nodename(fakes.node(moref, vcenter))


def refusal(inventory, policy, used, demand):
    return capacity.room(inventory, policy, used, demand).refusal


def headroom(inventory, policy, used, demand):
    return capacity.room(inventory, policy, used, demand).count


class TestParsePolicy(test.NoDBTestCase):

    def test_good(self):
        for text, expected in (
                ('none', NONE),
                (' None ', NONE),
                ('host_failures=2', P('host_failures', host_failures=2)),
                ('HOST_FAILURES = 0', P('host_failures', host_failures=0)),
                ('host_failures=100', P('host_failures', host_failures=100)),
                ('percentage=25', P('percentage', cpu_percentage=25,
                                    memory_percentage=25)),
                ('percentage=30/20', P('percentage', cpu_percentage=30,
                                       memory_percentage=20)),
                ('percentage= 0 / 100', P('percentage', cpu_percentage=0,
                                          memory_percentage=100))):
            self.assertEqual(expected, capacity.parse_policy(text), text)

    def test_bad(self):
        for text, needle in (
                ('', 'empty policy'),
                (None, 'empty policy'),
                ('none=1', 'is not'),
                ('host_failures', 'is not'),
                ('host_failures=', "'' is not an integer"),
                ('host_failures=x', "'x' is not an integer"),
                ('host_failures=-1', 'not between 0 and 100'),
                ('host_failures=101', 'not between 0 and 100'),
                ('percentage=101', 'not between 0 and 100'),
                ('percentage=10/', "'' is not an integer"),
                ('percentage=10/20/30', "'20/30' is not an integer"),
                ('percentage=2.5', "'2.5' is not an integer"),
                ('slots=1', "'slots=1' is not")):
            e = self.assertRaises(ValueError, capacity.parse_policy, text)
            self.assertIn(needle, str(e), text)

    def test_str_round_trips(self):
        for text in ('none', 'host_failures=3', 'percentage=30/20'):
            self.assertEqual(text, str(capacity.parse_policy(text)))


class TestHoldback(test.NoDBTestCase):

    def test_host_failures_holds_back_largest_hosts_with_ratio(self):
        i = inv(vcpus=64, vcpu_max=16, cpu_ratio=4.0, memory_mb=65536,
                memory_max=16384)
        policy = P('host_failures', host_failures=2)
        self.assertEqual((128.0, 32768.0), policy.holdback(i))
        self.assertEqual((128.0, 32768.0), policy.usable(i))

    def test_percentage_of_capacity_per_resource(self):
        i = inv(vcpus=100, cpu_ratio=2.0, memory_mb=1000, memory_reserved=200)
        policy = P('percentage', cpu_percentage=10, memory_percentage=50)
        self.assertEqual((20.0, 400.0), policy.holdback(i))
        self.assertEqual((180.0, 400.0), policy.usable(i))

    def test_none_holds_nothing(self):
        i = inv(vcpus=10, memory_mb=100)
        self.assertEqual((0.0, 0.0), NONE.holdback(i))
        self.assertEqual((10.0, 100.0), NONE.usable(i))


class TestRules(test.NoDBTestCase):
    """Four ESXi hosts of 16 vCPUs and 16 GB: 64 vCPUs, 64 GB."""

    def test_fits_largest_host_pass_and_fail(self):
        i = inv()
        self.assertIsNone(refusal(
            i, NONE, (0, 0), capacity.Demand(16, 16384)))
        # larger than any host, smaller than the cluster
        r = refusal(i, NONE, (0, 0), capacity.Demand(17, 1024))
        self.assertEqual((capacity.FIT, 'VCPU', 17, 16), r[:4])
        r = refusal(i, NONE, (0, 0), capacity.Demand(1, 16385))
        self.assertEqual((capacity.FIT, 'MEMORY_MB', 16385, 16384), r[:4])

    def test_overcommit_does_not_make_a_larger_vm_fit(self):
        i = inv(cpu_ratio=4.0, ram_ratio=1.5)
        r = refusal(i, NONE, (0, 0), capacity.Demand(17, 1024))
        self.assertEqual((capacity.FIT, 'VCPU'), r[:2])
        r = refusal(i, NONE, (0, 0), capacity.Demand(1, 16385))
        self.assertEqual((capacity.FIT, 'MEMORY_MB'), r[:2])

    def test_ratio_below_one_shrinks_the_largest_host(self):
        i = inv(ram_ratio=0.5)
        self.assertIsNone(refusal(
            i, NONE, (0, 0), capacity.Demand(1, 8192)))
        r = refusal(i, NONE, (0, 0), capacity.Demand(1, 8193))
        self.assertEqual((capacity.FIT, 'MEMORY_MB', 8193, 8192.0), r[:4])

    def test_host_failures_reserve_pass_and_fail(self):
        i = inv()
        # 64 GB less one 16 GB host leaves 48 GB
        self.assertIsNone(refusal(
            i, F1, (0, 32768), capacity.Demand(1, 16384)))
        r = refusal(i, F1, (0, 32769), capacity.Demand(1, 16384))
        self.assertEqual(
            capacity.Refusal(capacity.RESERVE, 'MEMORY_MB', 49153, 49152,
                             16384), r)
        # vCPUs: 64 less 16
        self.assertIsNone(refusal(
            i, F1, (47, 0), capacity.Demand(1, 1)))
        r = refusal(i, F1, (48, 0), capacity.Demand(1, 1))
        self.assertEqual((capacity.RESERVE, 'VCPU', 49, 48), r[:4])

    def test_host_failures_with_allocation_ratio(self):
        i = inv(cpu_ratio=4.0)
        # (64 - 16) * 4 = 192 vCPUs for instances
        self.assertIsNone(refusal(
            i, F1, (191, 0), capacity.Demand(1, 1)))
        self.assertIsNotNone(refusal(
            i, F1, (192, 0), capacity.Demand(1, 1)))

    def test_as_many_failures_as_hosts_takes_nothing(self):
        policy = P('host_failures', host_failures=4)
        r = refusal(inv(), policy, (0, 0), capacity.Demand(1, 1))
        self.assertEqual(capacity.RESERVE, r.rule)

    def test_percentage_reserve_pass_and_fail(self):
        i = inv()
        policy = P('percentage', cpu_percentage=50, memory_percentage=25)
        # memory: 75 % of 64 GB = 48 GB
        self.assertIsNone(refusal(
            i, policy, (0, 45056), capacity.Demand(1, 4096)))
        r = refusal(i, policy, (0, 45057), capacity.Demand(1, 4096))
        self.assertEqual((capacity.RESERVE, 'MEMORY_MB', 49153, 49152.0),
                         r[:4])
        # CPU: 50 % of 64 = 32
        self.assertIsNone(refusal(
            i, policy, (30, 0), capacity.Demand(2, 1)))
        r = refusal(i, policy, (31, 0), capacity.Demand(2, 1))
        self.assertEqual((capacity.RESERVE, 'VCPU', 33, 32.0), r[:4])

    def test_none_still_keeps_to_capacity(self):
        i = inv(memory_reserved=4096)
        self.assertIsNone(refusal(
            i, NONE, (0, 57344), capacity.Demand(1, 4096)))
        self.assertIsNotNone(refusal(
            i, NONE, (0, 57345), capacity.Demand(1, 4096)))

    def test_headroom(self):
        i = inv()
        # memory: 48 GB usable, 8 GB used, 4 GB each -> 10; vCPUs: 48 / 2
        self.assertEqual(10, headroom(
            i, F1, (0, 8192), capacity.Demand(2, 4096)))
        # vCPUs limit: (48 - 40) / 2 = 4
        self.assertEqual(4, headroom(
            i, F1, (40, 8192), capacity.Demand(2, 4096)))
        self.assertEqual(0, headroom(
            i, F1, (48, 0), capacity.Demand(2, 4096)))
        # already past the reserve: 0, not negative
        self.assertEqual(0, headroom(
            i, F1, (60, 60000), capacity.Demand(2, 4096)))
        # does not fit the largest host
        self.assertEqual(0, headroom(
            i, NONE, (0, 0), capacity.Demand(17, 1)))
        self.assertEqual(0, headroom(
            i, NONE, (0, 0), capacity.Demand(0, 0)))

    def test_headroom_exact_with_ratios(self):
        i = inv(cpu_ratio=1.5, vcpus=10, vcpu_max=10)
        self.assertEqual(5, headroom(
            i, NONE, (0, 0), capacity.Demand(3, 1)))


class TestOneRule(test.NoDBTestCase):
    """room() is the rule: the filter's pass and the weigher's count agree."""

    def test_refused_exactly_when_no_room(self):
        rng = random.Random(11)
        for _ in range(3000):
            i = inv(vcpus=rng.choice((8, 16, 48, 64)),
                    vcpu_max=rng.choice((4, 8, 16)),
                    cpu_ratio=rng.choice((0.5, 1.0, 1.5, 4.0)),
                    memory_mb=rng.choice((4096, 16384, 65536)),
                    memory_max=rng.choice((2048, 4096, 16384)))
            policy = rng.choice((NONE, F1, P(capacity.PERCENTAGE,
                                             cpu_percentage=25,
                                             memory_percentage=40)))
            used = (rng.randint(0, 80), rng.randint(0, 70000))
            demand = capacity.Demand(rng.randint(1, 20),
                                     rng.randint(1, 20000))
            found = capacity.room(i, policy, used, demand)
            self.assertEqual(found.refusal is None, found.count >= 1,
                             (i, policy, used, demand, found))

    def test_reasons(self):
        i = inv()
        self.assertEqual(capacity.FIT, capacity.room(
            i, NONE, (0, 0), capacity.Demand(17, 1)).refusal.rule)
        refused = capacity.room(i, F1, (48, 0), capacity.Demand(1, 1))
        self.assertEqual((0, capacity.RESERVE, capacity.VCPU),
                         (refused.count, refused.refusal.rule,
                          refused.refusal.resource_class))
        # a flavor that asks for nothing passes but counts no headroom
        self.assertEqual(capacity.Room(0, None), capacity.room(
            i, NONE, (0, 0), capacity.Demand(0, 0)))


class TestHeadroomsInOneLoop(test.NoDBTestCase):
    """headrooms() is headroom() for a list of hosts."""

    def test_same_as_headroom(self):
        rng = random.Random(7)
        shapes = [inv(vcpus=v, vcpu_max=m, cpu_ratio=r, memory_mb=mm,
                      memory_max=mx, memory_reserved=res)
                  for v, m, r, mm, mx, res in (
                      (64, 16, 4.0, 65536, 16384, 0),
                      (48, 16, 1.0, 12288, 8192, 512),
                      (16, 8, 1.5, 4096, 2048, 0),
                      (8, 8, 0.5, 2048, 2048, 0))]
        policies = [NONE, F1, P('host_failures', host_failures=2),
                    P('percentage', cpu_percentage=30, memory_percentage=10)]
        for policy in policies:
            table = capacity.PolicyTable(policy)
            hosts, invs = [], []
            for n in range(200):
                i = rng.choice(shapes)
                hosts.append(fakes.host_state(
                    fakes.node('domain-c%d' % n),
                    vcpus=i.vcpu.total, memory_mb=i.memory_mb.total,
                    vcpus_used=rng.randint(0, i.vcpu.total * 2),
                    memory_mb_used=rng.randint(0, i.memory_mb.total)))
                invs.append(i)
            for demand in (capacity.Demand(1, 512), capacity.Demand(4, 4096),
                           capacity.Demand(9, 100), capacity.Demand(0, 1),
                           capacity.Demand(2, 0)):
                expected = [headroom(i, policy, capacity.usage(h, i), demand)
                            for h, i in zip(hosts, invs)]
                self.assertEqual(expected, capacity.headrooms(
                    hosts, invs, demand, table), (policy, demand))

    def test_overrides_unknown_and_odd(self):
        table, _ = capacity.build_table(F1, {'domain-c2': 'none'}, {})
        i = inv(vcpus=64, vcpu_max=16, memory_mb=65536, memory_max=16384)
        hosts = [fakes.host_state(fakes.node('domain-c%d' % n))
                 for n in range(1, 6)]
        hosts[4].free_ram_mb = None
        got = capacity.headrooms(
            hosts, [i, i, None, inventory.NOT_A_CLUSTER, i], capacity.Demand(
                1, 16384), table)
        self.assertEqual([3, 4, None, None, None], got)


class TestUsageAndDemand(test.NoDBTestCase):

    def test_usage_from_host_state_less_reserved(self):
        state = fakes.host_state(fakes.node('domain-c7'), vcpus=64,
                                 memory_mb=65536, vcpus_used=10,
                                 memory_mb_used=8704)
        i = inv(vcpu_reserved=2, memory_reserved=512)
        self.assertEqual((8.0, 8192.0), capacity.usage(state, i))

    def test_usage_counts_instances_placed_in_the_request(self):
        state = fakes.host_state(fakes.node('domain-c7'))
        state.consume_from_request(fakes.request_spec(4, 2048))
        state.consume_from_request(fakes.request_spec(4, 2048))
        self.assertEqual((8.0, 4096.0), capacity.usage(state, inv()))

    def test_usage_never_negative(self):
        state = fakes.host_state(fakes.node('domain-c7'))
        self.assertEqual((0.0, 0.0), capacity.usage(
            state, inv(vcpu_reserved=4, memory_reserved=512)))

    def test_usage_of_odd_host_data_is_unknown(self):
        state = fakes.host_state(fakes.node('domain-c7'))
        state.free_ram_mb = None
        self.assertIsNone(capacity.usage(state, inv()))
        self.assertIsNone(capacity.usage(object(), inv()))
        state = fakes.host_state(fakes.node('domain-c7'))
        state.vcpus_used = float('nan')
        self.assertIsNone(capacity.usage(state, inv()))

    def test_demand(self):
        self.assertEqual(capacity.Demand(4, 2048),
                         capacity.demand_of(fakes.request_spec(4, 2048)))
        self.assertEqual(capacity.Demand(),
                         capacity.demand_of(objects.RequestSpec()))
        self.assertEqual(capacity.Demand(), capacity.demand_of(None))


class TestPolicyTable(test.NoDBTestCase):

    ALIASES = {'gold': cluster.parse_reference(fakes.node('domain-c7'))
               ._replace(text='gold'),
               'any8': cluster.parse_reference('domain-c8')
               ._replace(text='any8')}

    def _table(self, overrides, default=F1):
        return capacity.build_table(default, overrides, self.ALIASES)

    def test_default_without_overrides(self):
        table, errors = self._table({})
        self.assertEqual([], errors)
        self.assertEqual(F1, table.for_cluster(cid('domain-c7')))
        self.assertEqual(F1, table.for_cluster(None))

    def test_by_full_name_moref_and_alias(self):
        table, errors = self._table({
            fakes.node('domain-c7'): 'host_failures=2',
            'domain-c9': 'none',
            'any8': 'percentage=30/20'})
        self.assertEqual([], errors)
        self.assertEqual(P('host_failures', host_failures=2),
                         table.for_cluster(cid('domain-c7')))
        self.assertEqual(F1, table.for_cluster(cid('domain-c7', fakes.VC2)))
        self.assertEqual(NONE, table.for_cluster(cid('domain-c9')))
        self.assertEqual(NONE, table.for_cluster(cid('domain-c9', fakes.VC2)))
        self.assertEqual(P('percentage', cpu_percentage=30,
                           memory_percentage=20),
                         table.for_cluster(cid('domain-c8', fakes.VC2)))
        self.assertEqual(F1, table.for_cluster(cid('domain-c10')))

    def test_legacy_node_name(self):
        table, _ = self._table({'domain-c3(Gold)': 'none'})
        self.assertEqual(NONE, table.for_cluster(
            cluster.parse_nodename('domain-c3(Gold)')))
        self.assertEqual(F1, table.for_cluster(
            cluster.parse_nodename('domain-c3(Silver)')))

    def test_full_name_wins_over_moref(self):
        table, errors = self._table({
            'domain-c7': 'none', fakes.node('domain-c7'): 'host_failures=3'})
        self.assertEqual([], errors)
        self.assertEqual(P('host_failures', host_failures=3),
                         table.for_cluster(cid('domain-c7')))
        self.assertEqual(NONE, table.for_cluster(cid('domain-c7', fakes.VC2)))

    def test_alias_to_full_name_wins_over_moref(self):
        table, _ = self._table({'domain-c7': 'none', 'gold': 'percentage=5'})
        self.assertEqual('percentage',
                         table.for_cluster(cid('domain-c7')).kind)

    def test_direct_entry_wins_over_alias_for_the_same_cluster(self):
        table, errors = self._table({
            'gold': 'none', fakes.node('domain-c7'): 'host_failures=2'})
        self.assertEqual(P('host_failures', host_failures=2),
                         table.for_cluster(cid('domain-c7')))
        self.assertEqual(1, len(errors))
        self.assertIn("entries '%s' and 'gold' name the same cluster"
                      % fakes.node('domain-c7'), errors[0])

    def test_same_policy_twice_is_no_error(self):
        _table, errors = self._table({
            'gold': 'none', fakes.node('domain-c7'): 'none'})
        self.assertEqual([], errors)

    def test_bad_entries_left_out(self):
        table, errors = self._table({
            'domain-x7': 'none',
            'silver': 'none',
            'domain-c7': 'host_failures=many',
            'domain-c9': 'none'})
        self.assertEqual(3, len(errors))
        self.assertIn("entry 'domain-c7:host_failures=many': host failures "
                      "'many' is not an integer", errors[0])
        self.assertIn("bad cluster moref 'domain-x7'", errors[1])
        self.assertIn("alias 'silver' is not defined", errors[2])
        self.assertEqual(F1, table.for_cluster(cid('domain-c7')))
        self.assertEqual(NONE, table.for_cluster(cid('domain-c9')))


class TestReservePolicies(test.NoDBTestCase):
    """Reading the options: defaults, overrides, WARNING once."""

    def setUp(self):
        super().setUp()
        vmw_conf.register_opts(CONF)
        self.useFixture(fakes.ConfigCachesFixture())

    def _warnings(self):
        return [line for line in self.stdlog.logger.output.splitlines()
                if 'cluster_failover' in line]

    def test_documented_defaults(self):
        table = capacity.reserve_policies(CONF)
        self.assertEqual(F1, table.default)
        self.assertEqual((), table.overrides)

    def test_default_policy_from_options(self):
        self.flags(cluster_failover_policy='percentage',
                   cluster_failover_cpu_percentage=10,
                   cluster_failover_memory_percentage=30,
                   group='vmware_scheduler')
        self.assertEqual(P('percentage', cpu_percentage=10,
                           memory_percentage=30),
                         capacity.reserve_policies(CONF).default)
        self.flags(cluster_failover_policy='host_failures',
                   cluster_failover_host_failures=2,
                   group='vmware_scheduler')
        self.assertEqual(P('host_failures', host_failures=2),
                         capacity.reserve_policies(CONF).default)
        self.flags(cluster_failover_policy='none', group='vmware_scheduler')
        self.assertEqual(NONE, capacity.reserve_policies(CONF).default)

    def test_unchanged_options_reuse_the_table(self):
        many = {'domain-c%d' % n: 'host_failures=2' for n in range(1, 2001)}
        self.flags(cluster_failover_overrides=many, group='vmware_scheduler')
        first = capacity.reserve_policies(CONF)
        self.assertIs(first, capacity.reserve_policies(CONF))
        self.assertEqual(2000, len(first.overrides))
        # a changed value (a new object from oslo.config) is read again
        fewer = dict(list(many.items())[:10])
        self.flags(cluster_failover_overrides=fewer,
                   group='vmware_scheduler')
        self.assertEqual(10, len(capacity.reserve_policies(CONF).overrides))
        self.flags(cluster_failover_host_failures=3,
                   group='vmware_scheduler')
        self.assertEqual(P('host_failures', host_failures=3),
                         capacity.reserve_policies(CONF).default)

    def test_override_by_alias_from_config(self):
        self.flags(cluster_aliases={'gold': fakes.node('domain-c7')},
                   cluster_failover_overrides={'gold': 'none'},
                   group='vmware_scheduler')
        table = capacity.reserve_policies(CONF)
        self.assertEqual(NONE, table.for_cluster(cid('domain-c7')))
        self.assertEqual(F1, table.for_cluster(cid('domain-c8')))

    def test_cached_per_value_and_warned_once(self):
        self.flags(cluster_failover_overrides={'domain-c7': 'bad',
                                               'domain-c8': 'none'},
                   group='vmware_scheduler')
        first = capacity.reserve_policies(CONF)
        self.assertIs(first, capacity.reserve_policies(CONF))
        self.assertEqual(1, len(self._warnings()))
        self.assertIn("Ignoring [vmware_scheduler] cluster_failover_overrides "
                      "entry 'domain-c7:bad'", self._warnings()[0])
        self.flags(cluster_failover_overrides={'domain-c7': 'bad'},
                   group='vmware_scheduler')
        self.assertIsNot(first, capacity.reserve_policies(CONF))
        capacity.reserve_policies(CONF)
        self.assertEqual(2, len(self._warnings()))

    def test_bad_value_in_file_falls_back_to_default(self):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'nova.conf')
        with open(path, 'w') as f:
            f.write('[vmware_scheduler]\n'
                    'cluster_failover_policy = percentage\n'
                    'cluster_failover_cpu_percentage = 150\n'
                    'cluster_failover_memory_percentage = 40\n')
        conf = cfg.ConfigOpts()
        vmw_conf.register_opts(conf)
        conf(['--config-file', path], project='nova',
             default_config_files=[])
        self.assertEqual(P('percentage', cpu_percentage=25,
                           memory_percentage=40),
                         capacity.reserve_policies(conf).default)
        capacity.reserve_policies(conf)
        self.assertEqual(1, self.stdlog.logger.output.count(
            'Bad value for [vmware_scheduler] '
            'cluster_failover_cpu_percentage'))

    def test_read_option_registers(self):
        conf = cfg.ConfigOpts()
        conf([], project='nova', default_config_files=[])
        self.assertEqual(300, vmw_conf.read_option(
            conf, 'cluster_inventory_cache_ttl'))
