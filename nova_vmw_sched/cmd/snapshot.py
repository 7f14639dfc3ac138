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

"""``nova-vmw-sched snapshot``: a running nova as a scenario file.

As nova-manage does, it reads a nova.conf and reaches nova's API and cell
databases and placement with the credentials in it
(:func:`nova_vmw_sched.cmd.sync_placement.setup`), then runs
:func:`nova_vmw_sched.simulate.snapshot.take`, which only reads.

Exit status: 0 written; 2 on an error (a bad nova.conf, a database or
placement unreachable, a cell down), named in one line on standard error.
The file is written to a temporary file beside it and renamed: an error
leaves no half-written file and an earlier one in place.
"""

import json
import os
import sys
import tempfile
import time

from nova_vmw_sched.cmd import sync_placement

ERROR = 2
HEADER = """\
# A snapshot of a running nova, written by `nova-vmw-sched snapshot`
# at %(when)s (UTC) from %(conf)s: a scenario (doc/source/scenario-format.rst)
# as JSON, which is YAML. To ask it something, write the boot requests in
# a file of their own, e.g. ask.yaml:
#   requests:
#     - {name: my-server, flavor: <a flavor below>}
# and run: nova-vmw-sched simulate THIS-FILE --requests ask.yaml [--why CLUSTER]
"""


def add_parser(commands):
    cmd = commands.add_parser(
        'snapshot', help='write a running nova\'s estate as a scenario '
        'file for simulate (reads only)',
        description="Read a running nova, read-only, as nova-manage does "
        "(its API and cell databases, placement through nova's report "
        'client with the [placement] credentials of the nova.conf) and '
        'write a scenario: vCenters and clusters with their placement '
        'inventory and usage, services, availability zones, server groups, '
        'flavors, the instances on each cluster and the scheduler options. '
        'Exit status: 0 written; 2 on error (nothing is written).')
    cmd.add_argument('--config-file', metavar='PATH',
                     help='nova.conf with the [api_database], [database] '
                     'and [placement] sections (default: where nova-manage '
                     'looks, e.g. /etc/nova/nova.conf)')
    cmd.add_argument('-o', '--output', metavar='FILE',
                     help='write the scenario here (default: standard '
                     'output)')
    cmd.add_argument('--anonymize', action='store_true',
                     help='project ids become project-N, server group '
                     'names group-N and host aggregate names aggregate-N, '
                     'consistently')
    cmd.add_argument('--no-progress', action='store_true',
                     help='no progress line on stderr')
    return cmd


def dump(data):
    """The scenario data as JSON text, one line per scalar field.

    JSON is YAML (simulate reads it either way), and Python's JSON parser
    reads a snapshot of 10,000 clusters in a fraction of a second, where
    libyaml takes about 20 s (doc/source/benchmarks.rst).
    """
    return json.dumps(data, indent=1, ensure_ascii=False) + '\n'


def write_atomically(path, text):
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path),
                               suffix='.tmp', dir=directory)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def run(args, out=None, err=None):
    """Run the command; return the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    from nova_vmw_sched.cmd import progress as progress_mod
    from nova_vmw_sched.simulate import snapshot
    progress = progress_mod.Progress(enabled=not args.no_progress,
                                     what='placement providers')
    try:
        if args.output:
            directory = os.path.dirname(os.path.abspath(args.output))
            if not os.path.isdir(directory):
                raise sync_placement.UsageError(
                    '-o %s: no such directory' % args.output)
        context, client = sync_placement.setup(args.config_file)
        data = snapshot.take(context, client, anonymize=args.anonymize,
                             progress=progress)
        text = HEADER % {
            'when': time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime()),
            'conf': args.config_file or 'the default nova.conf'} + dump(data)
        if args.output:
            write_atomically(args.output, text)
        else:
            out.write(text)
    except snapshot.SnapshotError as e:
        err.write('nova-vmw-sched snapshot: %s\n' % e)
        return ERROR
    except Exception as e:
        err.write('nova-vmw-sched snapshot: %s\n' % sync_placement.cause(e))
        return ERROR
    return 0
