"""Print each stestr run of the test command as one line, and a total.

Used by .ci/run after the README's test command, so that a CI log ends with
a plain summary whatever the runner prints. Arguments: tox environment
directories (``.tox/py3-nova31`` ...); each holds one stestr repository per
concurrency backend it ran, ``stestr/<backend>/.stestr``. A line per run:

    py3-nova34 threads: 70 passed, 0 failed, 0 skipped
"""

import io
import os
import subprocess
import sys

import subunit
import testtools

BACKENDS = ('eventlet', 'threads')


class _Counter(testtools.StreamResult):
    def __init__(self):
        super().__init__()
        self.status_of = {}

    def status(self, test_id=None, test_status=None, **kwargs):
        if test_id and test_status in ('success', 'fail', 'skip', 'xfail',
                                       'uxsuccess'):
            self.status_of[test_id] = test_status


def count(repo):
    """(passed, failed, skipped) of the last run in ``repo``, or None."""
    if not os.path.isdir(os.path.join(repo, '.stestr')):
        return None
    run = subprocess.run(
        [sys.executable, '-m', 'stestr', '--repo-url', repo, 'last',
         '--subunit'], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    if run.returncode or not run.stdout:
        return None
    counter = _Counter()
    subunit.ByteStreamToStreamResult(io.BytesIO(run.stdout)).run(counter)
    values = list(counter.status_of.values())
    return (sum(v in ('success', 'xfail') for v in values),
            sum(v in ('fail', 'uxsuccess') for v in values),
            values.count('skip'))


def main(envdirs):
    totals = [0, 0, 0]
    runs = 0
    for envdir in envdirs:
        name = os.path.basename(os.path.normpath(envdir))
        for backend in BACKENDS:
            found = count(os.path.join(envdir, 'stestr', backend))
            if found is None:
                continue
            runs += 1
            totals = [a + b for a, b in zip(totals, found)]
            print('%s %s: %d passed, %d failed, %d skipped'
                  % ((name, backend) + found))
    if not runs:
        print('tests: no stestr run recorded')
        return 1
    print('tests: %d passed, %d failed, %d skipped in %d runs'
          % (tuple(totals) + (runs,)))
    return 1 if totals[1] else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
