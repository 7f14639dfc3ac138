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

"""Prefer clusters in the order a flavor's ``vmware:cluster`` lists them.

With ``vmware:cluster=A,B,C`` a node of A weighs most, then B, then C; a
node not listed (only possible without ``VMwareClusterFilter``) weighs
least. A flavor without ``vmware:cluster``, or with a value that cannot be
used, gets no weight from this weigher.

Reads ``[vmware_scheduler] cluster_preference_weight_multiplier`` (default
1000, enough to win over nova's spreading weighers), which the host
aggregate metadata key of the same name overrides.
"""

import nova.conf
from nova.scheduler import weights

from nova_vmw_sched import cluster
from nova_vmw_sched import conf as vmw_conf
from nova_vmw_sched import request
from nova_vmw_sched import weights as vmw_weights

CONF = nova.conf.CONF
MULTIPLIER = 'cluster_preference_weight_multiplier'


class VMwareClusterPreferenceWeigher(weights.BaseHostWeigher):
    """Weigh clusters by their place in the flavor's ``vmware:cluster``."""

    minval = 0

    def __init__(self):
        super().__init__()
        vmw_conf.register_opts(CONF)

    def weight_multiplier(self, host_state):
        return vmw_weights.multiplier(host_state, MULTIPLIER)

    def weigh_objects(self, weighed_obj_list, weight_properties):
        hosts = [w.obj for w in weighed_obj_list]
        pin = request.cluster_pin(weight_properties, CONF)
        if pin.pin is None or vmw_weights.is_off(
                hosts, MULTIPLIER, vmw_weights.configured(MULTIPLIER)):
            return [0.0] * len(hosts)
        return [self._weigh(h, pin.pin) for h in hosts]

    @staticmethod
    def _weigh(host_state, pin):
        rank = pin.rank(cluster.cluster_of(host_state))
        if rank is None:
            return 0.0
        return float(len(pin.refs) - rank)

    def _weigh_object(self, host_state, weight_properties):
        """Raw metric: listed clusters count down from N to 1; others 0."""
        pin = request.cluster_pin(weight_properties, CONF).pin
        if pin is None:
            return 0.0
        return self._weigh(host_state, pin)
