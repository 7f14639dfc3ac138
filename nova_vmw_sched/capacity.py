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

"""Failover reserve policies, ``[vmware_scheduler]
cluster_failover_overrides`` resolved against clusters, and the capacity
rule (:func:`room`) of the capacity filter, the headroom weigher and the
simulator (doc/source/capacity.rst, "The rules").
"""

import math
import threading
import typing as ty

from oslo_log import log as logging

from nova_vmw_sched import cluster
from nova_vmw_sched import conf as vmw_conf
from nova_vmw_sched import inventory
from nova_vmw_sched import request

LOG = logging.getLogger(__name__)

NONE = 'none'
HOST_FAILURES = 'host_failures'
PERCENTAGE = 'percentage'
VCPU, MEMORY_MB = inventory.VCPU, inventory.MEMORY_MB

#: rules a cluster can fail
FIT = 'fit'
RESERVE = 'reserve'

# floating point slack when comparing amounts that are whole numbers times
# allocation ratios
_EPS = 1e-6
_MEMO_LIMIT = 200000


class ReservePolicy(ty.NamedTuple):
    """How much of a cluster to hold back for vSphere HA failover."""

    kind: str = NONE
    host_failures: int = 0
    cpu_percentage: int = 0
    memory_percentage: int = 0

    def holdback(self, inventory):
        """``(vcpus, memory_mb)`` this policy holds back of a cluster."""
        if self.kind == HOST_FAILURES:
            return (self.host_failures * inventory.largest_vcpus,
                    self.host_failures * inventory.largest_memory_mb)
        if self.kind == PERCENTAGE:
            return (inventory.capacity_vcpus * self.cpu_percentage / 100.0,
                    inventory.capacity_memory_mb *
                    self.memory_percentage / 100.0)
        return (0.0, 0.0)

    def usable(self, inventory):
        """``(vcpus, memory_mb)`` instances may use: capacity less hold-back"""
        vcpus, memory_mb = self.holdback(inventory)
        return (inventory.capacity_vcpus - vcpus,
                inventory.capacity_memory_mb - memory_mb)

    def __str__(self):
        if self.kind == HOST_FAILURES:
            return '%s=%d' % (HOST_FAILURES, self.host_failures)
        if self.kind == PERCENTAGE:
            return '%s=%d/%d' % (PERCENTAGE, self.cpu_percentage,
                                 self.memory_percentage)
        return NONE


def _int_in(text, low, high, what):
    try:
        value = int(text.strip())
    except ValueError:
        raise ValueError('%s %r is not an integer' % (what, text.strip()))
    if not low <= value <= high:
        raise ValueError('%s %d is not between %d and %d'
                         % (what, value, low, high))
    return value


