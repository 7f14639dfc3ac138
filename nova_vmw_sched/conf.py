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

"""The ``[vmware_scheduler]`` options of nova_vmw_sched.

Every option is mutable (reloaded on SIGHUP, read per request or per
refresh). Nothing is registered at import time: the plugins call
:func:`register_opts` when they are loaded.
"""

import threading

from oslo_config import cfg
from oslo_log import log as logging

LOG = logging.getLogger(__name__)

GROUP = cfg.OptGroup(
    'vmware_scheduler',
    title='VMware cluster scheduling options',
    help="""
Options of the nova_vmw_sched scheduler filters and weighers, which treat
each vSphere cluster (a nova compute node named
``domain-cN.<vCenter uuid>``) as the unit of scheduling, whether clusters
share a nova-compute service or not.
""")

OPTS = [
    cfg.DictOpt(
        'cluster_aliases',
        mutable=True,
        default={},
        help="""
Operator names for clusters.

Each entry maps an alias to one cluster reference, so that flavors can say
``vmware:cluster=gold`` instead of a node name. An alias is a letter or
``_`` followed by up to 63 letters, digits, ``_``, ``.`` or ``-``, not
starting with ``domain-``. The reference is a full node name
(``domain-c7.6f1c2a6e-2f6b-4c39-9d55-3b1f4c1e7a01``: that cluster of that
vCenter), a legacy node name (``domain-c7(Gold)``) or a bare moref
(``domain-c7``: that moref in every vCenter); not another alias or a list.
An entry that is not valid is ignored and logged once as a WARNING; a
flavor that names an alias not defined here fails to schedule (nothing
passes), with a WARNING naming the alias.

This option only affects scheduling if ``VMwareClusterFilter`` or
``VMwareClusterPreferenceWeigher`` is enabled. nova-api does not read it:
the API checks only that an alias name is well formed.

Possible values:

* A comma-separated list of ``alias:reference`` pairs, e.g.
  ``gold:domain-c7.6f1c2a6e-2f6b-4c39-9d55-3b1f4c1e7a01,silver:domain-c8``

Related options:

* ``[filter_scheduler] enabled_filters``
"""),
    cfg.FloatOpt(
        'cluster_preference_weight_multiplier',
        mutable=True,
        default=1000.0,
        min=0.0,
        help="""
Weight of the order of clusters in a flavor's ``vmware:cluster`` list.

Among the clusters that pass the filters, the first one listed weighs most,
then the next: with ``N`` listed clusters the first weighs ``N``, the last
1. nova divides each weigher's weights by the largest (this weigher's
minimum is 0) and multiplies them by the weigher's multiplier, so two
neighbours in the list differ by ``multiplier / N``. The default, 1000, is
far above what nova's weighers that spread or stack by usage add with
their default multipliers (at most 9 in all), so the list order wins over
free RAM, CPU and disk for lists of up to 100 clusters, while nova's
build-failure and cross-cell weighers (multiplier 1000000) still win over
it. 0 turns the preference off, so nova's other weighers choose among the
listed clusters.

The value can be overridden per host aggregate with the metadata key
``cluster_preference_weight_multiplier``.

This option only affects scheduling if ``VMwareClusterPreferenceWeigher``
is enabled in ``[filter_scheduler] weight_classes``.

Possible values:

* A float, 0 or greater.

Related options:

* ``[filter_scheduler] weight_classes``
* ``[filter_scheduler] ram_weight_multiplier`` and the other multipliers
"""),
    cfg.FloatOpt(
        'cluster_soft_affinity_weight_multiplier',
        mutable=True,
        default=1.0,
        min=0.0,
        help="""
Weight of the number of soft-affinity group members on a cluster.

For a request in a server group with policy ``soft-affinity``, clusters that
hold more members of the group weigh more, so members pack onto one cluster
while it has room. Members count on the cluster of their ``instance.node``,
whatever nova-compute service manages it.

The value can be overridden per host aggregate with the metadata key
``cluster_soft_affinity_weight_multiplier``.

This option only affects scheduling if ``VMwareClusterSoftAffinityWeigher``
is enabled in ``[filter_scheduler] weight_classes``. nova's own
``ServerGroupSoftAffinityWeigher`` counts per service host: set
``[filter_scheduler] soft_affinity_weight_multiplier = 0`` so that it adds
nothing.

Possible values:

* A float, 0 or greater.

Related options:

* ``[filter_scheduler] soft_affinity_weight_multiplier``
* ``[filter_scheduler] weight_classes``
"""),
    cfg.FloatOpt(
        'cluster_soft_anti_affinity_weight_multiplier',
        mutable=True,
        default=1.0,
        min=0.0,
        help="""
Weight of the number of soft-anti-affinity group members on a cluster.

For a request in a server group with policy ``soft-anti-affinity``,
clusters that hold more members of the group weigh less, so members spread
over clusters first and double up only when they must. Members count on the
cluster of their ``instance.node``, whatever nova-compute service manages
it.

The value can be overridden per host aggregate with the metadata key
``cluster_soft_anti_affinity_weight_multiplier``.

This option only affects scheduling if
``VMwareClusterSoftAntiAffinityWeigher`` is enabled in ``[filter_scheduler]
weight_classes``. nova's own ``ServerGroupSoftAntiAffinityWeigher`` counts
per service host: set ``[filter_scheduler]
soft_anti_affinity_weight_multiplier = 0`` so that it adds nothing.

Possible values:

* A float, 0 or greater.

Related options:

* ``[filter_scheduler] soft_anti_affinity_weight_multiplier``
* ``[filter_scheduler] weight_classes``
"""),
    cfg.StrOpt(
        'cluster_failover_policy',
        mutable=True,
        default='host_failures',
        choices=[
            ('host_failures', 'hold back the capacity of '
             '``cluster_failover_host_failures`` of the largest ESXi hosts'),
            ('percentage', 'hold back ``cluster_failover_cpu_percentage`` '
             'of the CPU and ``cluster_failover_memory_percentage`` of the '
             'memory'),
            ('none', 'hold nothing back; only the fit on one ESXi host is '
             'checked'),
        ],
        help="""
How much of each cluster's capacity to keep free for vSphere HA failover.

vSphere HA restarts the VMs of a failed ESXi host on the other hosts of its
cluster, and its admission control holds capacity back for that. The
scheduler sees only cluster totals: if it fills a cluster past that reserve,
vCenter refuses to power VMs on, or an ESXi failure leaves VMs down. A
cluster passes ``VMwareClusterCapacityFilter`` only if, with the requested
instance placed, its instances use no more than the cluster's capacity
minus this reserve. Capacity is counted as placement counts it:
``(total - reserved) * allocation_ratio`` of ``VCPU`` and of ``MEMORY_MB``.

Choose the policy that matches the cluster's vSphere HA admission control
setting (see the capacity page of the documentation).
``cluster_failover_overrides`` sets another policy for single clusters.

This option only affects scheduling if ``VMwareClusterCapacityFilter`` or
``VMwareClusterHeadroomWeigher`` is enabled.

Possible values:

* ``host_failures`` (default): hold back the capacity of
  ``cluster_failover_host_failures`` ESXi hosts as large as the cluster's
  largest, like vSphere HA's "Host failures cluster tolerates".
* ``percentage``: hold back ``cluster_failover_cpu_percentage`` percent of
  the CPU and ``cluster_failover_memory_percentage`` percent of the memory,
  like vSphere HA's "Percentage of cluster resources reserved as failover
  spare capacity".
* ``none``: hold nothing back; a cluster passes if the instance fits its
  largest ESXi host and its capacity.

Related options:

* ``cluster_failover_host_failures``
* ``cluster_failover_cpu_percentage``
* ``cluster_failover_memory_percentage``
* ``cluster_failover_overrides``
"""),
    cfg.IntOpt(
        'cluster_failover_host_failures',
        mutable=True,
        default=1,
        min=0,
        max=100,
        help="""
The number of ESXi host failures each cluster keeps capacity for.

With the ``host_failures`` policy, a cluster holds back this many times the
size of its largest ESXi host (the ``max_unit`` of its ``VCPU`` and
``MEMORY_MB`` inventories in placement, times their allocation ratios), of
CPU and of memory. That is never less than what vSphere HA's "Host failures
cluster tolerates" holds back, and it needs no slot size: the largest hosts
may be the ones that fail. A value equal to or above a cluster's number of
ESXi hosts leaves no capacity, so the cluster takes no instance.

This option only affects scheduling if ``VMwareClusterCapacityFilter`` or
``VMwareClusterHeadroomWeigher`` is enabled and the policy of a cluster is
``host_failures``.

Possible values:

* An integer from 0 to 100. 0 holds nothing back. The default, 1, matches
  vSphere HA's default.

Related options:

* ``cluster_failover_policy``
* ``cluster_failover_overrides``
"""),
    cfg.IntOpt(
        'cluster_failover_cpu_percentage',
        mutable=True,
        default=25,
        min=0,
        max=100,
        help="""
The percentage of each cluster's CPU capacity kept free for failover.

With the ``percentage`` policy, a cluster's instances may use at most
``100 - this`` percent of its ``VCPU`` capacity in placement
(``(total - reserved) * allocation_ratio``), like vSphere HA's "Reserved
failover CPU capacity".

This option only affects scheduling if ``VMwareClusterCapacityFilter`` or
``VMwareClusterHeadroomWeigher`` is enabled and the policy of a cluster is
``percentage``.

Possible values:

* An integer from 0 to 100. 100 leaves no CPU for instances.

Related options:

* ``cluster_failover_policy``
* ``cluster_failover_memory_percentage``
* ``cluster_failover_overrides``
"""),
    cfg.IntOpt(
        'cluster_failover_memory_percentage',
        mutable=True,
        default=25,
        min=0,
        max=100,
        help="""
The percentage of each cluster's memory capacity kept free for failover.

With the ``percentage`` policy, a cluster's instances may use at most
``100 - this`` percent of its ``MEMORY_MB`` capacity in placement
(``(total - reserved) * allocation_ratio``), like vSphere HA's "Reserved
failover Memory capacity".

This option only affects scheduling if ``VMwareClusterCapacityFilter`` or
``VMwareClusterHeadroomWeigher`` is enabled and the policy of a cluster is
``percentage``.

Possible values:

* An integer from 0 to 100. 100 leaves no memory for instances.

Related options:

* ``cluster_failover_policy``
* ``cluster_failover_cpu_percentage``
* ``cluster_failover_overrides``
"""),
    cfg.DictOpt(
        'cluster_failover_overrides',
        mutable=True,
        default={},
        help="""
Failover reserve policies of single clusters.

Each entry maps a cluster reference to the policy of that cluster; clusters
without an entry use ``cluster_failover_policy`` and its options. The
reference is a full node name (``domain-c7.<vCenter uuid>``), a legacy node
name (``domain-c7(Gold)``), a bare moref (``domain-c7``, that moref in every
vCenter) or an alias from ``cluster_aliases``. When several entries match a
cluster, the one used is chosen first by what it stands for (a full or
legacy node name before a bare moref), then by how it is named (directly
before through an alias): an alias of a node name wins over a bare moref.

The policy is one of:

* ``host_failures=N``: hold back N times the largest ESXi host (N from 0 to
  100);
* ``percentage=P``: hold back P percent of the CPU and of the memory;
* ``percentage=C/M``: hold back C percent of the CPU and M percent of the
  memory (0 to 100 each);
* ``none``: hold nothing back.

An entry that is not valid (bad reference, undefined alias, bad policy) is
ignored, so its cluster keeps the default policy, and logged once as a
WARNING.

This option only affects scheduling if ``VMwareClusterCapacityFilter`` or
``VMwareClusterHeadroomWeigher`` is enabled.

Possible values:

* A comma-separated list of ``reference:policy`` pairs, e.g.
  ``domain-c7:host_failures=2,gold:percentage=30/20,domain-c9:none``

Related options:

* ``cluster_failover_policy``
* ``cluster_aliases``
"""),
    cfg.IntOpt(
        'cluster_inventory_cache_ttl',
        mutable=True,
        default=300,
        min=1,
        max=86400,
        help="""
Seconds between two reads of a cluster's placement inventory.

The capacity filter and the headroom weigher need the ``max_unit`` (the
largest ESXi host), the totals and the allocation ratios of each cluster's
``VCPU`` and ``MEMORY_MB`` inventories, which placement's allocation
candidates do not carry. Each scheduler process keeps them for all its
requests and re-reads them in the background, one call per cluster about
this often (the clusters in turn, at an even rate of clusters / TTL per
second, so that they never come due together): requests never wait for a
refresh. After a failed read, or a cluster without inventory, the last
value read is kept. Inventories change when ESXi hosts join or leave a
cluster or an allocation ratio changes.

This option only affects scheduling if ``VMwareClusterCapacityFilter`` or
``VMwareClusterHeadroomWeigher`` is enabled.

Possible values:

* An integer from 1 to 86400 (a day).

Related options:

* ``cluster_inventory_first_read_wait``
* ``cluster_inventory_retry_interval``
* ``cluster_inventory_refresh_workers``
"""),
    cfg.FloatOpt(
        'cluster_inventory_first_read_wait',
        mutable=True,
        default=5.0,
        min=0.0,
        max=60.0,
        help="""
Seconds a request waits, in all, for the first read of clusters whose
inventory the scheduler process has never read.

The first request that meets a cluster (after a restart, or a new cluster)
has its inventory read at once, before any background refresh, and waits
for it this long at most. A cluster not read by then counts as having no
known inventory for that request: ``VMwareClusterCapacityFilter`` refuses
it (with the reason in its DEBUG line and in the explanation of a pinned
request) and ``VMwareClusterHeadroomWeigher`` weighs it last. Its read
goes on, and later requests find it.

This option only affects scheduling if ``VMwareClusterCapacityFilter`` or
``VMwareClusterHeadroomWeigher`` is enabled.

Possible values:

* A number of seconds from 0 to 60. 0 does not wait: the first request
  that meets a cluster refuses it.

Related options:

* ``cluster_inventory_refresh_workers``
"""),
    cfg.FloatOpt(
        'cluster_inventory_retry_interval',
        mutable=True,
        default=10.0,
        min=1.0,
        max=3600.0,
        help="""
Seconds after which a failed read of a cluster's inventory is tried again.

The delay doubles with each further failure of the same cluster, up to
``cluster_inventory_cache_ttl``. Each failed read is logged as one WARNING.
A cluster read before keeps its last inventory meanwhile; a cluster never
read has none, so the capacity filter refuses it until a read succeeds.

This option only affects scheduling if ``VMwareClusterCapacityFilter`` or
``VMwareClusterHeadroomWeigher`` is enabled.

Possible values:

* A number of seconds from 1 to 3600.

Related options:

* ``cluster_inventory_cache_ttl``
"""),
    cfg.IntOpt(
        'cluster_inventory_refresh_workers',
        mutable=True,
        default=4,
        min=1,
        max=32,
        help="""
Threads per scheduler process that read inventories from placement.

First reads (clusters never read) come before refreshes. With placement
answering in 2 ms, 4 threads could make at most 2,000 reads a second;
fewer in practice, as they share Python's GIL with the requests (the
benchmark report in the documentation gives the measured rates).

This option only affects scheduling if ``VMwareClusterCapacityFilter`` or
``VMwareClusterHeadroomWeigher`` is enabled.

Possible values:

* An integer from 1 to 32.

Related options:

* ``cluster_inventory_first_read_wait``
"""),
    cfg.IntOpt(
        'cluster_usage_refresh_interval',
        mutable=True,
        default=30,
        min=0,
        max=3600,
        help="""
Seconds between two reads of what placement counts as used on clusters.

nova's own figure of a cluster's usage (its HostState) counts the instances
of the compute service that manages it; after a cluster changes service,
the instances that still name the old service are left out, and the
failover reserve would be overbooked. Each scheduler process therefore
reads every cluster's usage from placement with one call this often
(``GET /allocation_candidates?resources=MEMORY_MB:1``, whose provider
summaries carry the usage of each provider with free memory), and the
capacity filter and the headroom weigher count the larger of nova's figure
and placement's figure plus what nova counted since that read.

This option only affects scheduling if ``VMwareClusterCapacityFilter`` or
``VMwareClusterHeadroomWeigher`` is enabled.

Possible values:

* A number of seconds from 1 to 3600.
* 0: no usage reads; nova's figure alone.

Related options:

* ``cluster_failover_policy``
"""),
    cfg.FloatOpt(
        'cluster_headroom_weight_multiplier',
        mutable=True,
        default=1.0,
        help="""
Weight of the number of instances of the requested flavor a cluster can
still take.

``VMwareClusterHeadroomWeigher`` counts, for each cluster, how many more
instances of the requested flavor fit without breaking the cluster's
failover reserve (``cluster_failover_policy``). A positive value prefers the
clusters with the most room (spreading, the default); a negative value
prefers the fullest clusters that still fit (packing). A cluster without
room for the instance, a cluster whose inventory is not known and a node
that is not a VMware cluster weigh last either way.

The value can be overridden per host aggregate with the metadata key
``cluster_headroom_weight_multiplier``.

This option only affects scheduling if ``VMwareClusterHeadroomWeigher`` is
enabled in ``[filter_scheduler] weight_classes``.

Possible values:

* A float: positive to spread, negative to pack, 0 to turn the weigher off.

Related options:

* ``cluster_failover_policy``
* ``[filter_scheduler] ram_weight_multiplier`` and the other multipliers
"""),
    cfg.FloatOpt(
        'server_group_wait_timeout',
        mutable=True,
        default=60.0,
        min=0.0,
        max=600.0,
        help="""
Seconds a request waits for earlier members of its server group that are
still being scheduled.

Orchestrators create the members of a group at once, and nova schedules
them in parallel (on native threads, and in several scheduler processes). A
member counts on the cluster of its ``instance.node`` or, before the
compute has claimed it, on the cluster where placement holds its
allocation. A member that nova-api has created but that no scheduler has
placed yet (a build request and no allocation) is nowhere yet; if it joined
the group before the request being scheduled, the request waits for it to
be placed (or to fail, or to be deleted), polling the API database and
placement every ``server_group_wait_interval`` seconds. Members of the same
multi-create request and members that joined later are never waited for;
the later ones wait for this request instead. A ``same_host`` or
``different_host`` instance still being scheduled is waited for alike.

If members are still in flight when the time is up, the hard policies
(``ServerGroupAffinityFilter``, ``ServerGroupAntiAffinityFilter``,
``SameHostFilter``, ``DifferentHostFilter``) refuse every host, with a
WARNING naming the group and the members (the request ends in
NoValidHost); the soft-policy weighers count the members that are placed.
A waiting request holds one of the scheduler's worker threads
(``[DEFAULT] executor_thread_pool_size``).

This option only affects scheduling if one of the filters above is in
``[filter_scheduler] enabled_filters`` or a soft-policy weigher of
nova_vmw_sched is in ``[filter_scheduler] weight_classes``.

Possible values:

* A number of seconds from 0 to 600. 0 does not wait: a request that finds
  an earlier member in flight fails at once under a hard policy.

Related options:

* ``server_group_wait_interval``
* ``[workarounds] disable_group_policy_check_upcall``
"""),
    cfg.FloatOpt(
        'placement_sync_interval',
        mutable=True,
        default=60.0,
        min=0.0,
        max=3600.0,
        help="""
Seconds between two runs of the placement keeper in each nova-scheduler
process.

The keeper holds the vSphere HA reserve of every VMware cluster in
placement, as allocations of its own, so that placement's atomic claim
keeps the reserve when requests race, in one scheduler or in several; and
it puts every compute node of a service host into the placement aggregates
of the nova host aggregates of that host (nova mirrors only the first node
of a host), so that availability zones and aggregate-based tenant isolation
reach every cluster of a shared service. A change of nova's aggregates,
clusters or reserve policy reaches placement within one interval (plus the
time of one run). Each run reads placement and nova's databases and writes
only what differs.

Possible values:

* A number of seconds from 0 to 3600. 0 turns the keeper off: nothing is
  written to placement, and ``nova-vmw-sched sync-placement`` is the only
  way to bring placement in line. A new value applies at the end of the
  keeper's current wait; turned off, the keeper looks at the option again
  every 60 seconds.

Related options:

* ``cluster_failover_policy``
* ``[filter_scheduler] enabled_filters``
"""),
    cfg.FloatOpt(
        'server_group_wait_interval',
        mutable=True,
        default=0.2,
        min=0.01,
        max=10.0,
        help="""
Seconds between two looks at server-group members that a request waits for.

Each look is one API database query and one placement read per member
still waited for.

This option only affects scheduling if ``server_group_wait_timeout`` is
greater than 0 and a request waits.

Possible values:

* A number of seconds from 0.01 to 10.

Related options:

* ``server_group_wait_timeout``
"""),
]


