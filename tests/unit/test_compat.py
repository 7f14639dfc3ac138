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

"""nova_vmw_sched.compat on the nova release installed: the test command
runs this module once per supported release (tox -e py3-nova31, -nova33,
-nova34)."""

import importlib.metadata
import os
import select
import subprocess
import sys
import threading

import testtools

from nova_vmw_sched import compat
from tests.functional import threads_harness

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

#: eventlet replaces time.sleep with its green sleep when it patches; the
#: probe must not import eventlet itself: nova 33 and later refuse that
#: import in a process on native threads
PROBE = """
from nova_vmw_sched import compat
compat.monkey_patch()
import time
print(compat.eventlet_patched(), time.sleep.__module__ != 'time')
"""


def _green(function):
    """True for eventlet's replacement of a standard library function."""
    return (getattr(function, '__module__', None) or '').startswith(
        'eventlet')


def _probe(value):
    """What a new process sees after compat.monkey_patch() with
    OS_NOVA_DISABLE_EVENTLET_PATCHING=value (None: unset)."""
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    env.pop(compat.DISABLE_EVENTLET_ENV, None)
    if value is not None:
        env[compat.DISABLE_EVENTLET_ENV] = value
    done = subprocess.run([sys.executable, '-c', PROBE], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    if done.returncode:
        raise AssertionError(done.stderr[-2000:])
    return done.stdout.split()[-2:]


class TestHarness(testtools.TestCase):

    def test_native_threads_harness_from_nova_34(self):
        # the table of doc/source/install.rst: nova 34's functional harness
        # runs on native threads, nova 31's and 33's do not
        major = int(importlib.metadata.version('nova').split('.')[0])
        self.assertEqual(major >= 34,
                         threads_harness.harness_supports_native_threads())


class TestMonkeyPatch(testtools.TestCase):

    def test_eventlet_unless_the_variable_disables_it(self):
        # nova's own rule, the same on every supported release: eventlet
        # when the variable is unset or false, native threads when true
        for value, patched in ((None, 'True'), ('0', 'True'),
                               ('false', 'True'), ('1', 'False'),
                               ('true', 'False')):
            found = _probe(value)
            self.assertEqual([patched, patched], found,
                             'OS_NOVA_DISABLE_EVENTLET_PATCHING=%r' % value)

    def test_this_process_reports_its_own_backend(self):
        # tests/__init__ applied compat.monkey_patch() before this import
        disabled = os.environ.get(compat.DISABLE_EVENTLET_ENV, '').lower()
        expected = disabled not in ('1', 'true', 'yes')
        self.assertEqual(expected, compat.eventlet_patched())
        # and the locks and selects a test uses are of that kind (not
        # time.sleep: os_brick, which some of nova's modules import,
        # replaces it with a wrapper of its own)
        self.assertEqual(expected, _green(threading.Lock), threading.Lock)
        self.assertEqual(expected, _green(select.select), select.select)

    def test_patching_twice_changes_nothing(self):
        before = compat.eventlet_patched()
        compat.monkey_patch()
        self.assertEqual(before, compat.eventlet_patched())
