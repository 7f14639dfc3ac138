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

"""The ``different_host`` scheduler hint by cluster, in place of nova's
filter of the same name (doc/source/filters.rst).

With ``different_host=[uuid, ...]`` a node passes only if its cluster holds
none of those instances (as :mod:`nova_vmw_sched.membership` locates them).
Without the hint every node passes. If the instances cannot be located,
every node fails, with one WARNING per request. Rebuilds are not filtered.
"""

from nova_vmw_sched import cluster
from nova_vmw_sched import filters as vmw_filters


class DifferentHostFilter(vmw_filters.HintFilter):
    """Pass only clusters holding no instance named by different_host."""

    HINT = 'different_host'

    def check(self, host_state, units):
        if not units or cluster.host_key(host_state) not in units:
            return None
        return 'different_host: a hinted instance is on its cluster'
