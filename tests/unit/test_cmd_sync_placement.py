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

"""``nova-vmw-sched sync-placement``: arguments and exit status."""

import io

from keystoneauth1 import exceptions as ks_exc
from nova import test

from nova_vmw_sched.cmd import main
from nova_vmw_sched.cmd import sync_placement
from nova_vmw_sched import duties


class TestSyncPlacement(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        self.setup = self.useFixture(test.fixtures.MockPatchObject(
            sync_placement, 'setup', return_value=('ctxt', 'client'))).mock
        self.run_once = self.useFixture(test.fixtures.MockPatchObject(
            duties, 'run_once', return_value={})).mock
        self.err = self.useFixture(test.fixtures.MockPatch(
            'sys.stderr', new_callable=io.StringIO)).mock

    def main(self, *argv):
        out = io.StringIO()
        return main.main(['sync-placement'] + list(argv), out=out), \
            out.getvalue()

    def test_nothing_to_change(self):
        self.assertEqual((0, ''), self.main('--config-file', 'nova.conf'))
        self.setup.assert_called_once_with('nova.conf')
        self.run_once.assert_called_once_with('ctxt', 'client',
                                              dry_run=False, only=None)

    def test_changes_made(self):
        self.run_once.return_value = {'aggregates': ['add x'],
                                      'reserves': []}
        self.assertEqual((0, 'aggregates: add x\n'), self.main())

    def test_dry_run_differs(self):
        self.run_once.return_value = {'reserves': ['r'],
                                      'aggregates': ['add x']}
        code, out = self.main('--dry-run', '--only', 'aggregates')
        self.assertEqual(1, code)
        self.assertEqual('reserves: would r\naggregates: would add x\n', out)
        self.run_once.assert_called_once_with(
            'ctxt', 'client', dry_run=True, only=('aggregates',))

    def test_dry_run_in_line(self):
        self.run_once.return_value = {'aggregates': []}
        self.assertEqual((0, ''), self.main('--dry-run'))

    def test_placement_unreachable(self):
        self.run_once.side_effect = ks_exc.ConnectFailure('refused\nmore')
        self.assertEqual((2, ''), self.main())
        self.assertEqual('nova-vmw-sched sync-placement: placement '
                         'unreachable: ConnectFailure: refused\n',
                         self.err.getvalue())

    def test_bad_config_file(self):
        self.setup.side_effect = sync_placement.UsageError(
            '--config-file x: no such file')
        self.assertEqual((2, ''), self.main('--config-file', 'x'))
        self.assertEqual('nova-vmw-sched sync-placement: --config-file x: '
                         'no such file\n', self.err.getvalue())

    def test_bad_only(self):
        exc = self.assertRaises(SystemExit, self.main, '--only', 'both')
        self.assertEqual(2, exc.code)
        self.assertIn("invalid choice: 'both'", self.err.getvalue())
        self.run_once.assert_not_called()


class TestSetup(test.NoDBTestCase):

    def test_missing_config_file_named(self):
        exc = self.assertRaises(sync_placement.UsageError,
                                sync_placement.setup,
                                '/nonexistent/nova.conf')
        self.assertEqual('--config-file /nonexistent/nova.conf: no such '
                         'file', str(exc))

    def test_cause_of_a_cell_database(self):
        from nova_vmw_sched import aggregates
        self.assertEqual(
            'database unreachable: CellDatabaseError: cell c did not answer',
            sync_placement.cause(aggregates.CellDatabaseError(
                'cell c did not answer')))
