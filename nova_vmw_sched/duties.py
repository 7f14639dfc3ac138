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

"""The placement keeper's duties (:mod:`nova_vmw_sched.keeper`), run once.

:func:`nova_vmw_sched.reserve.sync` (the vSphere HA reserve of each
cluster, held as allocations) and :func:`nova_vmw_sched.aggregates.sync`
(placement aggregates per cluster); the keeper's thread and
``nova-vmw-sched sync-placement`` both call :func:`run_once`.
"""

from nova import context as nova_context

from nova_vmw_sched import aggregates
from nova_vmw_sched import reserve

#: the duties, in the order they run
NAMES = ('reserves', 'aggregates')


def run_once(context=None, client=None, dry_run=False, only=None,
             known=None):
    """Run every duty (or those named in ``only``) once.

    :param known: the keeper whose knowledge of the held reserve the run
        uses and updates (:class:`nova_vmw_sched.keeper.Held`); a fresh one
        (nothing known) when None
    :returns: ``{duty name: [change lines]}``
    :raises: whatever a duty raises (placement or a database unreachable)
    """
    if context is None:
        context = nova_context.get_admin_context()
    if client is None:
        from nova.scheduler.client import report
        client = report.report_client_singleton()
    done = {}
    if not only or 'reserves' in only:
        done['reserves'] = reserve.sync(context, client, dry_run=dry_run,
                                        known=known)
    if not only or 'aggregates' in only:
        done['aggregates'] = aggregates.sync(context, client,
                                             dry_run=dry_run)
    return done
