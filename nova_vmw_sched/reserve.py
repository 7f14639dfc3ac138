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

"""The vSphere HA reserve of each cluster, held in placement as
allocations of the package's own consumers (doc/source/capacity.rst,
"Concurrent requests"); a duty of :mod:`nova_vmw_sched.keeper`.

A run reads the project's usage and the providers, then the inventories
and allocations of each provider whose generation changed since its
reserve was found right (all of them when the project's total differs
from what is known: placement deletes allocations without a new
generation), and those whose reserve is short at every run.
"""

import math
import typing as ty
import uuid

import nova.conf

from nova_vmw_sched import capacity
from nova_vmw_sched import cluster
from nova_vmw_sched import inventory
from nova_vmw_sched import keeper

CONF = nova.conf.CONF

#: project and user of the reserve's allocations (not a tenant's: nova's
#: quotas, counted per project, never see them)
PROJECT = 'nova-vmw-sched-ha-reserve'
CONSUMER_TYPE = 'VMW_HA_RESERVE'
#: consumer types came with placement microversion 1.38
VERSION = '1.38'
_NAMESPACE = uuid.UUID('5b0e7a52-4a53-4b8e-9d0a-6a3c1f0de3a1')
_RESOURCES = (capacity.VCPU, capacity.MEMORY_MB)


def consumer_uuid(rp_uuid, index):
    """The uuid of reserve consumer ``index`` of provider ``rp_uuid``:
    12 bytes of a name-based uuid of the provider, then the index."""
    base = uuid.uuid5(_NAMESPACE, rp_uuid).bytes[:12]
    return str(uuid.UUID(bytes=base + index.to_bytes(4, 'big')))


def _index_of(consumer, rp_prefix):
    try:
        raw = uuid.UUID(consumer).bytes
    except (ValueError, TypeError, AttributeError):
        return None
    return int.from_bytes(raw[12:], 'big') if raw[:12] == rp_prefix else None


