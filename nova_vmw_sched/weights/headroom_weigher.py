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
host aggregate metadata key of the same name overrides, and the reserve
options the filter reads. Inventories and placement's usage come from the
shared cache of :mod:`nova_vmw_sched.inventory`, kept fresh in the
background; a cluster never read is read first and waited for up to
``cluster_inventory_first_read_wait`` (shared with the filter).

A cluster without room for the instance (headroom 0), a cluster whose
inventory or usage is not known and a node that is not a VMware cluster
weigh last: 0 when the multiplier is positive, the largest headroom of the
others when it is negative.
"""

import nova.conf
from nova.scheduler import utils as scheduler_utils
from nova.scheduler import weights

from nova_vmw_sched import capacity
from nova_vmw_sched import cluster
from nova_vmw_sched import conf as vmw_conf
from nova_vmw_sched import data
from nova_vmw_sched import inventory
from nova_vmw_sched import weights as vmw_weights

CONF = nova.conf.CONF
MULTIPLIER = 'cluster_headroom_weight_multiplier'


class VMwareClusterHeadroomWeigher(weights.BaseHostWeigher):
    """Weigh clusters by the instances of the flavor they can still take."""

    minval = 0

    def __init__(self):
        super().__init__()
        vmw_conf.register_opts(CONF)

    def weight_multiplier(self, host_state):
        return vmw_weights.multiplier(host_state, MULTIPLIER)

    def weigh_objects(self, weighed_obj_list, weight_properties):
        hosts = [w.obj for w in weighed_obj_list]
        configured = vmw_weights.configured(MULTIPLIER)
        if vmw_weights.is_off(hosts, MULTIPLIER, configured):
            return [0.0] * len(hosts)
        cache = data.get().inventory
        inventories = cache.for_hosts(
            inventory.request_context(weight_properties), hosts)
        demand = capacity.demand_of(weight_properties)
        policies = capacity.reserve_policies(CONF)
        raw = capacity.headrooms(hosts, inventories, demand, policies, cache)
        if all(raw):
            return [float(r) for r in raw]
        # No room, or room unknown, weighs last: 0 when spreading, the
        # largest headroom when packing.
        last_when_packing = float(max(r or 0 for r in raw))
        return [float(r) if r else
                (last_when_packing if scheduler_utils.get_weight_multiplier(
                    h, MULTIPLIER, configured) < 0 else 0.0)
                for h, r in zip(hosts, raw)]

    def _weigh_object(self, host_state, weight_properties):
        """Raw metric: instances of the flavor that still fit; 0 if unknown."""
        cache = data.get().inventory
        inv = inventory.NOT_A_CLUSTER
        if cluster.cluster_of(host_state) is not None:
            inv = cache.get(getattr(host_state, 'uuid', None))
        [headroom] = capacity.headrooms(
            [host_state], [inv], capacity.demand_of(weight_properties),
            capacity.reserve_policies(CONF), cache)
        return float(headroom or 0)

