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

"""A deadlock of nova 34's functional harness on native threads, undone.

nova's ``CellDatabases`` fixture guards its switching between cell
databases with a reader-writer lock (fasteners' ``ReaderWriterLock``,
which lets no new reader in while a writer waits); on native threads
nova 34 also lets one writing transaction at a time into each SQLite
database (``DatabaseWriteLock``). The two are taken in both orders:

* a conductor thread targeted at a cell holds a read lock and waits for
  the database's write lock (``BlockDeviceMapping.create``);
* a service's heartbeat holds that write lock (``Service.save``) and, for a
  read inside the same transaction, asks for a read lock again;
* a third thread switching cells waits for the write lock of the cell
  lock, so the heartbeat's read lock is refused until the first thread
  lets go, which it never does.

Seen in a fresh clone: a functional run on native threads stopped with
every thread waiting (py-spy). :class:`ReaderPreferringLock` lets a reader
in whenever no writer holds the lock, waiting writers or not: readers then
never wait for each other, so the cycle cannot close; a writer waits until
no reader is left. The fixture :class:`NativeThreadsHarness` puts it in
place of the fixture's lock for one test.
"""

import importlib

import fasteners
import fixtures


def harness_supports_native_threads():
    """True when nova's functional harness runs on native threads: nova 34's
    keeps its SQLite databases in files in WAL mode and lets one writing
    transaction at a time into each (``DatabaseWriteLock``); nova 33's keeps
    them in memory, one connection shared by all threads, which fails as
    soon as two threads use it ("cannot start a transaction within a
    transaction")."""
    # by its full name: nova.tests.fixtures star-imports the top-level
    # nova package over the attribute of its submodule nova
    nova_fixtures = importlib.import_module('nova.tests.fixtures.nova')
    return hasattr(nova_fixtures, 'DatabaseWriteLock')


class ReaderPreferringLock(fasteners.ReaderWriterLock):
    """fasteners' reader-writer lock, but waiting writers do not keep new
    readers out (only a writer holding it does)."""

    def _acquire_read_lock(self, me):
        if me in self._pending_writers:
            raise RuntimeError('Writer %s can not acquire a read lock while '
                               'waiting for the write lock' % me)
        with self._cond:
            while self._writer is not None and self._writer != me:
                self._cond.wait()
            self._readers[me] = self._readers.get(me, 0) + 1


class NativeThreadsHarness(fixtures.Fixture):
    """The cell lock of nova's ``CellDatabases`` made reader-preferring, for
    fixtures created while this one is in place (use it before nova's
    test case sets up its databases); :attr:`created` counts the locks
    made, so that a test can check the patch took."""

    def _setUp(self):
        self.created = 0
        # the module object itself: the attribute ``nova`` of the package
        # nova.tests.fixtures is the top-level nova package (it star-imports
        # its submodule nova, which imports nova.conf)
        module = importlib.import_module('nova.tests.fixtures.nova')

        def make(*args, **kwargs):
            self.created += 1
            return ReaderPreferringLock(*args, **kwargs)

        self.useFixture(fixtures.MockPatchObject(
            module, 'ReaderWriterLock', make))