def parse_policy(text) -> ReservePolicy:
    """Parse ``none``, ``host_failures=N``, ``percentage=P`` or ``=C/M``;
    ValueError says what is wrong with ``text``."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError('empty policy')
    kind, sep, arg = text.strip().partition('=')
    kind = kind.strip().lower()
    if kind == NONE and not sep:
        return ReservePolicy()
    if kind == HOST_FAILURES and sep:
        return ReservePolicy(HOST_FAILURES, host_failures=_int_in(
            arg, 0, 100, 'host failures'))
    if kind == PERCENTAGE and sep:
        cpu, slash, memory = arg.partition('/')
        cpu = _int_in(cpu, 0, 100, 'percentage')
        memory = _int_in(memory, 0, 100, 'percentage') if slash else cpu
        return ReservePolicy(PERCENTAGE, cpu_percentage=cpu,
                             memory_percentage=memory)
    raise ValueError("%r is not 'none', 'host_failures=N', 'percentage=P' "
                     "or 'percentage=CPU/MEMORY'" % text.strip())


class PolicyTable:
    """The reserve policy of each cluster: overrides, else the default."""

    def __init__(self, default, overrides=()):
        self.default = default
        #: ((ClusterRef, ReservePolicy, key)), the most specific first
        self.overrides = tuple(overrides)
        self._memo = {}

    def for_cluster(self, found: ty.Optional[cluster.ClusterId]):
        """The policy of the cluster ``found`` (memoized)."""
        policy = self._memo.get(found) if self.overrides else self.default
        if policy is None:
            policy = next((override for ref, override, _key in self.overrides
                           if ref.matches(found)), self.default)
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            self._memo[found] = policy
        return policy


def build_table(default, overrides, aliases):
    """``(PolicyTable, errors)`` of ``{reference or alias: policy text}``,
    bad entries left out. Node names rank before bare morefs, direct
    references before aliases; of two same-rank entries for one cluster,
    the first key wins.
    """
    errors = []
    entries = []
    for key, text in sorted((overrides or {}).items()):
        try:
            ref = cluster.parse_reference(key)
            direct = not isinstance(ref, cluster.Alias)
            if not direct:
                ref = cluster.resolve((ref,), aliases).refs[0]
            policy = parse_policy(text)
        except (cluster.InvalidClusterReference, ValueError) as e:
            errors.append("entry '%s:%s': %s" % (key, text, e))
            continue
        bare = ref.vcenter_uuid is None and ref.display_name is None
        entries.append(((bare, not direct, key), ref, policy, key))
    entries.sort(key=lambda e: e[0])
    chosen = {}
    kept = []
    for _rank, ref, policy, key in entries:
        identity = (ref.moref, ref.vcenter_uuid, ref.display_name)
        if identity not in chosen:
            chosen[identity] = (key, policy)
            kept.append((ref, policy, key))
        elif chosen[identity][1] != policy:
            first_key, first_policy = chosen[identity]
            errors.append("entries '%s' and '%s' name the same cluster; "
                          "'%s' (%s) is used" % (first_key, key, first_key,
                                                 first_policy))
    return PolicyTable(default, kept), errors


_table_lock = threading.Lock()
#: (overrides, aliases, scalars, key, table) of the last call
_last_table = None
_NONE: dict = {}  # shared stand-in for an empty option value; never changed


def reserve_policies(conf) -> PolicyTable:
    """The reserve policies the configuration sets, cached per value (a
    WARNING once per value for each bad override, left out)."""
    global _last_table
    read = vmw_conf.read_option
    scalars = tuple(read(conf, 'cluster_failover_' + name) for name in (
        'policy', 'host_failures', 'cpu_percentage', 'memory_percentage'))
    overrides = read(conf, 'cluster_failover_overrides') or _NONE
    aliases = read(conf, 'cluster_aliases') or _NONE
    # oslo.config hands out the same dict objects until a value changes:
    # then the last table is still right, without sorting thousands of
    # overrides on every request.
    last = _last_table
    if (last is not None and last[0] is overrides and last[1] is aliases
            and last[2] == scalars):
        return last[4]
    try:
        key = scalars + tuple(tuple(sorted((str(k), str(v))
                                           for k, v in value.items()))
                              for value in (overrides, aliases))
    except Exception:  # not mappings at all (values set in code)
        key = scalars + ((), ())
    with _table_lock:
        if _last_table is not None and _last_table[3] == key:
            table = _last_table[4]
        else:
            kind, failures, cpu, memory = scalars
            default = {HOST_FAILURES: ReservePolicy(kind, failures),
                       PERCENTAGE: ReservePolicy(kind, 0, cpu, memory),
                       }.get(kind, ReservePolicy())
            table, errors = build_table(default, dict(key[4]),
                                        request.configured_aliases(conf))
            for error in errors:
                LOG.warning('Ignoring [vmware_scheduler] '
                            'cluster_failover_overrides %s', error)
        _last_table = (overrides, aliases, scalars, key, table)
        return table


class Demand(ty.NamedTuple):
    """What one instance of the request asks for."""

    vcpus: int = 0
    memory_mb: int = 0


def demand_of(spec_obj) -> Demand:
    """The flavor's vCPUs and memory, as nova's HostState consumes them."""
    try:
        return Demand(max(0, int(spec_obj.vcpus)),
                      max(0, int(spec_obj.memory_mb)))
    except Exception:  # no flavor, lazy-load failure, odd object
        return Demand()


def usage(host_state, inventory, cache=None) -> ty.Optional[tuple]:
    """``(vcpus, memory_mb)`` the cluster's instances use; None if unknown:
    the HostState's figure less the inventories' ``reserved`` (which nova
    counts as used), with ``cache`` raised to placement's usage."""
    try:
        vcpus = host_state.vcpus_used - inventory.reserved_vcpus
        memory = (host_state.total_usable_ram_mb - host_state.free_ram_mb -
                  inventory.reserved_memory_mb)
        # not numbers, or NaN
        if not (vcpus >= 0 or vcpus < 0) or not (memory >= 0 or memory < 0):
            return None
    except (TypeError, AttributeError):
        return None
    used = max(vcpus, 0), max(memory, 0)
    rp_uuid = getattr(host_state, 'uuid', None)
    if cache is not None and isinstance(rp_uuid, str):
        try:
            return cache.usage(rp_uuid, used)
        except (TypeError, ValueError, OverflowError):
            return used
    return used


