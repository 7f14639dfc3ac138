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
from nova.scheduler import utils as scheduler_utils
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
        # a bad value: read_option warns once and gives the default
        self._multiplier = vmw_weights.OncePerWeighing(
            lambda: vmw_conf.read_option(CONF, MULTIPLIER))

    def weight_multiplier(self, host_state):
        return scheduler_utils.get_weight_multiplier(
            host_state, MULTIPLIER, self._multiplier.get())

    def weigh_objects(self, weighed_obj_list, weight_properties):
        configured = self._multiplier.refresh()
        pin = request.cluster_pin(weight_properties, CONF)
        if pin.pin is None or self._multiplier_is_zero(weighed_obj_list,
                                                       configured):
            return [0.0] * len(weighed_obj_list)
        return [self._weigh(w.obj, pin.pin) for w in weighed_obj_list]

    @staticmethod
    def _multiplier_is_zero(weighed_obj_list, configured):
        if configured:
            return False
        # An aggregate may still turn the weigher on for its hosts.
        return not any(MULTIPLIER in (getattr(agg, 'metadata', None) or {})
                       for w in weighed_obj_list
                       for agg in (getattr(w.obj, 'aggregates', None) or ()))

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
