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

"""Placement aggregates per cluster (doc/source/aggregates.rst); a duty of
:mod:`nova_vmw_sched.keeper`.

nova-api puts only a host's first compute node into the placement aggregate
of a nova host aggregate. :func:`sync` puts every compute node of its hosts
in, and takes out those of hosts that left; it touches only the aggregates
of nova's and only compute nodes' providers.
"""

import collections

from oslo_log import log as logging

from nova import context as nova_context
from nova import objects

from nova_vmw_sched import keeper

LOG = logging.getLogger(__name__)

#: provider aggregates with the provider's generation
VERSION = '1.19'


class CellDatabaseError(Exception):
    """A cell's database did not answer."""


def _check(resp, what):
    if resp.status_code != 200:
        raise keeper.PlacementError('%s: placement answered %s: %s' % (
            what, resp.status_code, getattr(resp, 'text', '')[:200]))
    return resp.json()


def compute_nodes(context):
    """``{provider uuid: compute node}`` of every cell; raises if a cell
    does not answer (its nodes would be neither added nor taken out)."""
    results = nova_context.scatter_gather_all_cells(
        context, objects.ComputeNodeList.get_all)
    nodes = {}
    for cell_uuid, result in results.items():
        if nova_context.is_cell_failure_sentinel(result):
            raise CellDatabaseError('cell %s did not answer: %s' % (
                cell_uuid, getattr(result, 'message', result)))
        for node in result:
            nodes[node.uuid] = node
    return nodes


def plan(aggregates, nodes, members):
    """``{provider uuid: (aggregates to add, to remove)}`` of nova's
    ``aggregates`` and ``nodes`` and placement's ``members``."""
    by_host = collections.defaultdict(set)
    for rp_uuid, node in nodes.items():
        by_host[node.host].add(rp_uuid)
    changes = collections.defaultdict(lambda: (set(), set()))
    for agg in aggregates:
        wanted = set()
        for host in agg.hosts or ():
            wanted |= by_host.get(host, set())
        have = members.get(agg.uuid, set())
        for rp_uuid in wanted - have:
            changes[rp_uuid][0].add(agg.uuid)
        # only compute nodes leave: a sharing provider stays
        for rp_uuid in (have - wanted) & set(nodes):
            changes[rp_uuid][1].add(agg.uuid)
    return dict(changes)


def members(client, aggregates):
    """``{aggregate uuid: set of provider uuids}`` as placement has them."""
    found = {}
    for agg in aggregates:
        body = _check(client.get(
            '/resource_providers?member_of=%s' % agg.uuid, version=VERSION),
            'members of aggregate %s' % agg.uuid)
        found[agg.uuid] = {rp['uuid'] for rp in body['resource_providers']}
    return found


def _line(verb, rp_uuid, node, agg):
    return '%s provider %s (%s, host %s) %s aggregate %s (%s)' % (
        verb, rp_uuid, node.hypervisor_hostname, node.host,
        'to' if verb == 'add' else 'from', agg.uuid, agg.name)


def _update(client, rp_uuid, node, add, remove, by_uuid, dry_run):
    """Change one provider's aggregates; the lines done."""
    url = '/resource_providers/%s/aggregates' % rp_uuid

    def write():
        resp = client.get(url, version=VERSION)
        if resp.status_code == 404:
            LOG.debug('Provider %(rp)s of %(node)s not in placement yet',
                      {'rp': rp_uuid, 'node': node.hypervisor_hostname})
            return []
        body = _check(resp, 'aggregates of provider %s' % rp_uuid)
        old = set(body['aggregates'])
        new = (old | add) - remove
        lines = [_line('add', rp_uuid, node, by_uuid[a])
                 for a in sorted(new - old)]
        lines += [_line('remove', rp_uuid, node, by_uuid[a])
                  for a in sorted(old - new)]
        if not lines or dry_run:
            return lines
        resp = client.put(url, {
            'aggregates': sorted(new),
            'resource_provider_generation':
                body['resource_provider_generation']}, version=VERSION)
        if resp.status_code == 409:
            raise keeper.Conflict(getattr(resp, 'text', '409'))
        _check(resp, 'setting aggregates of provider %s' % rp_uuid)
        return lines

    return keeper.retrying(write, 'aggregates of provider %s' % rp_uuid) \
        or []


def sync(context, client, dry_run=False):
    """Bring placement's aggregates in line with nova's host aggregates;
    one line per change made (or, with ``dry_run``, to be made)."""
    aggregates = objects.AggregateList.get_all(context)
    if not aggregates:
        return []
    nodes = compute_nodes(context)
    by_uuid = {agg.uuid: agg for agg in aggregates}
    changes = plan(aggregates, nodes, members(client, aggregates))
    lines = []
    for rp_uuid in sorted(changes):
        add, remove = changes[rp_uuid]
        lines += _update(client, rp_uuid, nodes[rp_uuid], add, remove,
                         by_uuid, dry_run)
    return lines
