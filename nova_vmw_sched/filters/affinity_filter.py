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

"""Server-group affinity by cluster, in place of nova's filter of the same
name (doc/source/filters.rst and server-groups.rst).

For a request in a group with policy ``affinity``, once a member is placed,
a node passes only if its cluster holds a member; before that, and for
other requests, every node passes. Members count as
:mod:`nova_vmw_sched.membership` says; if they cannot be located, every
node fails, with one WARNING per request. Rebuilds are not filtered.
"""

from nova_vmw_sched import cluster
from nova_vmw_sched import filters as vmw_filters
from nova_vmw_sched import membership

POLICY = 'affinity'


class ServerGroupAffinityFilter(vmw_filters.RequestScopedFilter):
    """Keep affinity group members on the cluster of the first member."""

    RUN_ON_REBUILD = False

    def prepare_hosts(self, spec_obj, host_states):
        counted = membership.group_counts(spec_obj, host_states, POLICY)
        if counted and counted.error:
            return self.refuse(spec_obj, POLICY)
        return set(counted.counts) if counted and counted.counts else None

    def check(self, host_state, units):
        if units is None or cluster.host_key(host_state) in units:
            return None
        return ('affinity: no group member on its cluster (members are on '
                '%s)' % ', '.join(sorted(map(str, units))))
