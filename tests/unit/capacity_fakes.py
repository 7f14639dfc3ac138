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

"""Real HostStates, RequestSpecs and placement inventories of clusters for
the capacity unit tests."""

import threading
import uuid as uuid_lib

import fixtures
from nova import objects
from nova.objects import fields
from nova.scheduler import host_manager

from nova_vmw_sched import inventory

from tests import data_fixture

VC1 = '6f1c2a6e-2f6b-4c39-9d55-3b1f4c1e7a01'
VC2 = '0b7e4d2c-91a3-4f5e-8c6d-2e1f3a4b5c6d'
CELL = '11111111-2222-4333-8444-555555555555'


def node(moref, vcenter=VC1):
    return '%s.%s' % (moref, vcenter)


def inventories(vcpus=64, vcpu_max=16, memory_mb=65536, memory_max=16384,
                cpu_ratio=1.0, ram_ratio=1.0, vcpu_reserved=0,
                memory_reserved=0):
    """Placement's ``inventories`` of a cluster, as the vmwareapi driver
    reports them: totals of all ESXi hosts, max_unit the largest host."""
    return {
        'VCPU': {'total': vcpus, 'reserved': vcpu_reserved, 'min_unit': 1,
                 'max_unit': vcpu_max, 'step_size': 1,
                 'allocation_ratio': cpu_ratio},
        'MEMORY_MB': {'total': memory_mb, 'reserved': memory_reserved,
                      'min_unit': 1, 'max_unit': memory_max, 'step_size': 1,
                      'allocation_ratio': ram_ratio},
        'DISK_GB': {'total': 1000, 'reserved': 0, 'min_unit': 1,
                    'max_unit': 1000, 'step_size': 1,
                    'allocation_ratio': 1.0},
    }


def host_state(nodename, host='svc1', vcpus=64, memory_mb=65536,
               vcpus_used=0, memory_mb_used=0, uuid=None, aggregates=None):
    """A HostState built as nova's HostManager builds it."""
    compute = objects.ComputeNode(
        id=1, uuid=uuid or str(uuid_lib.uuid4()), service_id=1, host=host,
        vcpus=vcpus, memory_mb=memory_mb, local_gb=1000,
        vcpus_used=vcpus_used, memory_mb_used=memory_mb_used,
        local_gb_used=0, hypervisor_type='VMware vCenter Server',
        hypervisor_version=8000002, hypervisor_hostname=nodename,
        free_ram_mb=memory_mb - memory_mb_used, free_disk_gb=1000,
        current_workload=0, running_vms=0, cpu_info='{}',
        disk_available_least=1000, metrics='[]', stats={},
        host_ip='10.0.0.1', numa_topology=None,
        supported_hv_specs=[objects.HVSpec(
            arch=fields.Architecture.X86_64,
            hv_type=fields.HVType.VMWARE, vm_mode=fields.VMMode.HVM)],
        pci_device_pools=objects.PciDevicePoolList(objects=[]),
        cpu_allocation_ratio=4.0, ram_allocation_ratio=1.0,
        disk_allocation_ratio=1.0, updated_at=None)
    state = host_manager.HostState(host, nodename, CELL)
    state.update(compute=compute, aggregates=aggregates or [])
    return state


def request_spec(vcpus=2, memory_mb=4096, num_instances=1, rebuild=False):
    """A RequestSpec as the conductor hands it to the scheduler."""
    spec = objects.RequestSpec(
        flavor=objects.Flavor(vcpus=vcpus, memory_mb=memory_mb, root_gb=0,
                              ephemeral_gb=0, swap=0, extra_specs={}),
        instance_uuid=str(uuid_lib.uuid4()), num_instances=num_instances,
        scheduler_hints={}, ignore_hosts=None, force_hosts=None,
        force_nodes=None, requested_destination=None, pci_requests=None,
        numa_topology=None)
    if rebuild:
        spec.scheduler_hints = {'_nova_check_type': ['rebuild']}
    return spec


class CountingSource:
    """Wrap a source and record the uuids it is asked for."""

    def __init__(self, source):
        self.source = source
        #: read on the calling thread, as the wrapped source is
        self.inline = bool(getattr(source, 'inline', False))
        self._lock = threading.Lock()
        #: the uuids asked for, in order
        self.uuids = []

    @property
    def calls(self):
        return len(self.uuids)

    def __call__(self, context, rp_uuid):
        with self._lock:
            self.uuids.append(rp_uuid)
        return self.source(context, rp_uuid)


class CacheFixture(fixtures.Fixture):
    """A fresh process-wide inventory cache reading from ``inventories``.

    ``self.source`` counts the reads; ``self.clock`` is the cache's clock
    (advance it with :meth:`advance`).
    """

    def __init__(self, inventories=None):
        super().__init__()
        self.static = inventory.StaticSource(inventories)
        self.now = 1000.0

    def _setUp(self):
        self.source = CountingSource(self.static)
        self.cache = inventory.InventoryCache(self.source,
                                              clock=lambda: self.now)
        self.addCleanup(self.cache.stop)
        self.useFixture(data_fixture.DataFixture(inventory=self.cache))

    def advance(self, seconds):
        self.now += seconds

    def set(self, rp_uuid, value):
        """What placement answers for ``rp_uuid`` from now on."""
        self.static.inventories[rp_uuid] = value


class ConfigCachesFixture(fixtures.Fixture):
    """Empty the caches of parsed options, so that WARNINGs can be counted."""

    def _setUp(self):
        self.useFixture(fixtures.MonkeyPatch(
            'nova_vmw_sched.conf._warned', set()))
