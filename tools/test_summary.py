"""Print the last stestr run as one line: 'tests: N passed, N failed'.

Used by .ci/run after the README's test command, so that a CI log ends with
a plain summary whatever the runner prints.
"""

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


def main():
    run = subprocess.run(
        [sys.executable, '-m', 'stestr', 'last', '--subunit'],
        stdout=subprocess.PIPE)
    if run.returncode:
        print('tests: no stestr run recorded')
        return 1
    stream = run.stdout
    counter = _Counter()
    subunit.ByteStreamToStreamResult(
        __import__('io').BytesIO(stream)).run(counter)
    values = list(counter.status_of.values())
    passed = sum(v in ('success', 'xfail') for v in values)
    failed = sum(v in ('fail', 'uxsuccess') for v in values)
    skipped = values.count('skip')
    print('tests: %d passed, %d failed, %d skipped'
          % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
