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

"""What our plugins are measured against: a trivial floor and nova's own.

The trivial filter and weigher are the cheapest plugins nova's framework
allows: they do nothing, through nova's base classes, so their cost is what
nova charges any plugin per host (``BaseFilter.filter_all`` ->
``BaseHostFilter._filter_one`` -> ``request_is_rebuild`` ->
``host_passes``; ``BaseWeigher.weigh_objects`` -> ``_weigh_object`` and
the handler's ``weight_multiplier``).
"""

from nova.scheduler import filters
from nova.scheduler.filters import affinity_filter
from nova.scheduler.filters import compute_filter
from nova.scheduler import weights
from nova.scheduler.weights import ram


class TrivialFilter(filters.BaseHostFilter):
    """Pass every host (the floor)."""

    RUN_ON_REBUILD = False

    def host_passes(self, host_state, spec_obj):
        return True


class TrivialWeigher(weights.BaseHostWeigher):
    """Weigh every host 0 (the floor)."""

    def _weigh_object(self, host_state, weight_properties):
        return 0.0


#: (label, class, role); role is 'floor' or 'nova'
FILTERS = [
    ('trivial filter', TrivialFilter, 'floor'),
    ('nova ComputeFilter', compute_filter.ComputeFilter, 'nova'),
    ('nova ServerGroupAntiAffinityFilter',
     affinity_filter.ServerGroupAntiAffinityFilter, 'nova'),
]
WEIGHERS = [
    ('trivial weigher', TrivialWeigher, 'floor'),
    ('nova RAMWeigher', ram.RAMWeigher, 'nova'),
]
FLOOR_FILTER = 'trivial filter'
FLOOR_WEIGHER = 'trivial weigher'
STOCK_GROUP_FILTER = 'nova ServerGroupAntiAffinityFilter'
STOCK_WEIGHER = 'nova RAMWeigher'
