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

"""The hostile scenario corpus (``hostile/``, written by
:mod:`tests.unit.simulate.make_hostile`) through ``nova-vmw-sched simulate``:
every file ends with exit status 0 (it is a valid scenario after all) or 2
(with ``nova-vmw-sched simulate: FILE: ...`` lines), never a traceback."""

import io
import os

import fixtures
from nova import test

from nova_vmw_sched.cmd import main as cli
from tests.unit.simulate import make_hostile


class TestHostileCorpus(test.NoDBTestCase):

    def test_corpus_is_current_and_large_enough(self):
        files = sorted(n for n in os.listdir(make_hostile.HERE)
                       if n.endswith('.yaml'))
        self.assertGreaterEqual(len(files), 100)
        self.assertEqual(sorted(make_hostile.cases()), files)

    def test_no_traceback(self):
        outcomes = {0: 0, 2: 0}
        for name in sorted(os.listdir(make_hostile.HERE)):
            path = os.path.join(make_hostile.HERE, name)
            err = io.StringIO()
            out = io.StringIO()
            with fixtures.MonkeyPatch('sys.stderr', err):
                status = cli.main(['simulate', '--no-progress', path], out)
            text = err.getvalue()
            self.assertIn(status, (0, 2), (name, text[-2000:]))
            self.assertNotIn('Traceback', text, name)
            if status == 2:
                lines = text.splitlines()
                self.assertTrue(lines, name)
                for line in lines:
                    self.assertTrue(line.startswith(
                        'nova-vmw-sched simulate: %s: ' % path),
                        (name, line))
            outcomes[status] += 1
        # most of the corpus is refused; some odd values are still valid
        self.assertGreater(outcomes[2], 100)
