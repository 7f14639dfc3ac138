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

"""Keep instances within one ESXi host and the vSphere HA failover reserve.

A VMware cluster passes if one instance of the requested flavor (its vCPUs
and memory):

* fits the cluster's largest ESXi host: no more than the ``max_unit`` of
  the cluster's ``VCPU`` and ``MEMORY_MB`` inventories in placement (times
  the allocation ratio when that is below 1), and
* leaves the cluster's failover reserve free once placed: the instances of
  the cluster, those placed earlier in the same multi-create request and
  this one use no more than the capacity minus the hold-back of the
  cluster's policy.

Reads ``[vmware_scheduler] cluster_failover_policy`` (default
``host_failures``), ``cluster_failover_host_failures`` (default 1),
``cluster_failover_cpu_percentage`` and
``cluster_failover_memory_percentage`` (default 25 each),
``cluster_failover_overrides`` (per cluster, by reference or alias from
``cluster_aliases``) and the options of the inventory cache
(``cluster_inventory_*``, ``cluster_usage_refresh_interval``). The rule is
:func:`nova_vmw_sched.capacity.room`.

Inventories and placement's usage come from :mod:`nova_vmw_sched.inventory`'s
shared cache, which its own threads keep fresh: a request makes no call for
a cluster read before. A cluster never read is read at once and waited for
up to ``cluster_inventory_first_read_wait`` seconds (all such clusters of the
request together); a cluster whose inventory is still not known (not read
in time, placement failed, or it has none) fails. After a failed re-read the
last inventory read is used. Usage is the larger of nova's figure and
placement's (:func:`nova_vmw_sched.capacity.usage`), so the instances of a
cluster that changed service still count.

Nodes that are not VMware clusters (KVM, ironic) pass. Rebuilds are not
filtered: a rebuild keeps the instance's flavor and host.
"""

import logging
import typing as ty

from oslo_log import log as oslo_logging

import nova.conf
from nova.scheduler import utils as scheduler_utils

from nova_vmw_sched import capacity
from nova_vmw_sched import cluster
from nova_vmw_sched import explain
from nova_vmw_sched import filters as vmw_filters
from nova_vmw_sched import inventory

LOG = oslo_logging.getLogger(__name__)
CONF = nova.conf.CONF


class VMwareClusterCapacityFilter(vmw_filters.RequestScopedFilter):
    """Pass clusters whose largest host and failover reserve fit the VM."""

    RUN_ON_REBUILD = False
    # Not run once per request: each instance of a multi-create uses up
    # capacity that the next one must see.

    def filter_all(self, filter_obj_list, spec_obj):
        # One pass reads what the cache lacks and looks up each host's
        # inventory; the checks after it make no call.
        hosts = list(filter_obj_list)
        if (not self.RUN_ON_REBUILD and
                scheduler_utils.request_is_rebuild(spec_obj)):
            return hosts
        prepared = self.prepare(spec_obj)
        inventories = prepared.cache.for_hosts(
            inventory.request_context(spec_obj), hosts)
        passes = self._passes
        passed = [host for host, inv in zip(hosts, inventories)
                  if passes(host, inv, prepared)]
        if len(passed) != len(hosts):
            explain.note(spec_obj, self, hosts, passed, prepared)
        return passed

    def reason(self, host_state, prepared):
        """Why a listed cluster was refused, for the explanation line."""
        rp_uuid = getattr(host_state, 'uuid', None)
        inv = prepared.cache.get(rp_uuid)
        if inv is None:
            return 'no inventory known (%s)' % (
                prepared.cache.why_missing(rp_uuid))
        used = capacity.usage(host_state, inv, prepared.cache)
        if used is None:
            return 'usage not known'
        policy = prepared.policies.for_cluster(cluster.cluster_of(host_state))
        refused = capacity.room(inv, policy, used, prepared.demand).refusal
        if refused is None:
            return 'rejected'
        if refused.rule == capacity.FIT:
            return ('too small: needs %s %s, the largest ESXi host offers %s'
                    % (_num(refused.amount), refused.resource_class,
                       _num(refused.limit)))
        return ('failover reserve reached: would use %s %s, more than %s '
                '(capacity less %s held back, %s)'
                % (_num(refused.amount), refused.resource_class,
                   _num(refused.limit), _num(refused.holdback), policy))

    def prepare(self, spec_obj):
        return _Prepared(capacity.demand_of(spec_obj),
                         capacity.reserve_policies(CONF),
                         inventory.get_cache())

    def check(self, host_state, prepared):
        if cluster.cluster_of(host_state) is None:
            inv = inventory.NOT_A_CLUSTER
        else:
            inv = prepared.cache.get(getattr(host_state, 'uuid', None))
        return self._passes(host_state, inv, prepared)

    @staticmethod
    def _passes(host_state, inv, prepared):
        if inv is inventory.NOT_A_CLUSTER:
            return True
        if inv is None:
            rp_uuid = getattr(host_state, 'uuid', None)
            LOG.debug('%(host_state)s fails: no inventory of cluster '
                      '%(cluster)s is known (%(why)s)',
                      {'host_state': host_state,
                       'cluster': cluster.cluster_of(host_state),
                       'why': prepared.cache.why_missing(rp_uuid)})
            return False
        used = capacity.usage(host_state, inv, prepared.cache)
        if used is None:
            LOG.debug('%(host_state)s fails: its usage is not known',
                      {'host_state': host_state})
            return False
        policies = prepared.policies
        policy = (policies.for_cluster(cluster.cluster_of(host_state))
                  if policies.overrides else policies.default)
        refused = capacity.room(inv, policy, used, prepared.demand).refusal
        if refused is None:
            return True
        if LOG.isEnabledFor(logging.DEBUG):
            _log_refusal(host_state, cluster.cluster_of(host_state), policy,
                         refused)
        return False


class _Prepared(ty.NamedTuple):
    demand: capacity.Demand
    policies: capacity.PolicyTable
    cache: inventory.InventoryCache


def _num(value):
    """A number for a log message: no '.0', at most one decimal."""
    return int(value) if value == int(value) else round(value, 1)


def _log_refusal(host_state, found, policy, refused):
    args = {'host_state': host_state, 'cluster': found,
            'amount': _num(refused.amount), 'rc': refused.resource_class,
            'limit': _num(refused.limit),
            'holdback': _num(refused.holdback), 'policy': policy}
    if refused.rule == capacity.FIT:
        LOG.debug('%(host_state)s fails: the instance needs %(amount)s '
                  '%(rc)s, more than the largest ESXi host of cluster '
                  '%(cluster)s offers (%(limit)s)', args)
    else:
        LOG.debug('%(host_state)s fails: with the instance placed, cluster '
                  '%(cluster)s would use %(amount)s %(rc)s, more than '
                  '%(limit)s, its capacity less the failover reserve of '
                  '%(holdback)s (%(policy)s)', args)
