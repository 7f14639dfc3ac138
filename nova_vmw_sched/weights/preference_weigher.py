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

"""Prefer clusters in the order a flavor's ``vmware:cluster`` lists them
(doc/source/extra-specs.rst).

With ``vmware:cluster=A,B,C`` a node of A weighs most, then B, then C, then
a node not listed. A flavor without a usable ``vmware:cluster`` gets no
weight. Reads ``[vmware_scheduler] cluster_preference_weight_multiplier``
(default 1000), which the aggregate metadata key of that name overrides.
"""

import nova.conf

from nova_vmw_sched import cluster
from nova_vmw_sched import request
from nova_vmw_sched import weights as vmw_weights

CONF = nova.conf.CONF


class VMwareClusterPreferenceWeigher(vmw_weights.ClusterWeigher):
    """Weigh clusters by their place in the flavor's ``vmware:cluster``."""

    MULTIPLIER = 'cluster_preference_weight_multiplier'
    minval = 0

    def weigh_hosts(self, hosts, weight_properties):
        """Listed clusters count down from N to 1; others 0."""
        pin = request.cluster_pin(weight_properties, CONF).pin
        if pin is None:
            return None
        ranks = [pin.rank(cluster.cluster_of(h)) for h in hosts]
        return [0.0 if rank is None else float(len(pin.refs) - rank)
                for rank in ranks]
