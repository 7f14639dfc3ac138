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

"""The placement keeper's thread follows ``[vmware_scheduler]
placement_sync_interval``, a mutable option: 0 turns it off, a value above
0 turns it on again without a restart."""

import threading

import fixtures
from nova import test

from nova_vmw_sched import conf as vmw_conf
from nova_vmw_sched import keeper
from tests import data_fixture

#: the longest a test waits for the keeper's thread
DEADLINE = 10.0


class TestKeeperFollowsTheInterval(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        vmw_conf.register_opts(keeper.CONF)
        self.ran = threading.Event()
        self.reads = 0
        self.looked = threading.Condition()
        read = vmw_conf.read_option

        def counted(conf, name):
            if name == 'placement_sync_interval':
                with self.looked:
                    self.reads += 1
                    self.looked.notify_all()
            return read(conf, name)
        self.useFixture(fixtures.MonkeyPatch(
            'nova_vmw_sched.conf.read_option', counted))
        self.runs = data_fixture.CountedRuns(self._run)
        self.keeper = keeper.Keeper(self.runs)
        self.addCleanup(self.keeper.stop)

    def _run(self, known):
        self.ran.set()
        return {}

    def _interval(self, seconds):
        self.flags(placement_sync_interval=seconds, group='vmware_scheduler')

    def _look_twice(self):
        """Poke the thread until it has read the option twice more: what it
        did after the first of those reads is done by the second."""
        for _ in range(2):
            with self.looked:
                seen = self.reads
                data_fixture.poke(self.keeper)
                self.assertTrue(self.looked.wait_for(
                    lambda: self.reads > seen, DEADLINE))

    def test_runs_at_start_and_when_poked(self):
        self._interval(3600)
        self.keeper.start()
        self.assertTrue(self.runs.wait_for(1, DEADLINE))
        self.assertTrue(self.keeper.running())
        data_fixture.poke(self.keeper)
        self.assertTrue(self.runs.wait_for(2, DEADLINE))

    def test_off_at_start_runs_nothing_and_is_not_running(self):
        self._interval(0)
        self.keeper.start()
        self.assertFalse(self.keeper.running())
        # poked, the thread looks at the option again and stays off
        self._look_twice()
        self.assertFalse(self.ran.is_set())
        self.assertEqual(0, self.runs.runs)
        # no keeper runs: the reserve of a cluster never seen is (0, 0)
        self.assertEqual((0, 0), self.keeper.held('rp'))

    def test_turned_on_and_off_again_without_a_restart(self):
        self._interval(0)
        self.keeper.start()
        self._interval(3600)
        data_fixture.poke(self.keeper)  # what OFF_RECHECK seconds would do
        self.assertTrue(self.runs.wait_for(1, DEADLINE))
        self.assertTrue(self.keeper.running())
        self._interval(0)
        runs = self.runs.runs
        self._look_twice()
        self.assertFalse(self.keeper.running())
        self.assertEqual(runs, self.runs.runs)
