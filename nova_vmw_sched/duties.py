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
"""The placement keeper's duties (:mod:`nova_vmw_sched.keeper`), run once:
the vSphere HA reserve of each cluster (:mod:`nova_vmw_sched.reserve`), then
placement aggregates per cluster (:mod:`nova_vmw_sched.aggregates`). The
keeper's thread and ``nova-vmw-sched sync-placement`` call :func:`run_once`.
"""

from nova import context as nova_context

from nova_vmw_sched import aggregates
from nova_vmw_sched import reserve


def run_once(context=None, client=None, dry_run=False, only=None,
             known=None):
    """``{duty name: [change lines]}`` of every duty (or those in ``only``)
    run once; ``known``: see :func:`nova_vmw_sched.reserve.sync`."""
    context = context or nova_context.get_admin_context()
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
