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

"""A fake multi-node compute driver that reports VMware-style clusters.

One nova-compute service built on it manages the clusters the test
registered for its host in :attr:`VMwareClusterFakeDriver.estate`, each a
compute node named ``domain-cN.<vCenter uuid>``, with inventories shaped as
nova's vmwareapi driver reports them: totals are the sum of the cluster's
ESXi hosts, ``max_unit`` the largest host.
"""

import typing as ty

import os_resource_classes as orc

from nova.virt import fake


class EsxiHost(ty.NamedTuple):
    vcpus: int = 16
    memory_mb: int = 4096


class ClusterSpec(ty.NamedTuple):
    """The ESXi hosts of one cluster, and its datastore size."""

    hosts: tuple = (EsxiHost(),)
    disk_gb: int = 1000

    @property
    def vcpus(self):
        return sum(h.vcpus for h in self.hosts)

    @property
    def memory_mb(self):
        return sum(h.memory_mb for h in self.hosts)


class VMwareClusterFakeDriver(fake.MediumFakeDriver):
    """Fake driver: one service, the clusters registered for its host."""

    # nova's vmwareapi driver can cold migrate within one service host (to
    # another cluster of it): its nodes report COMPUTE_SAME_HOST_COLD_MIGRATE
    capabilities = dict(fake.MediumFakeDriver.capabilities,
                        supports_migrate_to_same_host=True)

    #: {service host: {nodename: ClusterSpec}}; set by the test through a
    #: fixture before the service starts.
    estate: dict = {}

    def init_host(self, host):
        self._host = host
        self._set_nodes(list(self.estate[host]))

    def _spec(self, nodename):
        return self.estate[self._host][nodename]

    def get_available_resource(self, nodename):
        resources = super().get_available_resource(nodename)
        if not resources:
            return resources
        spec = self._spec(nodename)
        resources.update({
            'vcpus': spec.vcpus, 'memory_mb': spec.memory_mb,
            'local_gb': spec.disk_gb,
            # the resource tracker counts usage from the instances itself
            'vcpus_used': 0, 'memory_mb_used': 0, 'local_gb_used': 0,
            'hypervisor_type': 'VMware vCenter Server',
            # nova's fake driver reports 0, which makes every HostState's
            # free disk 0; the vmwareapi driver reports none, so free disk
            # is local_gb minus what the resource tracker counts
            'disk_available_least': spec.disk_gb,
        })
        return resources

    def update_provider_tree(self, provider_tree, nodename, allocations=None):
        spec = self._spec(nodename)
        inv = provider_tree.data(nodename).inventory
        ratios = self._get_allocation_ratios(inv)
        largest_cpu = max(h.vcpus for h in spec.hosts)
        largest_mem = max(h.memory_mb for h in spec.hosts)
        provider_tree.update_inventory(nodename, {
            orc.VCPU: {
                'total': spec.vcpus, 'min_unit': 1,
                'max_unit': largest_cpu, 'step_size': 1,
                'allocation_ratio': ratios[orc.VCPU], 'reserved': 0,
            },
            orc.MEMORY_MB: {
                'total': spec.memory_mb, 'min_unit': 1,
                'max_unit': largest_mem, 'step_size': 1,
                'allocation_ratio': ratios[orc.MEMORY_MB], 'reserved': 0,
            },
            orc.DISK_GB: {
                'total': spec.disk_gb, 'min_unit': 1,
                'max_unit': spec.disk_gb, 'step_size': 1,
                'allocation_ratio': ratios[orc.DISK_GB], 'reserved': 0,
            },
        })
