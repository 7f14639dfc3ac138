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

"""Soft affinity and soft anti-affinity of server groups, by cluster
(doc/source/server-groups.rst): a node weighs the number of group members on
its cluster (minus it for anti-affinity). Reads ``[vmware_scheduler]
cluster_soft_affinity_weight_multiplier`` and
``cluster_soft_anti_affinity_weight_multiplier`` (default 1.0; aggregate
metadata keys of those names override them).
"""

from oslo_log import log as logging

import nova.conf

from nova_vmw_sched import cluster
from nova_vmw_sched import filters as vmw_filters
from nova_vmw_sched import membership
from nova_vmw_sched import weights as vmw_weights

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF


class _ClusterGroupWeigher(vmw_weights.ClusterWeigher):
    #: the group policy weighed, and nova's host-keyed weigher of it
    policy = None
    STOCK = None
    sign = 1

    def __init__(self):
        super().__init__()
        path = 'nova.scheduler.weights.affinity.' + self.STOCK
        option = self.MULTIPLIER[len('cluster_'):]
        classes = CONF.filter_scheduler.weight_classes
        value = getattr(CONF.filter_scheduler, option)
        if value and ('nova.scheduler.weights.all_weighers' in classes or
                      path in classes):
            LOG.error("nova's %(cls)s is enabled with [filter_scheduler] "
                      "%(option)s = %(value)s: it counts %(policy)s group "
                      "members per service host, on top of the count per "
                      "cluster. Set [filter_scheduler] %(option)s = 0.",
                      {'cls': self.STOCK, 'option': option, 'value': value,
                       'policy': self.policy})
        # nova instantiates only enabled filters: if every enabled name
        # resolves to nova's class, none of ours runs the check.
        vmw_filters.check_shadowing()

    def weigh_hosts(self, hosts, weight_properties):
        """Members on the node's cluster (negated for anti)."""
        counted = membership.group_counts(weight_properties, hosts,
                                          self.policy)
        # a soft policy fails open: members that cannot be located (see
        # Counted.error) simply do not count
        if counted is None:
            return None
        return [self.sign * counted.counts.get(cluster.host_key(h), 0)
                for h in hosts]


class VMwareClusterSoftAffinityWeigher(_ClusterGroupWeigher):
    """Prefer clusters with more members of a soft-affinity group."""

    policy = 'soft-affinity'
    STOCK = 'ServerGroupSoftAffinityWeigher'
    MULTIPLIER = 'cluster_soft_affinity_weight_multiplier'


class VMwareClusterSoftAntiAffinityWeigher(_ClusterGroupWeigher):
    """Prefer clusters with fewer members of a soft-anti-affinity group."""

    policy = 'soft-anti-affinity'
    STOCK = 'ServerGroupSoftAntiAffinityWeigher'
    MULTIPLIER = 'cluster_soft_anti_affinity_weight_multiplier'
    sign = -1
