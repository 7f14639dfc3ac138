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

"""A VMware estate as nova's scheduler holds it: real HostState objects.

Every cluster is one nova compute node named ``domain-cN.<vCenter uuid>``,
64 clusters per vCenter. Two layouts of the same clusters:

* ``64-per-service``: one nova-compute service manages all 64 clusters of
  its vCenter (a multi-node driver). As in nova
  (``HostManager._get_instance_info``), the 64 sibling HostStates share
  *one* ``instances`` dict holding the instances of the whole service.
* ``1-per-service``: one service per cluster (nova's in-tree driver); each
  HostState has its own ``instances`` dict.

Each HostState is built the way ``HostManager._get_host_states`` builds it:
``HostState(host, node, cell_uuid)`` then ``update(compute, dict(service),
aggregates, instances)`` with a real ``objects.ComputeNode`` (the fields the
vmwareapi driver reports) and a real ``objects.Service``. Instances are
``objects.Instance`` with ``uuid``, ``host`` and ``node`` set, as nova-compute
sends them with ``track_instance_changes`` (the default).

Two server groups are placed, 20 members each by default: the members of
:attr:`Estate.members` one each on 20 clusters spread over the estate (how
an anti-affinity group looks), those of :attr:`Estate.affinity_members` all
on one cluster (how an affinity group looks). Requests built with
:meth:`Estate.request` can carry either group.

Everything is generated from a seed, so two runs build the same estate.
"""

import datetime
import json
import random
import uuid as uuid_lib

from nova import context as nova_context
from nova import objects
from nova.objects import fields
from nova.scheduler import host_manager
from nova.scheduler import weights

CLUSTERS_PER_VCENTER = 64
LAYOUTS = {
    # name: clusters per nova-compute service
    '64-per-service': 64,
    '1-per-service': 1,
}
DEFAULT_INSTANCES_PER_CLUSTER = 8
DEFAULT_GROUP_MEMBERS = 20

_CPU_INFO = json.dumps({
    'vendor': ['AMD'], 'model': ['AMD EPYC 7763 64-Core Processor'],
    'topology': {'cores': 1024, 'threads': 2048, 'sockets': 16},
    'features': ['sse', 'sse2', 'sse3', 'ssse3', 'sse4.1', 'sse4.2', 'avx',
                 'avx2', 'aes', 'pclmulqdq', 'rdrand', 'xsave']})


class Estate:
    """HostStates of one layout and size, and what requests need of them."""

    def __init__(self, layout, size, seed):
        self.layout = layout
        self.size = size
        self.clusters_per_service = LAYOUTS[layout]
        self.rng = random.Random('%s/%s/%s' % (seed, layout, size))
        self.context = nova_context.get_admin_context()
        self.cell_uuid = self.uuid()
        #: HostState objects, the list nova's filter handler is given
        self.hosts = []
        #: the ComputeNode objects (nova's HostManager keeps them too)
        self.computes = []
        #: {service host: objects.Service}
        self.services = {}
        #: {service host: the instances dict its HostStates share}
        self.instances = {}
        self.vcenters = []
        #: uuids of the spread group's and the packed group's members
        self.members = []
        self.affinity_members = []
        #: {uuid: node name} and {uuid: service host} of those members
        self.member_nodes = {}
        self.member_hosts = {}
        self.aggregates = []
        #: {profile: what its setup() keeps for this estate}
        self.profile_state = {}
        self._weighed = None

    def uuid(self):
        return str(uuid_lib.UUID(int=self.rng.getrandbits(128), version=4))

    @property
    def nodenames(self):
        return [h.nodename for h in self.hosts]

    def weighed(self):
        """The hosts as nova's weigh handler wraps them (built once)."""
        if self._weighed is None:
            self._weighed = [weights.WeighedHost(h, 0.0) for h in self.hosts]
        return self._weighed

    # -- requests -------------------------------------------------------------

    def flavor(self, extra_specs=None, memory_mb=4096, vcpus=2, root_gb=40):
        return objects.Flavor(
            id=1, flavorid='bench-%s' % memory_mb, name='bench',
            memory_mb=memory_mb, vcpus=vcpus, root_gb=root_gb,
            ephemeral_gb=0, swap=0, rxtx_factor=1.0, vcpu_weight=0,
            disabled=False, is_public=True, description=None,
            extra_specs=dict(extra_specs or {}))

    def group(self, policy='anti-affinity', members=None):
        """A server group of ``members`` (default: the spread group)."""
        members = list(self.members if members is None else members)
        hosts = sorted({self.member_hosts[m] for m in members
                        if m in self.member_hosts})
        return objects.InstanceGroup(
            self.context, id=1, uuid=self.uuid(), name='bench-group',
            project_id='bench-project', user_id='bench-user',
            policy=policy, rules={}, members=members, hosts=hosts)

    def request(self, flavor=None, group=None, hints=None, num_instances=1):
        """A RequestSpec as the conductor hands it to the scheduler."""
        flavor = flavor if flavor is not None else self.flavor()
        return objects.RequestSpec(
            self.context,
            instance_uuid=self.uuid(), project_id='bench-project',
            user_id='bench-user', num_instances=num_instances,
            flavor=flavor,
            image=objects.ImageMeta.from_dict({
                'id': self.uuid(), 'name': 'bench-image',
                'disk_format': 'vmdk', 'container_format': 'bare',
                'properties': {}}),
            availability_zone=None, scheduler_hints=dict(hints or {}),
            instance_group=group, ignore_hosts=None, force_hosts=None,
            force_nodes=None, retry=None, limits=objects.SchedulerLimits(),
            pci_requests=objects.InstancePCIRequests(requests=[]),
            numa_topology=None, is_bfv=False, requested_destination=None,
            requested_resources=[],
            request_level_params=objects.RequestLevelParams())

    # -- building -------------------------------------------------------------

    def _service(self, host, index, now):
        service = objects.Service(
            self.context, id=index + 1, uuid=self.uuid(), host=host,
            binary='nova-compute', topic='compute', report_count=1000,
            disabled=False, disabled_reason=None, availability_zone=None,
            forced_down=False, last_seen_up=now, created_at=now,
            updated_at=now, deleted_at=None, deleted=False)
        self.services[host] = service
        return service

    def _compute(self, index, host, service, nodename, now, instances):
        rng = self.rng
        esx_hosts = rng.choice((4, 8, 16, 32))
        vcpus = esx_hosts * 64
        memory_mb = esx_hosts * 1024 * 1024
        memory_used = int(memory_mb * rng.uniform(0.2, 0.9))
        local_gb = esx_hosts * 8192
        local_used = int(local_gb * rng.uniform(0.1, 0.8))
        compute = objects.ComputeNode(
            self.context, id=index + 1, uuid=self.uuid(),
            service_id=service.id, host=host,
            vcpus=vcpus, memory_mb=memory_mb, local_gb=local_gb,
            vcpus_used=int(vcpus * rng.uniform(0.2, 0.9)),
            memory_mb_used=memory_used, local_gb_used=local_used,
            hypervisor_type='VMware vCenter Server',
            hypervisor_version=8000002, hypervisor_hostname=nodename,
            free_ram_mb=memory_mb - memory_used,
            free_disk_gb=local_gb - local_used,
            current_workload=0, running_vms=instances, cpu_info=_CPU_INFO,
            disk_available_least=local_gb - local_used, metrics='[]',
            stats={'num_instances': str(instances), 'io_workload': '0',
                   'failed_builds': '0'},
            host_ip='10.%d.%d.%d' % (index >> 16 & 255, index >> 8 & 255,
                                     index & 255),
            numa_topology=None,
            supported_hv_specs=[objects.HVSpec(
                arch=fields.Architecture.X86_64,
                hv_type=fields.HVType.VMWARE,
                vm_mode=fields.VMMode.HVM)],
            pci_device_pools=objects.PciDevicePoolList(objects=[]),
            cpu_allocation_ratio=4.0, ram_allocation_ratio=1.0,
            disk_allocation_ratio=1.0, mapped=1,
            created_at=now, updated_at=now, deleted_at=None, deleted=False)
        self.computes.append(compute)
        return compute

    def _instance(self, host, nodename):
        return objects.Instance(self.context, uuid=self.uuid(), host=host,
                                node=nodename)


