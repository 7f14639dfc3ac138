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

"""A cluster's inventory as the rules need it, and the sources
:mod:`nova_vmw_sched.inventory`'s cache reads placement through:
``source(context, rp_uuid)`` gives placement's ``inventories`` ({} if none)
and ``usage_source(context)`` ``{rp uuid: (vCPUs, MB)}``, or raise. A source
with a true ``inline`` is read on the caller's thread (no cache thread).
"""

import functools
import typing as ty


VCPU, MEMORY_MB = 'VCPU', 'MEMORY_MB'


class Resource(ty.NamedTuple):
    """One resource class of a cluster's inventory, as placement has it."""

    total: int
    reserved: int
    max_unit: int
    allocation_ratio: float


class ClusterInventory(ty.NamedTuple):
    """A cluster's ``VCPU`` and ``MEMORY_MB`` and what the rules need."""

    vcpu: Resource
    memory_mb: Resource
    fit_vcpus: float  # the largest host: max_unit x min(1, ratio)
    fit_memory_mb: float
    capacity_vcpus: float  # (total - reserved) x ratio
    capacity_memory_mb: float
    largest_vcpus: float  # max_unit x ratio
    largest_memory_mb: float
    reserved_vcpus: int
    reserved_memory_mb: int

    @classmethod
    @functools.lru_cache(maxsize=10000)  # one value per shape: benchmarks.rst
    def of(cls, v: Resource, m: Resource):
        rv, rm = v.allocation_ratio, m.allocation_ratio
        return cls(v, m, v.max_unit * min(1.0, rv), m.max_unit * min(1.0, rm),
                   (v.total - v.reserved) * rv, (m.total - m.reserved) * rm,
                   v.max_unit * rv, m.max_unit * rm, v.reserved, m.reserved)


def _resource(record):
    total, reserved = int(record['total']), int(record.get('reserved') or 0)
    max_unit = int(record.get('max_unit') or total)
    ratio = record.get('allocation_ratio')
    ratio = 1.0 if ratio is None else float(ratio)
    if total < 0 or reserved < 0 or max_unit < 0 or not ratio >= 0:
        raise ValueError('negative value')
    return Resource(total, reserved, max_unit, ratio)


def from_placement(inventories) -> ty.Optional[ClusterInventory]:
    """A :class:`ClusterInventory` of placement's ``inventories``; None when
    ``VCPU`` or ``MEMORY_MB`` is missing or malformed."""
    try:
        return ClusterInventory.of(_resource(inventories[VCPU]),
                                   _resource(inventories[MEMORY_MB]))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


class InventoryUnavailable(Exception):
    """Placement did not answer a read of inventories."""


def _get(client, context, url, ok=(200,), **kwargs):
    # not the report client's private _get_inventory(), which answers None
    # for a 404 and a 500 alike
    from nova.scheduler.client import report
    client = client or report.report_client_singleton()
    resp = client.get(url, global_request_id=getattr(context, 'global_id',
                                                     None), **kwargs)
    if resp.status_code not in ok:
        raise InventoryUnavailable('placement answered %s: %s' % (
            resp.status_code, (resp.text or '')[:200]))
    return resp.json() if resp.status_code == 200 else {}


class PlacementSource:
    """Read inventories from placement with nova's report client."""

    inline = False

    def __init__(self, client=None):
        self._client = client

    def __call__(self, context, rp_uuid):
        return _get(self._client, context, '/resource_providers/%s/'
                    'inventories' % rp_uuid, ok=(200, 404)).get(
                        'inventories') or {}


class PlacementUsageSource:
    """Every provider's usage from one call, less the HA reserve ``held``."""

    #: provider summaries carry the usage of each provider with a megabyte
    #: of memory free (microversion 1.27)
    QUERY = '/allocation_candidates?resources=MEMORY_MB:1'

    def __init__(self, client=None, held=None):
        self._client, self._held = client, held

    def __call__(self, context):
        usages = usages_from_summaries(_get(
            self._client, context, self.QUERY, version='1.27').get(
                'provider_summaries'))
        if self._held is None:
            return usages
        # a cluster the keeper has not looked at yet: nova's figure counts
        for rp_uuid, (vcpus, memory_mb) in list(usages.items()):
            held = self._held(rp_uuid)
            if held is None:
                del usages[rp_uuid]
            elif held[0] or held[1]:
                usages[rp_uuid] = (max(0, vcpus - held[0]),
                                   max(0, memory_mb - held[1]))
        return usages


def usages_from_summaries(summaries) -> dict:
    """``{rp uuid: (vCPUs used, MB used)}`` of placement's provider
    summaries; providers with malformed figures are left out."""
    result = {}
    for rp_uuid, summary in (summaries or {}).items():
        try:
            resources = summary['resources']
            vcpus = resources.get(VCPU, {}).get('used', 0)
            memory_mb = resources[MEMORY_MB]['used']
            result[rp_uuid] = (max(0, int(vcpus)), max(0, int(memory_mb)))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    return result


class StaticSource:
    """Answer from ``{rp uuid: inventories or exception to raise}``."""

    inline = True

    def __init__(self, inventories=None):
        self.inventories = dict(inventories or {})

    def __call__(self, context, rp_uuid):
        value = self.inventories.get(rp_uuid, {})
        if isinstance(value, BaseException):
            raise value
        return value
