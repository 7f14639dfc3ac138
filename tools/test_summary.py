"""Print the last stestr runs as lines 'tests: N passed, N failed'.

Used by .ci/run after the README's test command, so that a CI log ends with
a plain summary whatever the runner prints.
"""

import os
import subprocess
import sys

import subunit
import testtools


class _Counter(testtools.StreamResult):
    def __init__(self):
        super().__init__()
        self.status_of = {}

    def status(self, test_id=None, test_status=None, **kwargs):
        if test_id and test_status in ('success', 'fail', 'skip', 'xfail',
                                       'uxsuccess'):
            self.status_of[test_id] = test_status


#: (backend, directory holding a ``.stestr`` repository): stestr's default
#: one (``tox -e py3``, on eventlet)
REPOSITORIES = ((None, '.'),)


def count(repository):
    """(passed, failed, skipped) of the last run in ``repository``; None if
    it holds no run."""
    run = subprocess.run(
        [sys.executable, '-m', 'stestr', '--repo-url', repository, 'last',
         '--subunit'], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    if run.returncode or not run.stdout:
        return None
    counter = _Counter()
    subunit.ByteStreamToStreamResult(
        __import__('io').BytesIO(run.stdout)).run(counter)
    values = list(counter.status_of.values())
    passed = sum(v in ('success', 'xfail') for v in values)
    failed = sum(v in ('fail', 'uxsuccess') for v in values)
    return passed, failed, values.count('skip')


def main():
    totals = [0, 0, 0]
    seen = 0
    for backend, repository in REPOSITORIES:
        if not os.path.isdir(os.path.join(repository, '.stestr')):
            continue
        figures = count(repository)
        if figures is None:
            continue
        seen += 1
        if backend is not None:
            print('tests on %s: %d passed, %d failed, %d skipped'
                  % ((backend,) + figures))
        totals = [t + f for t, f in zip(totals, figures)]
    if not seen:
        print('tests: no stestr run recorded')
        return 1
    print('tests: %d passed, %d failed, %d skipped' % tuple(totals))
    return 1 if totals[1] else 0


if __name__ == '__main__':
    sys.exit(main())
