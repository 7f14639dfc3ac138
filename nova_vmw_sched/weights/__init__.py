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

"""nova_vmw_sched scheduler weighers, added beside nova's own::

    [filter_scheduler]
    weight_classes = nova.scheduler.weights.all_weighers,
                     nova_vmw_sched.weights.all_weighers

Nothing per request is kept on a weigher.
"""

import nova.conf
from nova import loadables
from nova.scheduler import utils as scheduler_utils
from nova.scheduler import weights

from nova_vmw_sched import conf as vmw_conf

CONF = nova.conf.CONF


class ClusterWeigher(weights.BaseHostWeigher):
    """Base of our weighers, weighted by the option ``MULTIPLIER``."""

    MULTIPLIER = None

    def __init__(self):
        super().__init__()
        vmw_conf.register_opts(CONF)

    def configured(self):
        return vmw_conf.read_option(CONF, self.MULTIPLIER)

    def weight_multiplier(self, host_state):
        return scheduler_utils.get_weight_multiplier(
            host_state, self.MULTIPLIER, self.configured())

    def is_off(self, host_states):
        """True if the multiplier is 0 for every host: the option and every
        aggregate that sets it (the weigher then looks nothing up)."""
        if self.configured():
            return False
        return not any(
            self.weight_multiplier(h) for h in host_states
            if any(self.MULTIPLIER in (getattr(agg, 'metadata', None) or {})
                   for agg in (getattr(h, 'aggregates', None) or ())))

    def weigh_objects(self, weighed_obj_list, weight_properties):
        hosts = [w.obj for w in weighed_obj_list]
        if self.is_off(hosts):  # nothing is looked up (or waited for)
            return [0.0] * len(hosts)
        return (self.weigh_hosts(hosts, weight_properties) or
                [0.0] * len(hosts))

    def weigh_hosts(self, hosts, weight_properties):
        """The raw metric of each host; None: 0 for every host."""
        raise NotImplementedError()

    def _weigh_object(self, host_state, weight_properties):
        return self.weigh_objects([weights.WeighedHost(host_state, 0.0)],
                                  weight_properties)[0]


class _WeigherLoader(loadables.BaseLoader):
    def __init__(self):
        super().__init__(weights.BaseHostWeigher)


def all_weighers():
    """All weigher classes of nova_vmw_sched, for ``weight_classes``."""
    classes = _WeigherLoader().get_all_classes()
    return list({cls.__name__: cls for cls in classes
                 if cls.__module__.startswith(__name__ + '.')}.values())
