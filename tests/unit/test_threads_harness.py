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

"""The functional harness's reader-preferring cell lock
(tests.functional.threads_harness), on whichever backend this process
runs."""

import threading
import time

import fasteners
import testtools

from tests.functional import threads_harness


def _reader_gets_in_while_a_writer_waits(lock):
    """True if a second reader gets the lock while a first holds it and a
    writer waits for it."""
    first_in = threading.Event()
    release_first = threading.Event()
    second_in = threading.Event()
    writer_in = threading.Event()

    def first():
        with lock.read_lock():
            first_in.set()
            release_first.wait(10)

    def writer():
        with lock.write_lock():
            writer_in.set()

    def second():
        with lock.read_lock():
            second_in.set()

    threads = [threading.Thread(target=first)]
    threads[0].start()
    first_in.wait(10)
    threads.append(threading.Thread(target=writer))
    threads[1].start()
    deadline = time.monotonic() + 10
    while not lock.has_pending_writers and time.monotonic() < deadline:
        time.sleep(0.01)
    threads.append(threading.Thread(target=second))
    threads[2].start()
    got_in = second_in.wait(1.0)
    release_first.set()
    for thread in threads:
        thread.join(10)
    assert writer_in.is_set()
    return got_in


class TestReaderPreferringLock(testtools.TestCase):

    def test_waiting_writer_does_not_keep_a_reader_out(self):
        self.assertTrue(_reader_gets_in_while_a_writer_waits(
            threads_harness.ReaderPreferringLock()))

    def test_fasteners_lock_does(self):
        # the behaviour the harness's deadlock came from
        self.assertFalse(_reader_gets_in_while_a_writer_waits(
            fasteners.ReaderWriterLock()))

    def test_writer_keeps_readers_out_and_reentry(self):
        lock = threads_harness.ReaderPreferringLock()
        reader_in = threading.Event()

        def reader():
            with lock.read_lock():
                reader_in.set()

        with lock.write_lock():
            # the writer itself may read
            with lock.read_lock():
                pass
            thread = threading.Thread(target=reader)
            thread.start()
            self.assertFalse(reader_in.wait(0.3))
        self.assertTrue(reader_in.wait(10))
        thread.join(10)
        # a reader may take it twice
        with lock.read_lock():
            with lock.read_lock():
                self.assertTrue(lock.is_reader())
        self.assertFalse(lock.is_reader())