def register_opts(conf):
    """Register the ``[vmware_scheduler]`` options on ``conf``, once (each
    registration clears oslo.config's cache of values: 140 us a call)."""
    try:
        group = conf[GROUP.name]
        if all(opt.dest in group for opt in OPTS):
            return
    except (KeyError, AttributeError, cfg.Error):
        pass
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    """The options for oslo-config-generator and the docs."""
    return [(GROUP, OPTS)]


_warned = set()
_warned_lock = threading.Lock()
_WARNED_LIMIT = 200000  # distinct WARNINGs remembered, then forgotten


def warn_once(log, key, message, args):
    """Log ``message % args`` on ``log`` as a WARNING the first time ``key``
    is seen in this process (bad operator data: once, not per request)."""
    if key in _warned:
        return
    with _warned_lock:
        if key in _warned:
            return
        if len(_warned) >= _WARNED_LIMIT:
            _warned.clear()
        _warned.add(key)
    log.warning(message, args)


def read_option(conf, name):
    """``[vmware_scheduler] <name>``; for a value oslo.config refuses
    (bounds, choices), its default, with a WARNING once per bad value."""
    try:
        try:
            return getattr(conf.vmware_scheduler, name)
        except cfg.NoSuchOptError:
            register_opts(conf)
            return getattr(conf.vmware_scheduler, name)
    except (ValueError, cfg.Error) as e:
        default = next(o.default for o in OPTS if o.name == name)
        warn_once(LOG, ('option', name, str(e)),
                  'Bad value for [vmware_scheduler] %(name)s (%(error)s); '
                  'using the default, %(default)s.',
                  {'name': name, 'error': e, 'default': default})
        return default
