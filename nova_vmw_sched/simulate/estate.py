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

"""A scenario as nova's scheduler holds it, with no database or placement:
nova's Service, ComputeNode and HostState objects, host aggregates,
:class:`~.placement.Placement` and the RequestSpecs of the conductor; it
answers the lookups of :class:`nova_vmw_sched.data.Data`.
"""

import datetime
import json
import uuid as uuid_lib

from nova import context as nova_context
from nova import objects
from nova.objects import fields
from nova.scheduler import host_manager

from nova_vmw_sched import cluster
from nova_vmw_sched import data
from nova_vmw_sched.simulate import placement as placement_mod

NAMESPACE = uuid_lib.UUID('9d6c1a52-31c8-4f4e-8f0e-5a1d9c2b7e44')
CELL_UUID = str(uuid_lib.uuid5(NAMESPACE, 'cell1'))
PROJECT = 'simulated-project'
USER = 'simulated-user'
DOWN_FOR = datetime.timedelta(days=1)
_CPU_INFO = json.dumps({'vendor': ['Intel'], 'model': ['simulated'],
                        'topology': {}, 'features': []})


def uuid_for(kind, name):
    """A uuid that depends only on ``kind`` and ``name``."""
    return str(uuid_lib.uuid5(NAMESPACE, '%s/%s' % (kind, name)))


