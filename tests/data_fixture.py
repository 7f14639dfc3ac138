"""The process's :class:`nova_vmw_sched.data.Data`, replaced whole for a
test."""

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


def wait_for_runs(keeper, count, timeout):
    """Wait until ``keeper`` has completed ``count`` runs; True if it has."""
    with keeper._ran:
        return keeper._ran.wait_for(lambda: keeper.runs >= count, timeout)