class Refusal(ty.NamedTuple):
    """Why a cluster cannot take an instance."""

    rule: str
    resource_class: str
    #: what the instance needs (FIT) or the usage with it placed (RESERVE)
    amount: float
    #: the largest host (FIT) or the capacity minus the hold-back (RESERVE)
    limit: float
    holdback: float = 0.0


class Room(ty.NamedTuple):
    """How many more instances of a flavor fit, the reserve kept."""

    count: int  # 0 also for a flavor that asks for nothing
    #: why not even one fits; None if one does
    refusal: ty.Optional[Refusal]


def room(inventory, policy, used, demand) -> Room:
    """The capacity rule: the room a cluster has for ``demand``, ``used``
    as :func:`usage` gives it; the filter passes ``count >= 1``, the
    weigher weighs ``count``."""
    vcpus, memory_mb = demand
    if vcpus > inventory.fit_vcpus + _EPS:
        return Room(0, Refusal(FIT, VCPU, vcpus, inventory.fit_vcpus))
    if memory_mb > inventory.fit_memory_mb + _EPS:
        return Room(0, Refusal(FIT, MEMORY_MB, memory_mb,
                               inventory.fit_memory_mb))
    usable = policy.usable(inventory)
    counts, refused = [], None
    for index, (asked, resource_class) in enumerate(
            ((vcpus, VCPU), (memory_mb, MEMORY_MB))):
        left = usable[index] - used[index] + _EPS
        if asked > 0:
            fits = math.floor(left / asked)
        elif left >= 0:
            continue  # nothing asked of it, and its reserve is kept
        else:
            fits = 0  # nothing asked, but the reserve is already broken
        if fits < 1 and refused is None:
            refused = Refusal(RESERVE, resource_class, used[index] + asked,
                              usable[index], policy.holdback(inventory)[index])
        counts.append(fits)
    # a flavor that asks for nothing passes but counts no headroom
    return Room(max(0, min(counts, default=0)), refused)


def headrooms(host_states, inventories, demand, policies, cache=None) -> list:
    """The :func:`room` count of each host; None for a host that is not a
    VMware cluster or whose inventory or usage is not known."""
    result = []
    for host_state, inv in zip(host_states, inventories):
        used = None
        if inv is not None and inv is not inventory.NOT_A_CLUSTER:
            used = usage(host_state, inv, cache)
        if used is None:
            result.append(None)
            continue
        policy = policies.for_cluster(cluster.cluster_of(host_state))
        result.append(room(inv, policy, used, demand).count)
    return result