class Estate(data.SettledSource):
    """nova's objects for one topology of a scenario (see module doc)."""

    def __init__(self, scenario, now, first_node_only=False):
        self.scenario = scenario
        self.first_node_only = first_node_only
        self.now = now
        self.context = nova_context.get_admin_context()
        self.placement = placement_mod.Placement()
        #: {instance name: uuid}, {uuid: (label, service host, node)}
        self.uuids = {}
        self.location = {}
        #: {instance uuid: rp uuid} claimed by the request being simulated
        self.claims = {}
        #: {group name: [member uuid]}
        self.members = {g: [] for g in scenario.groups}
        #: {instance uuid: flavor name, group name, zone it asked for}
        self.flavor_of = {}
        self.group_of = {}
        self.zone_of = {}
        #: {zone: objects.Aggregate}, {host aggregate name: the same}
        self.zones = {}
        self.aggregates = {}
        self.flavor_ids = {name: i for i, name in
                           enumerate(scenario.flavors, start=1)}
        #: {service host: instances dict its HostStates share}
        self.instances = {}
        #: HostStates in cluster order; {id(HostState): cluster label}
        self.hosts = []
        self.label_of = {}
        self.state_by_uuid = {}
        self._build()

    def _build(self):
        scenario = self.scenario
        flavors = scenario.flavors
        by_cluster = {}
        for inst in scenario.instances.values():
            by_cluster.setdefault(inst.cluster, []).append(inst)
        services = {}
        service_of = {}   # {cluster label: service host}
        members = {}   # {cluster label: placement aggregate uuids}
        aggregates_of = {}   # {service host: objects.Aggregate}
        for index, service in enumerate(scenario.services):
            services[service.name] = self._service(index, service)
            self.instances[service.name] = {}
            for label in service.clusters:
                service_of[label] = service.name
            joined = [self._aggregate(self.aggregates, name, 'host-aggregate',
                                      'host aggregate',
                                      scenario.aggregates[name])
                      for name in service.aggregates]
            zone = service.availability_zone
            if zone is not None:
                joined.insert(0, self._aggregate(
                    self.zones, zone, 'aggregate', 'availability zone',
                    {'availability_zone': zone}))
            aggregates_of[service.name] = joined
            mirrored = (service.clusters[:1] if self.first_node_only
                        else service.clusters)
            for agg in joined:
                agg.hosts.append(service.name)
                for label in mirrored:
                    members.setdefault(label, set()).add(agg.uuid)
        for index, c in enumerate(scenario.clusters):
            host = service_of[c.label]
            inst_dict = self.instances[host]
            used = {placement_mod.VCPU: c.used.vcpus,
                    placement_mod.MEMORY_MB: c.used.memory_mb,
                    placement_mod.DISK_GB: c.used.disk_gb}
            placed = by_cluster.get(c.label, ())
            for inst in placed:
                uuid = self._add_instance(inst.name, c.label, host,
                                          c.nodename, inst.group,
                                          inst.flavor)
                inst_dict[uuid] = self._instance(uuid, host, c.nodename)
                if inst.flavor is not None:
                    demand = placement_mod.demand_of(flavors[inst.flavor])
                    for rc, amount in demand.items():
                        used[rc] += amount
            rp_uuid = uuid_for('cluster', c.label)
            inventories = placement_mod.inventories_of(c)
            self.placement.add(rp_uuid, inventories, used,
                               members.get(c.label, ()))
            compute = self._compute(index, rp_uuid, c, host, services[host],
                                    used, c.used.instances + len(placed),
                                    inventories)
            state = host_manager.HostState(host, c.nodename, CELL_UUID)
            state.update(compute, dict(services[host]),
                         list(aggregates_of[host]), inst_dict)
            self.hosts.append(state)
            self.label_of[id(state)] = c.label
            self.state_by_uuid[rp_uuid] = state

    def _aggregate(self, table, name, kind, what, metadata):
        """``table[name]`` (a zone's or a host aggregate), made on first use
        with its placement aggregate's name for the report."""
        agg = table.get(name)
        if agg is None:
            agg = table[name] = objects.Aggregate(
                self.context, id=len(self.zones) + len(self.aggregates) + 1,
                uuid=uuid_for(kind, name), name=name, hosts=[],
                metadata=dict(metadata))
            self.placement.aggregate_names[agg.uuid] = '%s %s' % (what, name)
        return agg

    def _service(self, index, service):
        seen = self.now if service.state == 'up' else self.now - DOWN_FOR
        return objects.Service(
            self.context, id=index + 1, uuid=uuid_for('service', service.name),
            host=service.name, binary='nova-compute', topic='compute',
            report_count=1, disabled=service.disabled,
            disabled_reason=service.disabled_reason,
            forced_down=service.forced_down,
            last_seen_up=seen, created_at=self.now - 2 * DOWN_FOR,
            updated_at=seen, deleted_at=None, deleted=False)

    def _compute(self, index, rp_uuid, c, host, service, used, instances,
                 inventories):
        vcpus = inventories.get(placement_mod.VCPU, {}).get('total', 0)
        memory_mb = inventories.get(placement_mod.MEMORY_MB,
                                    {}).get('total', 0)
        local_gb = c.disk_gb or 0
        # nova's resource tracker counts the reserved amounts as used
        vcpus_used = c.reserved.vcpus + used[placement_mod.VCPU]
        memory_used = c.reserved.memory_mb + used[placement_mod.MEMORY_MB]
        disk_used = (c.reserved.disk_gb + used[placement_mod.DISK_GB]
                     if c.disk_gb else 0)
        return objects.ComputeNode(
            self.context, id=index + 1, uuid=rp_uuid, service_id=service.id,
            host=host, hypervisor_hostname=c.nodename,
            hypervisor_type=c.hypervisor_type,
            hypervisor_version=8000002, cpu_info=_CPU_INFO,
            vcpus=vcpus, memory_mb=memory_mb, local_gb=local_gb,
            vcpus_used=vcpus_used, memory_mb_used=memory_used,
            local_gb_used=disk_used, free_ram_mb=memory_mb - memory_used,
            free_disk_gb=local_gb - disk_used,
            disk_available_least=local_gb - disk_used,
            current_workload=0, running_vms=instances, metrics='[]',
            stats={'num_instances': str(instances), 'io_workload': '0',
                   'failed_builds': '0'},
            host_ip='192.0.2.%d' % (index % 250 + 1), numa_topology=None,
            supported_hv_specs=[objects.HVSpec(
                arch=fields.Architecture.X86_64,
                hv_type=fields.HVType.VMWARE, vm_mode=fields.VMMode.HVM)],
            pci_device_pools=objects.PciDevicePoolList(objects=[]),
            cpu_allocation_ratio=c.ratios.vcpu,
            ram_allocation_ratio=c.ratios.memory_mb,
            disk_allocation_ratio=c.ratios.disk_gb, mapped=1,
            created_at=self.now, updated_at=self.now, deleted_at=None,
            deleted=False)

    def _instance(self, uuid, host, nodename):
        return objects.Instance(self.context, uuid=uuid, host=host,
                                node=nodename)

    def _add_instance(self, name, label, host, nodename, group, flavor):
        uuid = uuid_for('instance', name)
        self.uuids[name] = uuid
        self.location[uuid] = (label, host, nodename)
        self.flavor_of[uuid] = flavor
        if group is not None:
            self.members[group].append(uuid)
            self.group_of[uuid] = group
        return uuid

    def nodes_of(self, context, uuids):
        """``{uuid: node}`` of these instances."""
        location = self.location
        return {u: location[u][2] for u in uuids if u in location}

    def allocations_of(self, context, uuid):
        """Where placement holds the allocation of an instance the
        current request placed."""
        rp_uuid = self.claims.get(uuid)
        return [rp_uuid] if rp_uuid else []

    def instance_of(self, context, uuid):
        """``(node, flavor id)`` of an instance, for moves."""
        if uuid not in self.location:
            return None
        return (self.location[uuid][2],
                self.flavor_ids.get(self.flavor_of.get(uuid)))

    def records_of(self, context, ref):
        """``(service host, disabled, reason)`` of the nodes ``ref``
        matches."""
        records = []
        for host_state in self.hosts:
            if ref.matches(cluster.cluster_of(host_state)):
                service = host_state.service or {}
                records.append((host_state.host, service.get('disabled'),
                                service.get('disabled_reason')))
        return records

    def aggregates_by_metadata(self, context, key=None, value=None):
        """``objects.AggregateList.get_by_metadata`` over the zones and
        host aggregates."""
        return self._aggregates_with(lambda k, v: (
            (key is None or k == key) and (value is None or v == value)))

    def aggregates_not_matching(self, context, ignored_keys, key_prefix,
                                value):
        """``objects.AggregateList.get_non_matching_by_metadata_keys``."""
        return self._aggregates_with(lambda k, v: (
            k.startswith(key_prefix) and v == value and
            k not in ignored_keys))

    def _aggregates_with(self, matches):
        """The aggregates with a metadata item that ``matches``."""
        return objects.AggregateList(objects=[
            agg for agg in (list(self.zones.values()) +
                            list(self.aggregates.values()))
            if any(matches(k, v) for k, v in agg.metadata.items())])

    def state_of(self, uuid):
        """The HostState of the cluster an instance is on."""
        return self.state_by_uuid[uuid_for('cluster', self.location[uuid][0])]

    def moved(self, uuid, source, destination, old_flavor, new_flavor):
        """A confirmed move: the old flavor leaves ``source`` (the
        scheduler consumed ``destination`` already)."""
        flavor = self.scenario.flavors[old_flavor]
        self.placement.release(source.uuid,
                               placement_mod.demand_of(flavor))
        source.free_ram_mb += flavor.memory_mb
        source.free_disk_mb += (flavor.disk_gb + flavor.ephemeral_gb) * 1024
        source.vcpus_used -= flavor.vcpus
        source.num_instances -= 1
        source.instances.pop(uuid, None)
        label = self.label_of[id(destination)]
        self.location[uuid] = (label, destination.host,
                               destination.nodename)
        self.flavor_of[uuid] = new_flavor
        destination.instances[uuid] = self._instance(
            uuid, destination.host, destination.nodename)

    def request_spec(self, request, instance_uuids, flavor_name=None,
                     group_name=None):
        """The RequestSpec of ``request`` as the conductor builds it (a
        move: the instance's flavor and group)."""
        flavor = self.scenario.flavors[flavor_name or request.flavor]
        group = None
        if group_name is not None:
            group = self._group(group_name, [])
        elif request.group is not None:
            group = self._group(request.group, instance_uuids)
        hints = {}
        for hint in ('same_host', 'different_host'):
            names = getattr(request, hint)
            if names:
                hints[hint] = [self.uuids.get(n) or uuid_for('instance', n)
                               for n in names]
        spec = objects.RequestSpec.from_components(
            self.context, instance_uuids[0],
            {'id': uuid_for('image', 'simulated'), 'name': 'simulated',
             'disk_format': 'vmdk', 'container_format': 'bare',
             'properties': {}},
            objects.Flavor(
                id=self.flavor_ids[flavor.name], flavorid=flavor.name,
                name=flavor.name,
                vcpus=flavor.vcpus, memory_mb=flavor.memory_mb,
                root_gb=flavor.disk_gb, ephemeral_gb=flavor.ephemeral_gb,
                swap=0, rxtx_factor=1.0, vcpu_weight=0, disabled=False,
                is_public=True, description=None,
                extra_specs=dict(flavor.extra_specs)),
            None, objects.InstancePCIRequests(requests=[]),
            {'scheduler_hints': hints}, group, None,
            project_id=PROJECT, user_id=USER)
        spec.num_instances = len(instance_uuids)
        spec.is_bfv = False
        # a move keeps the zone its boot asked for (nova's RequestSpec)
        spec.availability_zone = (self.zone_of.get(instance_uuids[0])
                                  if request.is_move else
                                  request.availability_zone)
        return spec

    def _group(self, name, new_uuids):
        group = self.scenario.groups[name]
        members = list(self.members[name])
        hosts = sorted({self.location[u][1] for u in members})
        return objects.InstanceGroup(
            self.context, id=1, uuid=uuid_for('group', name), name=name,
            project_id=PROJECT, user_id=USER, policy=group.policy,
            policies=[group.policy], rules=dict(group.rules),
            members=members + list(new_uuids), hosts=hosts)

    def record(self, name, host_state, group, flavor, zone):
        """An instance the scheduler placed, as nova-compute reports it."""
        uuid = self._add_instance(name, self.label_of[id(host_state)],
                                  host_state.host, host_state.nodename,
                                  group, flavor)
        self.zone_of[uuid] = zone
        # nova's scheduler put a uuid-only stub there for group requests
        host_state.instances[uuid] = self._instance(
            uuid, host_state.host, host_state.nodename)
