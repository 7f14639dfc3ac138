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

"""Keep instances within one ESXi host and the vSphere HA failover reserve
(doc/source/capacity.rst): the rule of :func:`nova_vmw_sched.capacity.room`.

Reads the ``[vmware_scheduler] cluster_failover_*`` options (default: one
host failure) and those of the inventory cache; a cluster whose inventory
is not known fails. Nodes that are not VMware clusters pass. Rebuilds are
not filtered.
"""

import typing as ty

import nova.conf

from nova_vmw_sched import capacity
from nova_vmw_sched import cluster
from nova_vmw_sched import data
from nova_vmw_sched import filters as vmw_filters
from nova_vmw_sched import inventory
from nova_vmw_sched import membership

CONF = nova.conf.CONF


class VMwareClusterCapacityFilter(vmw_filters.RequestScopedFilter):
    """Pass clusters whose largest host and failover reserve fit the VM."""

    RUN_ON_REBUILD = False
    # Not run once per request: each instance of a multi-create uses up
    # capacity that the next one must see.

    def prepare_hosts(self, spec_obj, host_states):
        cache = data.get().inventory
        inventories = cache.for_hosts(membership.admin_context(spec_obj),
                                      host_states)
        return _Prepared(capacity.demand_of(spec_obj),
                         capacity.reserve_policies(CONF), cache,
                         {id(host): inv
                          for host, inv in zip(host_states, inventories)})

    def check(self, host_state, prepared):
        inv = prepared.inventories.get(id(host_state))
        if inv is inventory.NOT_A_CLUSTER:
            return None
        found = cluster.cluster_of(host_state)
        if inv is None:
            return 'no inventory of cluster %s is known (%s)' % (
                found,
                prepared.cache.why_missing(getattr(host_state, 'uuid', None)))
        used = capacity.usage(host_state, inv, prepared.cache)
        if used is None:
            return 'its usage is not known'
        policy = prepared.policies.for_cluster(found)
        refused = capacity.room(inv, policy, used, prepared.demand).refusal
        if refused is None:
            return None
        if refused.rule == capacity.FIT:
            text = ('the instance needs %s %s, more than the largest ESXi '
                    'host of cluster %s offers (%s)'
                    % (_num(refused.amount), refused.resource_class, found,
                       _num(refused.limit)))
        else:
            text = ('with the instance placed, cluster %s would use %s %s, '
                    'more than %s, its capacity less the failover reserve '
                    'of %s (%s)'
                    % (found, _num(refused.amount), refused.resource_class,
                       _num(refused.limit), _num(refused.holdback), policy))
        return Refused(text, refused, policy, prepared.demand)


class Refused(str):
    """A capacity refusal's reason and its figures (``simulate --why``)."""

    def __new__(cls, text, refusal, policy, demand):
        self = super().__new__(cls, text)
        self.refusal = refusal
        self.policy = policy
        self.demand = demand
        return self


class _Prepared(ty.NamedTuple):
    demand: capacity.Demand
    policies: capacity.PolicyTable
    cache: inventory.InventoryCache
    #: {id(host_state): inventory} of the hosts of this call
    inventories: dict


def _num(value):
    """A number for a reason: no '.0', at most one decimal."""
    return int(value) if value == int(value) else round(value, 1)