def build(layout, size, instances_per_cluster=DEFAULT_INSTANCES_PER_CLUSTER,
          group_members=DEFAULT_GROUP_MEMBERS, seed=1):
    """Build an :class:`Estate` of ``size`` clusters in ``layout``."""
    estate = Estate(layout, size, seed)
    per_service = estate.clusters_per_service
    now = datetime.datetime.now(datetime.timezone.utc)
    estate.aggregates = [objects.Aggregate(
        estate.context, id=1, uuid=estate.uuid(), name='az1',
        hosts=[], metadata={'availability_zone': 'az1'})]
    # {cluster index: (list to add members to, how many)}
    member_at = {}
    if group_members:
        step = max(1, size // group_members)
        for i in range(min(group_members, size)):
            member_at[i * step] = [(estate.members, 1)]
        member_at.setdefault(min(size - 1, size // 2 + 1), []).append(
            (estate.affinity_members, group_members))
    service = None
    inst_dict = None
    for index in range(size):
        position = index % CLUSTERS_PER_VCENTER
        if position == 0:
            estate.vcenters.append(estate.uuid())
        vcenter = estate.vcenters[-1]
        # morefs repeat from vCenter to vCenter, as real ones do
        nodename = 'domain-c%d.%s' % (1001 + 7 * position, vcenter)
        if index % per_service == 0:
            if per_service == 1:
                host = 'vc%05d-c%02d' % (len(estate.vcenters), position)
            else:
                host = 'vc%05d-%d' % (len(estate.vcenters),
                                      index // per_service)
            service = estate._service(host, len(estate.services), now)
            inst_dict = estate.instances[host] = {}
        host = service.host
        for _ in range(instances_per_cluster):
            instance = estate._instance(host, nodename)
            inst_dict[instance.uuid] = instance
        instances = instances_per_cluster
        for members, count in member_at.get(index, ()):
            for _ in range(count):
                member = estate._instance(host, nodename)
                inst_dict[member.uuid] = member
                members.append(member.uuid)
                estate.member_hosts[member.uuid] = host
                estate.member_nodes[member.uuid] = nodename
                instances += 1
        compute = estate._compute(index, host, service, nodename, now,
                                  instances)
        host_state = host_manager.HostState(host, nodename,
                                            estate.cell_uuid)
        host_state.update(compute, dict(service), estate.aggregates,
                          inst_dict)
        estate.hosts.append(host_state)
    return estate
