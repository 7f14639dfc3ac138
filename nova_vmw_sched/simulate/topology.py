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

"""The same clusters under other nova-compute services: ``as-written``,
``per-cluster`` or ``per-vcenter``. A cluster keeps the state of its
service in the file, so in ``per-vcenter`` a vCenter's clusters share one
service per distinct state; cluster order never changes.
"""

from nova_vmw_sched.simulate import scenario as scenario_mod

AS_WRITTEN = 'as-written'
PER_CLUSTER = 'per-cluster'
PER_VCENTER = 'per-vcenter'
ALL = (AS_WRITTEN, PER_CLUSTER, PER_VCENTER)


def _state(service):
    return (service.state, service.disabled, service.availability_zone,
            service.forced_down, service.aggregates)


def _suffix(state):
    up, disabled, zone = state[:3]
    parts = [] if up == 'up' else [up]
    if disabled:
        parts.append('disabled')
    if zone is not None:
        parts.append(zone)
    return ''.join('-' + p for p in parts)


def regroup(scenario, topology):
    """Return ``scenario`` with its clusters under ``topology``'s services."""
    if topology == AS_WRITTEN:
        return scenario
    if topology not in ALL:
        raise ValueError('unknown topology %r' % topology)
    owner = {label: s for s in scenario.services for label in s.clusters}
    groups = {}   # {(name, state): ([cluster label], disabled reason)}
    for c in scenario.clusters:
        service = owner[c.label]
        state = _state(service)
        if topology == PER_CLUSTER:
            key = ('%s-%s' % (c.vcenter, c.moref) if c.vcenter
                   else c.moref, state)
        else:
            # a node that is no vSphere cluster keeps a service of its own
            key = ((c.vcenter or c.moref) + _suffix(state), state)
        groups.setdefault(key, ([], service.disabled_reason))[0].append(
            c.label)
    services = []
    names = set()
    for key, (labels, reason) in groups.items():
        name, (state, disabled, zone, forced_down, aggregates) = key
        while name in names:
            name += '_'
        names.add(name)
        services.append(scenario_mod.Service(
            name, tuple(labels), state=state, disabled=disabled,
            disabled_reason=reason, availability_zone=zone,
            forced_down=forced_down, aggregates=aggregates))
    return scenario._replace(services=services)
