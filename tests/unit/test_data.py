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

"""The one data seam: replaced whole, and the parts wired together."""

import testtools

from nova_vmw_sched import data
from nova_vmw_sched import inventory
from nova_vmw_sched import keeper


class TestData(testtools.TestCase):

    def test_use_replaces_the_whole_and_restores_it(self):
        before = data.get()
        mine = data.Data(members=data.SettledSource(), keeper=keeper.Off())
        with data.use(mine):
            self.assertIs(mine, data.get())
        self.assertIs(before, data.get())
        old = data.replace(mine)
        self.addCleanup(data.replace, old)
        self.assertIs(before, old)
        self.assertIs(mine, data.get())

    def test_defaults_are_nova_and_placement(self):
        known = keeper.Off()
        made = data.Data(keeper=known)
        self.assertIsInstance(made.members, data.NovaSource)
        self.assertIsInstance(made.lookup, data.DatabaseLookup)
        self.assertIsInstance(made.inventory.usage_source,
                              inventory.PlacementUsageSource)
        self.assertIsInstance(data.Data().keeper, keeper.Keeper)
        # the usage read leaves out the reserve this Data's keeper holds
        rp = 'rp-1'

        class Client:
            def get(self, url, version=None, global_request_id=None):
                class Answer:
                    status_code = 200

                    def json(self):
                        return {'provider_summaries': {rp: {'resources': {
                            'VCPU': {'used': 10},
                            'MEMORY_MB': {'used': 4096}}}}}
                return Answer()

        made.inventory.usage_source._client = Client()
        known.set_held(rp, (4, 1024))
        self.assertEqual({rp: (6, 3072)}, made.inventory.usage_source(None))
