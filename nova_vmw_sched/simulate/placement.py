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

"""Placement, as far as the scheduler needs it: each cluster is one
resource provider with the inventories nova's vmwareapi driver reports, and
:meth:`Placement.candidates` is ``GET /allocation_candidates``
(doc/source/cli.rst, "Placement, emulated").
"""

import typing as ty

VCPU = 'VCPU'
MEMORY_MB = 'MEMORY_MB'
DISK_GB = 'DISK_GB'


def inventories_of(cluster):
    """The inventories of a scenario cluster, in placement's format."""
    if cluster.inventory is not None:
        return {rc: _record(r['total'], r.get('reserved', 0),
                            r.get('max_unit', max(r['total'], 1)),
                            float(r.get('allocation_ratio', 1.0)))
                for rc, r in cluster.inventory.items()}
    hosts = [h for h in cluster.hosts if not h.maintenance]
    if not hosts:
        return {}
    result = {
        VCPU: _record(sum(h.cpus * h.count for h in hosts),
                      cluster.reserved.vcpus, max(h.cpus for h in hosts),
                      cluster.ratios.vcpu),
        MEMORY_MB: _record(sum(h.memory_mb * h.count for h in hosts),
                           cluster.reserved.memory_mb,
                           max(h.memory_mb for h in hosts),
                           cluster.ratios.memory_mb),
    }
    if cluster.disk_gb:
        result[DISK_GB] = _record(cluster.disk_gb, cluster.reserved.disk_gb,
                                  cluster.disk_gb, cluster.ratios.disk_gb)
    return result


def _record(total, reserved, max_unit, ratio):
    return {'total': total, 'reserved': reserved, 'min_unit': 1,
            'max_unit': max_unit, 'step_size': 1, 'allocation_ratio': ratio}


def demand_of(flavor):
    """``{resource class: amount}`` of one instance of a scenario flavor."""
    return {VCPU: flavor.vcpus, MEMORY_MB: flavor.memory_mb,
            DISK_GB: flavor.disk_gb + flavor.ephemeral_gb}


def disabled_reason(host):
    """Why nova's compute_status_filter leaves the host out; None if not."""
    service = host.service or {}
    if not service.get('disabled'):
        return None
    return ('service %s is disabled (%s): nova asks placement only for '
            'nodes without COMPUTE_STATUS_DISABLED'
            % (host.host, service.get('disabled_reason')))


class Placement:
    """Inventories and usage of every cluster, by resource provider uuid."""

    def __init__(self):
        #: {rp uuid: inventories}, {rp uuid: {resource class: used}}
        self.inventories = {}
        self.usage = {}
        #: {rp uuid: ((resource class, max_unit, capacity), ...)}
        self._limits = {}
        #: {rp uuid: {aggregate uuid}}, {aggregate uuid: what it is}
        self.aggregates = {}
        self.aggregate_names = {}

    def add(self, rp_uuid, inventories, used, aggregates=()):
        self.inventories[rp_uuid] = inventories
        self.usage[rp_uuid] = dict(used)
        self.aggregates[rp_uuid] = set(aggregates)
        self._limits[rp_uuid] = tuple(
            (rc, r['max_unit'],
             (r['total'] - r['reserved']) * r['allocation_ratio'])
            for rc, r in inventories.items())

    def why_not(self, rp_uuid, demand) -> ty.Optional[str]:
        """Why ``demand`` does not fit the provider now; None if it does."""
        limits = self._limits.get(rp_uuid)
        if not limits:
            return ('no VCPU and MEMORY_MB inventory (no ESXi host out of '
                    'maintenance)')
        used = self.usage[rp_uuid]
        for rc, max_unit, capacity in limits:
            amount = demand.get(rc)
            if not amount:
                continue
            if amount > max_unit:
                return ('%d %s is more than max_unit %d (the largest ESXi '
                        'host)' % (amount, rc, max_unit))
            if used.get(rc, 0) + amount > capacity:
                record = self.inventories[rp_uuid][rc]
                return ('%d %s does not fit: %d used of %g ((total %d - '
                        'reserved %d) x allocation_ratio %g)'
                        % (amount, rc, used.get(rc, 0), capacity,
                           record['total'], record['reserved'],
                           record['allocation_ratio']))
        return None

    def outside(self, rp_uuid, member_of, forbidden=()) -> ty.Optional[str]:
        """Why the provider is not ``member_of`` these aggregates, or is in
        a ``forbidden`` one; None if neither."""
        mine = self.aggregates.get(rp_uuid, set())
        for uuid in sorted(mine & set(forbidden)):
            return ('in the placement aggregate of %s, which nova asks '
                    'placement to leave out (member_of=!in:, an isolated '
                    'aggregate whose trait the request does not require)'
                    % self.aggregate_names.get(uuid, uuid))
        for wanted in member_of:
            if not mine & set(wanted):
                return ('not in the placement aggregate of %s: nova asks '
                        'placement for member_of it' % ' or '.join(
                            self.aggregate_names.get(u, u)
                            for u in sorted(wanted)))
        return None

    def candidates(self, hosts, demand, limit, member_of=(), forbidden=()):
        """Split ``hosts`` as ``GET /allocation_candidates`` would.

        :returns: ``(candidates, {host: reason}, beyond_limit)``: the hosts
            placement returns, in order; the hosts it does not, with why;
            how many fitting hosts the limit left out.
        """
        found = []
        refused = {}
        beyond = 0
        for host in hosts:
            reason = (disabled_reason(host) or
                      self.outside(host.uuid, member_of, forbidden) or
                      self.why_not(host.uuid, demand))
            if reason is not None:
                refused[host] = reason
            elif len(found) < limit:
                found.append(host)
            else:
                beyond += 1
        return found, refused, beyond

    def allocation_request(self, rp_uuid, demand):
        """The allocation request placement returns for the provider."""
        inventories = self.inventories.get(rp_uuid, {})
        return {'allocations': {rp_uuid: {'resources': {
            rc: amount for rc, amount in demand.items()
            if amount and rc in inventories}}},
            'mappings': {}}

    def claim(self, rp_uuid, demand):
        """Allocate ``demand`` if it fits now; else say why not."""
        reason = self.why_not(rp_uuid, demand)
        if reason is None:
            self.release(rp_uuid, demand, -1)
        return reason

    def release(self, rp_uuid, demand, sign=1):
        """Undo :meth:`claim` (a request that failed as a whole)."""
        used = self.usage[rp_uuid]
        for rc, amount in demand.items():
            if rc in self.inventories[rp_uuid]:
                used[rc] = used.get(rc, 0) - sign * amount
