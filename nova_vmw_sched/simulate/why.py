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

"""``simulate --why CLUSTER`` and the summary line of a failed request
(doc/source/cli.rst, "Why not cluster X?").
"""

import collections
import typing as ty

from nova_vmw_sched import capacity
from nova_vmw_sched import cluster as cluster_mod

PLACEMENT = 'placement'
#: what leaves out the clusters of a move's source service host
IGNORED = 'ignore_hosts'
NONE_COMPUTED = 'none computed'
#: slack when comparing sums of floats
_EPS = 1e-9


class WhyError(Exception):
    """``--why`` names no single cluster of the scenario."""


def resolve(text, scenario, aliases=None):
    """The label of the one cluster of ``scenario`` that ``text`` (a
    ``vmware:cluster`` reference, an alias of ``aliases`` or a label)
    names; :class:`WhyError` if none or several."""
    text = (text or '').strip()
    if text in scenario.by_label:
        return text
    try:
        ref = cluster_mod.parse_reference(text)
    except cluster_mod.InvalidClusterReference as e:
        raise WhyError(str(e))
    if isinstance(ref, cluster_mod.Alias):
        try:
            ref = cluster_mod.resolve([ref], aliases or {}).refs[0]
        except cluster_mod.UnknownAlias as e:
            raise WhyError(str(e))
    found = [c.label for c in scenario.clusters if _matches(ref, c)]
    if not found:
        raise WhyError('%s matches no cluster of the scenario (%s)' % (
            text, _some(c.label for c in scenario.clusters)))
    if len(found) > 1:
        raise WhyError('%s matches %d clusters (%s): give the full node '
                       'name, domain-cN.<vCenter uuid>' % (
                           text, len(found), _some(found)))
    return found[0]


def _matches(ref, c):
    if ref.matches(cluster_mod.ClusterId(c.moref, c.vcenter_uuid)):
        return True
    return bool(c.name) and ref.matches(
        cluster_mod.ClusterId(c.moref, None, c.name))


def _some(labels, limit=5):
    labels = list(labels)
    text = ', '.join(labels[:limit])
    if len(labels) > limit:
        text += ', ... %d in all' % len(labels)
    return text


class Weighed(ty.NamedTuple):
    """The cluster's place in the weighing of one instance (its fields are
    the report's JSON)."""

    instance: str
    #: 1 + the candidates weighing more
    rank: int
    #: the cluster is the one nova chose
    first: bool
    candidates: int
    weight: float
    winner: str
    winner_weight: float
    #: ((weigher, the cluster's share, the winner's share), ...)
    weighers: tuple
    #: the weighers that, left out alone, would put the cluster first
    first_without: tuple


def weighed(instance, target, chosen, rows):
    """:class:`Weighed` of ``target`` among ``rows``
    (``[(label, weight, [(weigher, share), ...])]``), or None if absent."""
    by_label = {label: (weight, list(shares))
                for label, weight, shares in rows}
    if target not in by_label:
        return None
    weight, shares = by_label[target]
    winner_weight, winner_shares = by_label.get(chosen, (weight, shares))
    rank = 1 + sum(1 for _l, w, _s in rows if w > weight + _EPS)
    theirs = dict(winner_shares)
    first_without = ()
    if chosen != target:
        first_without = tuple(
            name for k, (name, _s) in enumerate(shares)
            if _first_without(target, k, rows))
    return Weighed(instance, rank, chosen == target, len(rows), weight,
                   chosen, winner_weight,
                   tuple((n, s, theirs.get(n, 0.0)) for n, s in shares),
                   first_without)


def _first_without(target, k, rows):
    """Is ``target`` alone on top once weigher column ``k`` is left out?"""
    totals = {label: weight - (shares[k][1] if k < len(shares) else 0.0)
              for label, weight, shares in rows}
    mine = totals.pop(target)
    return all(mine > other + _EPS for other in totals.values())


class Removed(ty.NamedTuple):
    """The filter that removed the cluster, and what would change that."""

    instance: str
    removed_by: str
    reason: str
    #: by how much a capacity or pin refusal misses; None for the others
    miss: ty.Optional[str]
    change: str


_UNITS = {capacity.MEMORY_MB: 'MB '}


def _amount(value, resource_class):
    """``1536 MB MEMORY_MB``, ``4 VCPU``."""
    return '%s %s%s' % (_num(value), _UNITS.get(resource_class, ''),
                        resource_class)


def _num(value):
    value = float(value)
    return '%d' % value if value == int(value) else '%.1f' % value


def removed(instance, by, reason):
    """:class:`Removed` for a rejection by ``by`` with ``reason``."""
    refusal = getattr(reason, 'refusal', None)
    if refusal is not None:
        return _capacity(instance, by, reason, refusal)
    if by == 'VMwareClusterFilter' and reason.startswith(
            'not a VMware cluster that '):
        return Removed(instance, by, reason,
                       "the flavor's vmware:cluster does not list it",
                       "add it to the flavor's vmware:cluster")
    return Removed(instance, by, str(reason), None, NONE_COMPUTED)


