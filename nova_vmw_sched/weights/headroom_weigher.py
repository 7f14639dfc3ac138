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

"""Weigh clusters by how many more of the requested flavor they can take.

The raw weight of a VMware cluster is its headroom: the number of instances
of the requested flavor that still fit without breaking the cluster's
failover reserve, with the rules and the reserve policies of
``VMwareClusterCapacityFilter`` (:mod:`nova_vmw_sched.capacity`); 0 if the
flavor does not fit the cluster's largest ESXi host.

Reads ``[vmware_scheduler] cluster_headroom_weight_multiplier`` (default
1.0: spread to the clusters with the most room; negative: pack), which the
host aggregate metadata key of the same name overrides, and the options
the filter reads.

A cluster without room for the instance (headroom 0), a cluster whose
inventory or usage is not known and a node that is not a VMware cluster
weigh last: 0 when the multiplier is positive, the largest headroom of the
others when it is negative.
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

    def weigh_objects(self, weighed_obj_list, weight_properties):
        hosts = [w.obj for w in weighed_obj_list]
        if self.is_off(hosts):
            return [0.0] * len(hosts)
        cache = data.get().inventory
        inventories = cache.for_hosts(
            membership.admin_context(weight_properties), hosts)
        raw = capacity.headrooms(hosts, inventories,
                                 capacity.demand_of(weight_properties),
                                 capacity.reserve_policies(CONF), cache)
        if all(raw):
            return [float(r) for r in raw]
        # No room, or room unknown, weighs last: 0 when spreading, the
        # largest headroom when packing.
        last_when_packing = float(max(r or 0 for r in raw))
        return [float(r) if r else
                (last_when_packing if self.weight_multiplier(h) < 0 else 0.0)
                for h, r in zip(hosts, raw)]
