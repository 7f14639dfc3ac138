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

"""Weigh clusters by how many more of the requested flavor they can take,
as :func:`nova_vmw_sched.capacity.room` counts (doc/source/capacity.rst).

Reads ``[vmware_scheduler] cluster_headroom_weight_multiplier`` (default
1.0: spread; negative: pack; the aggregate metadata key of that name
overrides it) and the capacity filter's options.
"""

import nova.conf

from nova_vmw_sched import capacity
from nova_vmw_sched import data
from nova_vmw_sched import membership
from nova_vmw_sched import weights as vmw_weights

CONF = nova.conf.CONF


class VMwareClusterHeadroomWeigher(vmw_weights.ClusterWeigher):
    """Weigh clusters by the instances of the flavor they can still take."""

    MULTIPLIER = 'cluster_headroom_weight_multiplier'
    minval = 0

    def weigh_hosts(self, hosts, weight_properties):
        cache = data.get().inventory
        inventories = cache.for_hosts(
            membership.admin_context(weight_properties), hosts)
        raw = capacity.headrooms(hosts, inventories,
                                 capacity.demand_of(weight_properties),
                                 capacity.reserve_policies(CONF), cache)
        # No room, or room unknown, weighs last: 0 when spreading, the
        # largest headroom when packing.
        last_when_packing = float(max((r or 0 for r in raw), default=0))
        return [float(r) if r else
                (last_when_packing if self.weight_multiplier(h) < 0 else 0.0)
                for h, r in zip(hosts, raw)]