def _capacity(instance, by, reason, refusal):
    rc = refusal.resource_class
    miss = refusal.amount - refusal.limit
    demand = getattr(reason, 'demand', None)
    asked = None
    if demand is not None:
        asked = demand.memory_mb if rc == capacity.MEMORY_MB else \
            demand.vcpus
    if refusal.rule == capacity.FIT:
        text = ('misses by %s: needs %s, the largest ESXi host offers %s'
                % (_amount(miss, rc), _num(refusal.amount),
                   _num(refusal.limit)))
        change = ('a flavor of at most %s, or larger ESXi hosts in the '
                  'cluster' % _amount(refusal.limit, rc))
        return Removed(instance, by, str(reason), text, change)
    policy = getattr(reason, 'policy', None)
    text = ('misses by %s: would use %s of %s (%s less %s held back, %s)'
            % (_amount(miss, rc), _num(refusal.amount), _num(refusal.limit),
               _num(refusal.limit + refusal.holdback),
               _num(refusal.holdback), policy))
    options = []
    if asked is not None and asked - miss > _EPS:
        options.append('a flavor of at most %s' % _amount(asked - miss, rc))
    options.append('%s freed on the cluster' % _amount(miss, rc))
    if refusal.holdback >= miss - _EPS:
        options.append('a reserve policy holding back at most %s (now %s)'
                       % (_amount(refusal.holdback - miss, rc),
                          _num(refusal.holdback)))
    return Removed(instance, by, str(reason), text, ', or '.join(options))


class NotSeen(ty.NamedTuple):
    """No filter saw the cluster: placement, nova or the request left it
    out."""

    not_seen: str
    reason: str


def explain(result, target):
    """``[Weighed | Removed | NotSeen]`` for ``target`` in ``result``."""
    entries = list(result.why)
    rejection = result.rejected.get(target)
    if rejection is not None:
        names = result.request.instance_names
        instance = names[min(rejection.instance, len(names) - 1)]
        entries.append(removed(instance, rejection.by, rejection.reason))
    elif target in result.left_out:
        entries.append(NotSeen(*result.left_out[target]))
    elif not entries:
        entries.append(NotSeen('request', result.failure or
                               'no instance was weighed'))
    return entries


#: (substring of a reason, category), the first that matches
_PLACEMENT_CATEGORIES = (
    ('COMPUTE_STATUS_DISABLED', 'disabled'), ('availability zone', 'zone'),
    ('require_tenant_aggregate', 'tenant'),
    ('leave out (member_of=!in:', 'isolated aggregate'),
    ('placement aggregate', 'aggregate'), ('max_unit', 'largest host'),
    ('claim failed', 'claim failed'), ('does not fit', 'no room'),
    ('inventory', 'no inventory'),
    ('max_placement_results', 'max_placement_results'))
_CAPACITY_CATEGORIES = (
    ('largest ESXi host', 'largest host'), ('failover reserve', 'HA reserve'),
    ('inventory', 'no inventory'), ('usage', 'usage unknown'))
_PIN_CATEGORIES = (
    ('cannot be used', 'bad vmware:cluster'),
    (' is disabled', 'service disabled'), (' is down', 'service down'))


def _first(reason, categories):
    return next((cat for text, cat in categories if text in reason), None)


def category(by, reason, group=None):
    """A short category of a rejection's reason, or None."""
    refusal = getattr(reason, 'refusal', None)
    if by == PLACEMENT:
        return _first(reason, _PLACEMENT_CATEGORIES)
    if by == 'VMwareClusterCapacityFilter':
        if refusal is not None:
            return ('largest host' if refusal.rule == capacity.FIT
                    else 'HA reserve')
        return _first(reason, _CAPACITY_CATEGORIES)
    if by in ('ServerGroupAntiAffinityFilter', 'ServerGroupAffinityFilter'):
        return 'group %s' % group if group else None
    if by == 'VMwareClusterFilter':
        if reason.startswith('not a VMware cluster that '):
            return 'not listed'
        return _first(reason, _PIN_CATEGORIES)
    # in the simulator placement leaves out the clusters of a disabled
    # service: ComputeFilter only removes those of a service that is down
    return {IGNORED: 'source host', 'ComputeFilter': 'service down',
            'VMwareClusterDuplicateFilter': 'stale duplicate'}.get(by)


def summary(result, total, filter_names=()):
    """``0/7 clusters: 3 ServerGroupAntiAffinityFilter (group web), ...``:
    each cluster counted once, by its first rejection, else by why no
    filter saw it, else as not considered."""
    counts = collections.Counter()
    for rejection in result.rejected.values():
        counts[rejection.by, category(rejection.by, rejection.reason,
                                      result.group)] += 1
    for label, (by, reason) in result.left_out.items():
        if label not in result.rejected:
            counts[by, category(by, reason, result.group)] += 1
    missing = total - sum(counts.values())
    if missing > 0:
        counts[('not considered', None)] += missing
    # most first; equal counts in the order nova runs the filters, then
    # placement (which ran before them, but removes what they never see)
    order = {name: i for i, name in enumerate(
        list(filter_names) + [PLACEMENT])}

    def rank(item):
        (by, cat), count = item
        return (-count, order.get(by, len(order)), by, cat or '')

    parts = ['%d %s%s' % (count, by, ' (%s)' % cat if cat else '')
             for (by, cat), count in sorted(counts.items(), key=rank)]
    passed = max(0, total - sum(counts.values()))
    return '%d/%d clusters: %s' % (passed, total, ', '.join(parts))
