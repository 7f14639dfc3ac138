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
and what the benchmarks share: timing, tracemalloc and a placement
stand-in."""

import gc
import time
import tracemalloc
import types


def response(status_code, body):
    """What nova's report client returns, answering ``body``."""
    return types.SimpleNamespace(status_code=status_code, json=lambda: body,
                                 text='' if status_code < 400 else str(body))


def timed(call, *args, **kwargs):
    """``(call(*args, **kwargs), the seconds it took)``."""
    start = time.perf_counter()
    result = call(*args, **kwargs)
    return result, time.perf_counter() - start


def traced_bytes(call):
    """Bytes still allocated after ``call()``, as tracemalloc counts."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    call()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return after - before


class Placement:
    """placement answering at once from dicts, counting the calls.

    ``inventories``, ``usages`` and the allocations it is written are
    ``{provider uuid: ...}``; ``names``: provider names (default: uuids).
    """

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
            return response(200, {'resource_providers': self.providers})
        if parts[0].startswith('usages'):  # the reserve project's total
            return response(200, {'usages': {rc: sum(
                a['resources'].get(rc, 0)
                for by_consumer in self.allocations.values()
                for a in by_consumer.values())
                for rc in ('VCPU', 'MEMORY_MB')}})
        if parts[0] == 'allocations':
            return response(200, {'allocations': {},
                                  'consumer_generation': None})
        # /resource_providers/{uuid}/inventories, usages or allocations
        rp, what = parts[1], parts[2]
        return response(200, {
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
        return response(204, None)
