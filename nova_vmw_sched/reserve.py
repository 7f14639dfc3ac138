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

"""The vSphere HA reserve of each cluster, held in placement.

A duty of :mod:`nova_vmw_sched.keeper`. Placement's claim is the only step
of scheduling that is atomic across requests and scheduler processes, and
it knows only inventories and allocations. So the reserve is held as
allocations: on each VMware cluster's resource provider, consumers of the
package's own (consumer type ``VMW_HA_RESERVE``, project and user
:data:`PROJECT`) allocate the hold-back ``H`` of the cluster's reserve
policy (:mod:`nova_vmw_sched.capacity`), for ``VCPU`` and ``MEMORY_MB``.
Placement then refuses any claim that would take a cluster past
``C - H``, however many requests race.

An allocation cannot exceed the inventory's ``max_unit`` (the largest ESXi
host), so the hold-back is split over consumers ``0..n-1`` of the cluster,
each at most ``max_unit`` and a multiple of ``step_size``. Their uuids are
derived from the provider's uuid (:func:`consumer_uuid`): every keeper
computes the same ones, and recognises them among a provider's consumers.

Where the instances of a cluster already use more than ``C - H``, the
reserve holds only what is free (``C - used``): the cluster is full to
placement, and the reserve grows back as instances leave. With
``VMwareClusterCapacityFilter`` not in ``[filter_scheduler]
enabled_filters``, the desired reserve is 0: the keeper removes what it
held.

Each run asks placement what the reserve's project holds in all
(``/usages``); without the capacity filter and with nothing held, that is
the whole run. A provider whose generation has not changed since the
keeper last found its reserve right, under the same policy, is not read
again (placement bumps it when allocations are written or inventories
change); since placement does not bump it when allocations are deleted,
the keeper looks at every cluster again when the project's total differs
from what it knows it holds (``nova-manage placement audit --delete``), and
at each run at a cluster whose reserve is short of its policy (instances
leaving such a cluster delete allocations). A steady run costs two calls
plus two reads for each provider that changed.
"""

import math
import typing as ty
import uuid

from oslo_log import log as logging

import nova.conf

from nova_vmw_sched import capacity
from nova_vmw_sched import cluster
from nova_vmw_sched import inventory
from nova_vmw_sched import keeper

LOG = logging.getLogger(__name__)
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
    """The index of a reserve consumer of the provider, or None."""
    try:
        raw = uuid.UUID(consumer).bytes
    except (ValueError, TypeError, AttributeError):
        return None
    if raw[:12] != rp_prefix:
        return None
    return int.from_bytes(raw[12:], 'big')


def chunks(amount, record):
    """Split ``amount`` into allocations placement accepts for ``record``
    (an inventory record): each at most ``max_unit``, at least
    ``min_unit``, a multiple of ``step_size``; the total rounded down to a
    ``step_size``."""
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
    #: True if the reserve is less than the policy's hold-back (the
    #: instances use more than ``C - H``, or the hold-back is fractional)
    short: bool


def plan(rp_uuid, inventories, allocations, policy):
    """Work out a provider's reserve.

    :param inventories: placement's ``inventories`` of the provider
    :param allocations: placement's allocations on the provider,
        ``{consumer: {"resources": {rc: amount}}}``
    :param policy: the cluster's :class:`capacity.ReservePolicy`, or None
        for no reserve
    """
    prefix = uuid.UUID(consumer_uuid(rp_uuid, 0)).bytes[:12]
    held = {}
    others = {rc: 0 for rc in _RESOURCES}
    for consumer, alloc in (allocations or {}).items():
        resources = (alloc or {}).get('resources') or {}
        index = _index_of(consumer, prefix)
        if index is None:
            for rc in _RESOURCES:
                others[rc] += int(resources.get(rc) or 0)
        else:
            held[index] = {rc: int(v) for rc, v in resources.items() if v}
    wanted = {}
    short = False
    inv = inventory.from_placement(inventories or {})
    if policy is not None and inv is not None:
        holdback = dict(zip(_RESOURCES, policy.holdback(inv)))
        for rc in _RESOURCES:
            record = inventories[rc]
            cap = int((int(record['total']) - int(record.get('reserved') or 0))
                      * float(record.get('allocation_ratio') or 1.0))
            want = min(math.ceil(holdback[rc] - 1e-6), cap - others[rc])
            pieces = chunks(want, record)
            short = short or sum(pieces) < holdback[rc] - 1e-6
            for index, amount in enumerate(pieces):
                wanted.setdefault(index, {})[rc] = amount
    return Plan(wanted, held, short)


def held_total(allocations_by_index):
    """``(vCPUs, MB)`` that reserve consumers hold."""
    return (sum(a.get(capacity.VCPU, 0) for a in allocations_by_index.values()),
            sum(a.get(capacity.MEMORY_MB, 0)
                for a in allocations_by_index.values()))


def enabled():
    """True if the reserve is the scheduler's to keep: the capacity filter
    is enabled."""
    return 'VMwareClusterCapacityFilter' in (
        CONF.filter_scheduler.enabled_filters or ())


def sync(context, client, dry_run=False, known=None):
    """Bring every VMware cluster's reserve allocations in line.

    :param known: what a keeper knows of the reserve held
        (:class:`keeper.Held`), used and updated; a fresh one when None
    :returns: one line per provider changed (or, with ``dry_run``, to be)
    """
    known = known if known is not None else keeper.Held()
    policies = capacity.reserve_policies(CONF) if enabled() else None
    in_placement = _reserve_usage(client, context)
    if policies is None and not any(in_placement):
        # the common case without the capacity filter: one call, no reads
        # of each cluster
        known.clear_held()
        known.mark_complete()
        return []
    if in_placement != known.held_in_all():
        # placement deletes allocations without a new provider generation
        # (`nova-manage placement audit --delete`, by hand): look again
        known.right.clear()
    resp = _get(client, '/resource_providers', '1.14', context)
    providers = resp.json()['resource_providers']
    lines = []
    for provider in providers:
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
    known.mark_complete()
    return lines


def _sync_one(context, client, rp_uuid, name, policy, dry_run, known):
    base = '/resource_providers/%s' % rp_uuid
    inventories = _get(client, base + '/inventories', VERSION, context).json()
    answer = _get(client, base + '/allocations', VERSION, context).json()
    found = plan(rp_uuid, inventories.get('inventories'),
                 answer.get('allocations'), policy)
    known.set_held(rp_uuid, held_total(found.held))
    if found.wanted == found.held:
        if not dry_run and not found.short:
            # (a reserve short of the policy is looked at each run: the
            # instances leaving do not change the provider's generation)
            known.right[rp_uuid] = (
                answer.get('resource_provider_generation'), policy)
        return None
    line = ('%s %s (provider %s): %s -> %s%s' % (
        'would set the HA reserve of' if dry_run else 'set the HA reserve of',
        name, rp_uuid, _describe(found.held), _describe(found.wanted),
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
    # placement bumps the generation once per write: one more than read
    # is this write alone; any other write since makes it differ (re-read)
    if not found.short:
        known.right[rp_uuid] = (
            answer.get('resource_provider_generation', -2) + 1, policy)
    return line


def _reserve_usage(client, context):
    """``(vCPUs, MB)`` the reserve's project holds in all of placement."""
    usages = _get(client, '/usages?project_id=%s' % PROJECT, '1.9',
                  context).json().get('usages') or {}
    return (int(usages.get(capacity.VCPU) or 0),
            int(usages.get(capacity.MEMORY_MB) or 0))


def _describe(by_index):
    vcpus, memory_mb = held_total(by_index)
    if not by_index:
        return 'none'
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
