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

"""``nova-vmw-sched sync-placement``: the placement keeper's duties, once.

As nova-manage does, it reads a nova.conf, reaches nova's API and cell
databases and placement with the credentials in it, and runs
:func:`nova_vmw_sched.duties.run_once`.

Exit status: 0 nothing to change, or every change made; 1 with
``--dry-run`` when placement differs from what the keeper would hold (an
audit); 2 on an error (a bad nova.conf, placement or a database
unreachable), named in one line on standard error.
"""

import os
import sys

DUTIES = ('reserves', 'aggregates')
#: keystoneauth exceptions that mean placement was not reached at all
UNREACHABLE = ('ConnectFailure', 'ConnectTimeout', 'ConnectionError',
               'EndpointNotFound', 'DiscoveryFailure', 'Unauthorized',
               'MissingAuthPlugin')
DIFFERS = 1
ERROR = 2


def add_parser(commands):
    cmd = commands.add_parser(
        'sync-placement', help="bring placement in line now (the placement "
        "keeper's duties, once)",
        description="Run the placement keeper's duties once, as every "
        'nova-scheduler process does each [vmware_scheduler] '
        'placement_sync_interval: the vSphere HA reserve of each cluster '
        "and every cluster's membership of its service host's aggregates. "
        'Prints one line per change. Exit status: 0 nothing to change or '
        'all changed; 1 with --dry-run when something differs; 2 on error.')
    cmd.add_argument('--config-file', metavar='PATH',
                     help='nova.conf with the [api_database], [database] '
                     'and [placement] sections (default: where nova-manage '
                     'looks, e.g. /etc/nova/nova.conf)')
    cmd.add_argument('--dry-run', action='store_true',
                     help='print what would change; write nothing; exit 1 '
                     'if anything would')
    cmd.add_argument('--only', choices=DUTIES,
                     help='run this duty only (default: both)')
    return cmd


class UsageError(Exception):
    """A problem of the command line; its text says it all."""


def setup(config_file):
    """nova's configuration, objects and databases, as nova-manage has
    them; returns ``(admin context, placement client)``."""
    import nova.conf
    from nova import config
    from nova import context as nova_context
    from nova import objects
    from nova.scheduler.client import report

    from nova_vmw_sched import conf as vmw_conf

    conf = nova.conf.CONF
    vmw_conf.register_opts(conf)
    argv = ['nova-vmw-sched']
    if config_file:
        if not os.path.isfile(config_file):
            raise UsageError('--config-file %s: no such file' % config_file)
        argv += ['--config-file', config_file]
    config.parse_args(argv, init_rpc=False)
    objects.register_all()
    return nova_context.get_admin_context(), report.SchedulerReportClient()


def cause(error):
    """One line naming what failed."""
    text = (str(error).strip().splitlines() or [''])[0]
    if isinstance(error, UsageError):
        return text
    name = type(error).__name__
    module = type(error).__module__ or ''
    where = ''
    if module.startswith('keystoneauth1'):
        where = ('placement unreachable: ' if name in UNREACHABLE
                 else 'placement: ')
    elif name == 'PlacementError':
        where = 'placement: '
    elif name == 'CellDatabaseError':
        where = 'database unreachable: '
    elif module.startswith(('oslo_db', 'sqlalchemy', 'pymysql')):
        where = 'database: '
    elif module.startswith('oslo_config'):
        where = 'configuration: '
    return '%s%s: %s' % (where, name, text)


def run(args, out=None, err=None):
    """Run the command; return the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    from nova_vmw_sched import duties
    try:
        context, client = setup(args.config_file)
        done = duties.run_once(context, client, dry_run=args.dry_run,
                               only=(args.only,) if args.only else None)
    except Exception as e:
        err.write('nova-vmw-sched sync-placement: %s\n' % cause(e))
        return ERROR
    changed = False
    for name in DUTIES:
        for line in done.get(name, ()):
            changed = True
            out.write('%s: %s%s\n' % (
                name, 'would ' if args.dry_run else '', line))
    if changed and args.dry_run:
        return DIFFERS
    return 0
