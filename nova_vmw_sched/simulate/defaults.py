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

"""The documented setup: the scheduler options etc/nova.conf.example sets.

``nova-vmw-sched simulate`` uses them when no ``--config-file`` is given;
the functional tests run with them. ``VMwareClusterCapacityFilter`` is not
part of it (doc/source/capacity.rst): a scenario's vSphere HA reserves act
through ``VMwareClusterHeadroomWeigher`` only.
"""

#: [filter_scheduler] available_filters (nova's first, so ours win names)
AVAILABLE_FILTERS = [
    'nova.scheduler.filters.all_filters',
    'nova_vmw_sched.filters.all_filters',
]

#: [filter_scheduler] enabled_filters
ENABLED_FILTERS = [
    'VMwareClusterDuplicateFilter',
    'VMwareClusterFilter',
    'VMwareClusterMoveFilter',
    'ComputeFilter',
    'ComputeCapabilitiesFilter',
    'ImagePropertiesFilter',
    'ServerGroupAntiAffinityFilter',
    'ServerGroupAffinityFilter',
    'SameHostFilter',
    'DifferentHostFilter',
]

#: [filter_scheduler] weight_classes
WEIGHT_CLASSES = [
    'nova.scheduler.weights.all_weighers',
    'nova_vmw_sched.weights.all_weighers',
]

#: other options of the documented setup, as ``{(group, option): value}``:
#: nova's soft weighers count members per service host; ours count per
#: cluster, so nova's are loaded (the conductor demands it) but add nothing.
OTHER_OPTIONS = {
    ('filter_scheduler', 'soft_affinity_weight_multiplier'): 0.0,
    ('filter_scheduler', 'soft_anti_affinity_weight_multiplier'): 0.0,
}


def options():
    """The documented setup as ``{(group, option): value}``."""
    return {('filter_scheduler', 'available_filters'): list(AVAILABLE_FILTERS),
            ('filter_scheduler', 'enabled_filters'): list(ENABLED_FILTERS),
            ('filter_scheduler', 'weight_classes'): list(WEIGHT_CLASSES),
            **OTHER_OPTIONS}
