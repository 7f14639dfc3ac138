"""The process's :class:`nova_vmw_sched.data.Data`, replaced whole for a
test."""

import threading

import fixtures

from nova_vmw_sched import data


class DataFixture(fixtures.Fixture):
    """A new :class:`~nova_vmw_sched.data.Data` with ``parts`` (members,
    lookup, inventory, keeper); the parts not given are those of the Data
    in use before. The old one is back after the test."""

    def __init__(self, **parts):
        super().__init__()
        self.parts = parts

    def _setUp(self):
        current = data.get()
        parts = {name: getattr(current, name)
                 for name in ('members', 'lookup', 'inventory', 'keeper')}
        parts.update(self.parts)
        self.data = data.Data(**parts)
        self.addCleanup(data.replace, data.replace(self.data))


def poke(keeper):
    """Have ``keeper`` run now rather than at the end of its interval."""
    keeper._wake.set()


class CountedRuns:
    """A keeper's ``run`` that counts the runs it completed (failed too)."""

    def __init__(self, run):
        self._run, self.runs, self._ran = run, 0, threading.Condition()

    def __call__(self, **kwargs):
        try:
            return self._run(**kwargs)
        finally:
            with self._ran:
                self.runs += 1
                self._ran.notify_all()

    def wait_for(self, count, timeout):
        """Wait until ``count`` runs have completed; True if they have."""
        with self._ran:
            return self._ran.wait_for(lambda: self.runs >= count, timeout)
