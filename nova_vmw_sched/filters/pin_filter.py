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

"""Pin flavors to VMware clusters (doc/source/extra-specs.rst).

Reads the flavor extra spec ``vmware:cluster`` and ``[vmware_scheduler]
cluster_aliases``. Without it every node passes (default); with it only
nodes of the listed clusters whose nova-compute service is enabled and up
(as nova's ComputeFilter judges, so that the list fails over in its order).
A value that cannot be used fails every node, with one WARNING per
request. Rebuilds are not filtered.
"""

from oslo_log import log as logging

import nova.conf
from nova import servicegroup

from nova_vmw_sched import cluster
from nova_vmw_sched import conf as vmw_conf
from nova_vmw_sched import explain
from nova_vmw_sched import filters as vmw_filters
from nova_vmw_sched import request

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF


def service_problem(host_state, servicegroup_api):
    """'service X is disabled/down' as nova's ComputeFilter sees it."""
    service = getattr(host_state, 'service', None)
    if not service:
        return None
    try:
        if service['disabled']:
            return 'service %s is disabled (%s)' % (
                host_state.host, service.get('disabled_reason'))
        if not servicegroup_api.service_is_up(service):
            return 'service %s is down' % host_state.host
    except Exception:  # odd service data: leave it to ComputeFilter
        return None
    return None


class VMwareClusterFilter(vmw_filters.RequestScopedFilter):
    """Pass only the clusters a flavor's ``vmware:cluster`` lists."""

    RUN_ON_REBUILD = False
    # The pin is the flavor's, the same for every instance of a request.
    run_filter_once_per_request = True

    def __init__(self):
        super().__init__()
        self.servicegroup_api = servicegroup.API()

    def prepare_hosts(self, spec_obj, host_states):
        pin = request.cluster_pin(spec_obj, CONF)
        if pin.error:
            LOG.warning("Flavor extra spec %(key)s='%(value)s' cannot be "
                        "used (%(error)s); no host passes for instance "
                        "%(instance)s.",
                        {'key': request.CLUSTER_EXTRA_SPEC,
                         'value': pin.raw, 'error': pin.error,
                         'instance': getattr(spec_obj, 'instance_uuid',
                                             None)})
        limit = CONF.scheduler.max_placement_results
        if pin.pinned and limit and len(host_states) >= limit:
            vmw_conf.warn_once(
                LOG, ('max_placement_results',),
                '%(candidates)d candidates reached [scheduler] '
                'max_placement_results = %(limit)d: placement leaves other '
                'compute nodes out before any filter runs, so a cluster that '
                'vmware:cluster lists may never be considered. Set '
                'max_placement_results above the number of compute nodes '
                '(see the section "Placement comes first" of the limits page '
                'of the nova-vmw-sched docs).',
                {'candidates': len(host_states), 'limit': limit})
        return pin, explain.for_request(spec_obj, pin)

    def check(self, host_state, prepared):
        pin, explanation = prepared
        if not pin.pinned:
            return None
        if pin.error:
            return '%s=%s cannot be used (%s)' % (
                request.CLUSTER_EXTRA_SPEC, pin.raw, pin.error)
        rank = pin.pin.rank(cluster.cluster_of(host_state))
        if rank is None:
            return 'not a VMware cluster that %s=%s lists' % (
                request.CLUSTER_EXTRA_SPEC, pin.raw)
        explanation.add_listed(rank, host_state)
        return service_problem(host_state, self.servicegroup_api)
