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

"""Thread safety: many requests at once through one set of filter and
weigher instances give what they give one after another.

The run itself is :mod:`tests.unit.stress`, started as a program with
nova's native-thread backend (``OS_NOVA_DISABLE_EVENTLET_PATCHING=1``):
this test process may have eventlet's monkey patching applied, under
which threads are green and never preempt each other.
"""

import json
import os
import subprocess
import sys

import testtools

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


class TestManyRequestsAtOnce(testtools.TestCase):

    def test_concurrent_equals_serial_on_native_threads(self):
        env = dict(os.environ, OS_NOVA_DISABLE_EVENTLET_PATCHING='1',
                   PYTHONWARNINGS='ignore')
        done = subprocess.run(
            [sys.executable, '-m', 'tests.unit.stress', '16'], cwd=ROOT,
            env=env, capture_output=True, text=True, timeout=600)
        lines = [line for line in done.stdout.splitlines()
                 if line.startswith('RESULT ')]
        self.assertEqual(0, done.returncode, done.stderr[-3000:])
        self.assertEqual(1, len(lines), done.stdout[-3000:])
        result = json.loads(lines[0][len('RESULT '):])
        self.assertFalse(result['eventlet'])
        serial = result['serial']
        # the requests are not trivial: most leave several clusters, some
        # none, and multi-creates run a second instance
        self.assertEqual(60, len(serial))
        self.assertGreater(sum(1 for r in serial if r and len(r[0]) > 1),
                           20)
        self.assertGreater(sum(1 for r in serial if r and not r[0]), 3)
        self.assertGreater(sum(1 for r in serial if len(r) == 2), 10)
        self.assertEqual(serial, result['concurrent'])
