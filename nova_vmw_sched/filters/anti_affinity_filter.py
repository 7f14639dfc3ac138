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

"""Server-group anti-affinity by cluster, in place of nova's filter of the
same name (doc/source/filters.rst and server-groups.rst).

For a request in a group with policy ``anti-affinity``, a node passes if
fewer than ``max_server_per_host`` (group rule, default 1) members are on
its cluster; other requests pass every node. Members count as
:mod:`nova_vmw_sched.membership` says; if they cannot be located, every
node fails, with one WARNING per request. Rebuilds are not filtered.
"""

from nova_vmw_sched import cluster
from nova_vmw_sched import filters as vmw_filters
from nova_vmw_sched import membership

POLICY = 'anti-affinity'


class ServerGroupAntiAffinityFilter(vmw_filters.RequestScopedFilter):
    """Keep anti-affinity group members on different clusters."""

    RUN_ON_REBUILD = False

    def prepare_hosts(self, spec_obj, host_states):
        counted = membership.group_counts(spec_obj, host_states, POLICY)
        if counted is None:
            return None
        if counted.error:
            return self.refuse(spec_obj, POLICY)
        rules = membership.field(membership.group_of(spec_obj), 'rules')
        try:  # max_server_per_host: 1 when absent or bad
            limit = int((rules or {}).get('max_server_per_host', 1))
        except Exception:
            limit = 1
        return counted.counts, max(limit, 1)

    def check(self, host_state, prepared):
        if prepared is None:
            return None
        counts, limit = prepared
        on_unit = counts.get(cluster.host_key(host_state), 0)
        if on_unit < limit:
            return None
        return ('anti-affinity: %d group member(s) on its cluster, at most %d '
                'allowed' % (on_unit, limit))