def chunks(amount, record):
    """Split ``amount`` into allocations that the inventory ``record``
    accepts (``max_unit``, ``min_unit``, ``step_size``), rounded down."""
    step = max(1, int(record.get('step_size') or 1))
    top = int(record.get('max_unit') or record.get('total') or 0)
    top -= top % step
    low = int(record.get('min_unit') or 1)
    amount = int(amount) - int(amount) % step
    if amount <= 0 or top <= 0:
        return []
    pieces = [top] * (amount // top)
    if amount % top:
        pieces.append(amount % top)
    if pieces[-1] < low:
        pieces.pop()
    return pieces


class Plan(ty.NamedTuple):
    """A provider's reserve: wanted and held, by consumer index."""

    wanted: dict
    held: dict
    short: bool  # less than the policy's hold-back


def plan(rp_uuid, inventories, allocations, policy):
    """A provider's :class:`Plan`, from placement's ``inventories`` and
    ``allocations`` and the cluster's policy (None: no reserve)."""
    prefix = uuid.UUID(consumer_uuid(rp_uuid, 0)).bytes[:12]
    held, wanted, short = {}, {}, False
    others = {rc: 0 for rc in _RESOURCES}
    for consumer, alloc in (allocations or {}).items():
        resources = (alloc or {}).get('resources') or {}
        index = _index_of(consumer, prefix)
        if index is None:
            for rc in _RESOURCES:
                others[rc] += int(resources.get(rc) or 0)
        else:
            held[index] = {rc: int(v) for rc, v in resources.items() if v}
    inv = inventory.from_placement(inventories or {})
    if policy is not None and inv is not None:
        for rc, holdback, cap in zip(
                _RESOURCES, policy.holdback(inv),
                (inv.capacity_vcpus, inv.capacity_memory_mb)):
            want = min(math.ceil(holdback - 1e-6), int(cap) - others[rc])
            pieces = chunks(want, inventories[rc])
            short = short or sum(pieces) < holdback - 1e-6
            for index, amount in enumerate(pieces):
                wanted.setdefault(index, {})[rc] = amount
    return Plan(wanted, held, short)


def held_total(by_index):
    """``(vCPUs, MB)`` that reserve consumers hold."""
    return tuple(sum(a.get(rc, 0) for a in by_index.values())
                 for rc in _RESOURCES)


def enabled():
    """True if the capacity filter, and so the reserve, is enabled."""
    return 'VMwareClusterCapacityFilter' in (
        CONF.filter_scheduler.enabled_filters or ())


def sync(context, client, dry_run=False, known=None):
    """Bring every VMware cluster's reserve in line; one line per provider
    changed (or, with ``dry_run``, to be). ``known``: the
    :class:`keeper.Held` used and updated (a fresh one when None)."""
    known = known if known is not None else keeper.Held()
    policies = capacity.reserve_policies(CONF) if enabled() else None
    # what the reserve's project holds in all of placement
    usages = _get(client, '/usages?project_id=%s' % PROJECT, '1.9',
                  context).json().get('usages') or {}
    in_placement = tuple(int(usages.get(rc) or 0) for rc in _RESOURCES)
    if policies is None and not any(in_placement):
        # without the capacity filter and nothing held: this one call
        known.clear_held()
        known.complete = True
        return []
    if in_placement != known.held_in_all():
        # allocations deleted (an audit, by hand): no new generation tells
        known.right.clear()
    lines = []
    for provider in _get(client, '/resource_providers', '1.14',
                         context).json()['resource_providers']:
        name = provider.get('name')
        found = cluster.parse_nodename(name)
        if found is None or provider.get('parent_provider_uuid'):
            continue
        rp_uuid = provider['uuid']
        policy = policies.for_cluster(found) if policies else None
        if policy is not None and policy.kind == capacity.NONE:
            policy = None
        if known.right.get(rp_uuid) == (provider.get('generation'), policy):
            continue
        line = keeper.retrying(
            lambda: _sync_one(context, client, rp_uuid, name, policy,
                              dry_run, known),
            'the HA reserve of %s' % name)
        if line:
            lines.append(line)
    known.complete = True
    return lines


def _sync_one(context, client, rp_uuid, name, policy, dry_run, known):
    base = '/resource_providers/%s' % rp_uuid
    inventories = _get(client, base + '/inventories', VERSION, context).json()
    answer = _get(client, base + '/allocations', VERSION, context).json()
    found = plan(rp_uuid, inventories.get('inventories'),
                 answer.get('allocations'), policy)
    known.set_held(rp_uuid, held_total(found.held))
    if found.wanted == found.held:
        if not dry_run and not found.short:  # short: looked at each run
            known.right[rp_uuid] = (
                answer.get('resource_provider_generation'), policy)
        return None
    line = ('%sset the HA reserve of %s (provider %s): %s -> %s%s' % (
        'would ' if dry_run else '', name, rp_uuid, _describe(found.held),
        _describe(found.wanted),
        ' (less than the policy holds back: the instances use more)'
        if found.short else ''))
    if dry_run:
        return line
    body = {}
    for index in set(found.wanted) | set(found.held):
        if found.wanted.get(index) == found.held.get(index):
            continue
        consumer = consumer_uuid(rp_uuid, index)
        generation = None
        if index in found.held:
            generation = _get(client, '/allocations/%s' % consumer, VERSION,
                              context).json().get('consumer_generation')
        wanted = found.wanted.get(index)
        body[consumer] = {
            'allocations': {rp_uuid: {'resources': wanted}} if wanted else {},
            'project_id': PROJECT, 'user_id': PROJECT,
            'consumer_generation': generation,
            'consumer_type': CONSUMER_TYPE}
    resp = client.post('/allocations', body, version=VERSION,
                       global_request_id=context.global_id)
    if resp.status_code == 409:
        raise keeper.Conflict(resp.text)
    if resp.status_code >= 400:
        raise keeper.PlacementError(
            'placement refused the HA reserve of %s: %s %s'
            % (name, resp.status_code, resp.text[:300]))
    known.set_held(rp_uuid, held_total(found.wanted))
    # one more generation than read: this write alone (another: re-read)
    if not found.short:
        known.right[rp_uuid] = (
            answer.get('resource_provider_generation', -2) + 1, policy)
    return line


def _describe(by_index):
    if not by_index:
        return 'none'
    vcpus, memory_mb = held_total(by_index)
    return '%d VCPU, %d MEMORY_MB in %d allocation%s' % (
        vcpus, memory_mb, len(by_index), '' if len(by_index) == 1 else 's')


def _get(client, url, version, context):
    resp = client.get(url, version=version,
                      global_request_id=getattr(context, 'global_id', None))
    if resp is None or resp.status_code != 200:
        raise keeper.PlacementError(
            'placement answered %s to GET %s: %s'
            % (getattr(resp, 'status_code', None), url,
               (getattr(resp, 'text', '') or '')[:300]))
    return resp
