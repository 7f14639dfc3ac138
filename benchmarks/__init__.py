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

"""Scheduler benchmarks: ``python -m benchmarks.run`` (``tox -e bench``),
and what the benchmarks share: timing, tracemalloc, a request through the
capacity plugins and a placement stand-in."""

import gc
import time
import tracemalloc
import types
import warnings

# eventlet's deprecation, which futurist's import warns of, is no figure:
# said before the benchmarks import nova
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')


def response(body, status_code=200):
    """What nova's report client returns, answering ``body``."""
    return types.SimpleNamespace(status_code=status_code, text='',
                                 json=lambda: body)


def inventory(total, max_unit, ratio=1.0, reserved=0):
    """One resource class's inventory, as placement answers it."""
    return {'total': total, 'reserved': reserved, 'min_unit': 1,
            'max_unit': max_unit, 'step_size': 1, 'allocation_ratio': ratio}


def summaries(usages):
    """placement's provider summaries of ``{uuid: (vCPUs, MB) used}``."""
    return {'allocation_requests': [], 'provider_summaries': {
        u: {'resources': {'VCPU': {'capacity': 0, 'used': v},
                          'MEMORY_MB': {'capacity': 0, 'used': m}}}
        for u, (v, m) in usages.items()}}


def request_spec(context, memory_mb=4096, vcpus=2, root_gb=40):
    """A one-instance RequestSpec of a flavor of that size."""
    from nova import objects
    from oslo_utils import uuidutils

    flavor = objects.Flavor(
        id=1, flavorid='bench', name='bench', memory_mb=memory_mb,
        vcpus=vcpus, root_gb=root_gb, ephemeral_gb=0, swap=0,
        rxtx_factor=1.0, vcpu_weight=0, disabled=False, is_public=True,
        description=None, extra_specs={})
    spec = objects.RequestSpec.from_components(
        context, uuidutils.generate_uuid(),
        {'id': uuidutils.generate_uuid(), 'name': 'bench',
         'disk_format': 'vmdk', 'container_format': 'bare',
         'properties': {}},
        flavor, None, objects.InstancePCIRequests(requests=[]), {},
        None, None, project_id='bench', user_id='bench')
    spec.is_bfv = False
    return spec


def timed(call, *args, **kwargs):
    """``(call(*args, **kwargs), the seconds it took)``."""
    start = time.perf_counter()
    result = call(*args, **kwargs)
    return result, time.perf_counter() - start


def bytes_per(call, count):
    """Bytes still allocated after ``call()``, as tracemalloc counts, per
    one of ``count`` (clusters)."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    call()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return round((after - before) / float(count), 1)


class CapacityPlugins:
    """The capacity filter and headroom weigher through nova's handlers,
    for a one-instance request of that flavor on the estate's hosts."""

    def __init__(self, estate, **flavor):
        from nova.scheduler import filters
        from nova.scheduler import weights

        from nova_vmw_sched.filters import capacity_filter
        from nova_vmw_sched.weights import headroom_weigher

        self.hosts = estate.hosts
        self.filter_handler = filters.HostFilterHandler()
        self.weight_handler = weights.HostWeightHandler()
        self.filters = [capacity_filter.VMwareClusterCapacityFilter()]
        self.weighers = [headroom_weigher.VMwareClusterHeadroomWeigher()]
        self.spec = request_spec(estate.context, **flavor)

    def filter(self):
        """The hosts the capacity filter passes."""
        return list(self.filter_handler.get_filtered_objects(
            self.filters, self.hosts, self.spec, index=0) or [])

    def request(self):
        """One request: (wall seconds, hosts passed, thread CPU seconds)."""
        c0 = time.thread_time()
        t0 = time.perf_counter()
        passed = self.filter()
        self.weight_handler.get_weighed_objects(self.weighers, passed,
                                                self.spec)
        return (time.perf_counter() - t0, len(passed),
                time.thread_time() - c0)


class Placement:
    """placement answering at once from dicts ``{provider uuid: ...}``,
    counting the calls; ``names``: provider names (default: uuids)."""

    def __init__(self, inventories, usages=None, names=None):
        self.inventories = inventories
        self.usages = usages or {}
        self.providers = [{'uuid': u, 'name': (names or {}).get(u, u),
                           'generation': 1, 'parent_provider_uuid': None}
                          for u in inventories]
        self.by_uuid = {p['uuid']: p for p in self.providers}
        self.allocations = {u: {} for u in inventories}
        self.calls = 0

    def get(self, url, version=None, global_request_id=None):
        self.calls += 1
        parts = url.strip('/').split('/')
        if parts == ['resource_providers']:
            return response({'resource_providers': self.providers})
        if parts[0].startswith('usages'):  # the reserve project's total
            return response({'usages': {rc: sum(
                a['resources'].get(rc, 0)
                for by_consumer in self.allocations.values()
                for a in by_consumer.values())
                for rc in ('VCPU', 'MEMORY_MB')}})
        # /resource_providers/{uuid}/inventories, usages or allocations
        rp, what = parts[1], parts[2]
        return response({
            what: getattr(self, what)[rp],
            'resource_provider_generation': self.by_uuid[rp]['generation']})

    def post(self, url, data, version=None, global_request_id=None):
        self.calls += 1
        touched = set()
        for consumer, body in data.items():
            for rp, alloc in body['allocations'].items():
                self.allocations[rp][consumer] = {
                    'resources': alloc['resources']}
                touched.add(rp)
        for rp in touched:  # once per provider written, as placement does
            self.by_uuid[rp]['generation'] += 1
        return response(None, 204)
