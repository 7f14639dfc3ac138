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

"""One compute node record per cluster (doc/source/filters.rst): a cluster
moved to another nova-compute service can keep a stale record under the old
one. Of the candidate nodes of one cluster, the one with a live service
passes, else the most recently updated (on a tie the greatest ``(host,
nodename)``). Nodes that are not VMware clusters pass. Reads no option.
Rebuilds are not filtered.
"""

import collections

from oslo_log import log as logging

from nova import servicegroup

from nova_vmw_sched import cluster
from nova_vmw_sched import filters as vmw_filters
from nova_vmw_sched.filters import pin_filter

LOG = logging.getLogger(__name__)


class VMwareClusterDuplicateFilter(vmw_filters.RequestScopedFilter):
    """Pass one compute node record per cluster, the live one."""

    RUN_ON_REBUILD = False
    # Records and service states do not change within a request.
    run_filter_once_per_request = True

    def __init__(self):
        super().__init__()
        self.servicegroup_api = servicegroup.API()

    def prepare_hosts(self, spec_obj, host_states):
        by_cluster = collections.defaultdict(list)
        for host_state in host_states:
            found = cluster.cluster_of(host_state)
            if found is not None:
                by_cluster[found].append(host_state)
        losers = {}
        for found, records in by_cluster.items():
            if len(records) < 2:
                continue
            winner = max(records, key=self._rank)
            for host_state in records:
                if host_state is not winner:
                    losers[id(host_state)] = winner
            LOG.debug('Cluster %(cluster)s has %(count)d compute node '
                      'records; using the one under %(host)s',
                      {'cluster': found, 'count': len(records),
                       'host': winner.host})
        return losers

    def _rank(self, host_state):
        live = pin_filter.service_problem(
            host_state, self.servicegroup_api) is None
        updated = getattr(host_state, 'updated', None)
        return (live, updated is not None, updated and updated.timestamp(),
                str(getattr(host_state, 'host', '')),
                str(getattr(host_state, 'nodename', '')))

    def check(self, host_state, losers):
        winner = losers.get(id(host_state))
        if winner is None:
            return None
        return 'stale duplicate of the record under %s' % winner.host
