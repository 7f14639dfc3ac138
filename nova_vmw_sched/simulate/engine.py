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

"""Run a scenario's requests through nova's own scheduler code
(doc/source/cli.rst, "What it runs"). A :class:`Simulation` is one setup on
one topology; simulations share nova's ``CONF``, which
:meth:`Simulation.active` sets for one at a time.
"""

import contextlib
import logging
import random
import typing as ty

from oslo_utils import timeutils

import nova.conf
from nova import exception as nova_exception
from nova import objects
from nova.scheduler import filters as nova_filters
from nova.scheduler import host_manager
from nova.scheduler import manager as nova_manager
from nova.scheduler import request_filter
from nova.scheduler import weights as nova_weights

from nova_vmw_sched import cluster as cluster_mod
from nova_vmw_sched import conf as vmw_conf
from nova_vmw_sched import data
from nova_vmw_sched import inventory
from nova_vmw_sched import keeper
from nova_vmw_sched import request as vmw_request
from nova_vmw_sched.simulate import defaults
from nova_vmw_sched.simulate import estate as estate_mod
from nova_vmw_sched.simulate import probes
from nova_vmw_sched.simulate import placement as placement_mod
from nova_vmw_sched.simulate import topology as topology_mod
from nova_vmw_sched.simulate import why as why_mod

CONF = nova.conf.CONF
PLACEMENT = why_mod.PLACEMENT
NO_VALID_HOST = 'NoValidHost'
#: the placement microversion of the allocation requests handed to nova
ALLOCATION_REQUEST_VERSION = '1.36'
#: candidates kept per instance for the report
TOP = 3
#: consumed HostState fields that a failed request restores
_CONSUMED = ('free_ram_mb', 'free_disk_mb', 'vcpus_used', 'num_instances',
             'num_io_ops', 'updated', 'numa_topology')
#: how an explanation names each move
_MOVES = {'migrate': 'cold migration', 'resize': 'resize',
          'live-migrate': 'live migration', 'evacuate': 'evacuation'}
_STOCK_SOFT = ('soft_affinity_weight_multiplier',
               'soft_anti_affinity_weight_multiplier')


class SimulationError(Exception):
    """The setup cannot run (a filter that is not found, a bad option)."""


class Setup(ty.NamedTuple):
    """Scheduler options a simulation runs with, on top of nova.conf."""

    name: str
    options: dict
    #: enabled filter names left out (stock nova does not have them)
    dropped: tuple = ()


def configured(use_defaults):
    """The setup of the config file, or the documented one (no file)."""
    return Setup('configured', defaults.options() if use_defaults else {})


def stock(base):
    """nova's own filters and weighers with the same options (its soft
    weighers with their default multipliers back)."""
    with _overrides(base.options):
        enabled = list(CONF.filter_scheduler.enabled_filters)
    names = {cls.__name__ for cls in
             nova_filters.HostFilterHandler().get_matching_classes(
                 ['nova.scheduler.filters.all_filters'])}
    options = dict(base.options)
    options[('filter_scheduler', 'available_filters')] = [
        'nova.scheduler.filters.all_filters']
    options[('filter_scheduler', 'enabled_filters')] = [
        n for n in enabled if n in names]
    options[('filter_scheduler', 'weight_classes')] = [
        'nova.scheduler.weights.all_weighers']
    for option in _STOCK_SOFT:
        options[('filter_scheduler', option)] = 1.0
    dropped = tuple(n for n in enabled if n not in names)
    return Setup('stock', options, dropped)


@contextlib.contextmanager
def _overrides(options):
    done = []
    try:
        for (group, option), value in options.items():
            CONF.set_override(option, value, group)
            done.append((group, option))
        yield
    finally:
        for group, option in done:
            CONF.clear_override(option, group)


class SimHostManager(host_manager.HostManager):
    """nova's HostManager without the database, its plugins probed."""

    def __init__(self, sink, estate):
        # HostManager.__init__ up to the weighers; the rest reads the database
        self.estate = estate
        self.filter_handler = nova_filters.HostFilterHandler()
        filter_classes = self.filter_handler.get_matching_classes(
            CONF.filter_scheduler.available_filters)
        self.filter_cls_map = {cls.__name__: cls for cls in filter_classes}
        self.filter_obj_map = {}
        self.enabled_filters = self._choose_host_filters(self._load_filters())
        self.weight_handler = nova_weights.HostWeightHandler()
        weigher_classes = self.weight_handler.get_matching_classes(
            CONF.filter_scheduler.weight_classes)
        self.weighers = [cls() for cls in weigher_classes]
        self.filter_names = [type(f).__name__ for f in self.enabled_filters]
        self.weigher_names = [type(w).__name__ for w in self.weighers]
        self.enabled_filters = [probes.probe(probes.FilterProbe, f, sink)
                                for f in self.enabled_filters]
        self.weighing = probes.WeighingRecord()
        self.weighers = [probes.probe(probes.WeigherProbe, w, self.weighing)
                         for w in self.weighers]

    def get_host_states_by_uuids(self, context, compute_uuids, spec_obj):
        """The estate's HostStates of these compute nodes, in file order."""
        wanted = set(compute_uuids or ())
        return (h for h in self.estate.hosts if h.uuid in wanted)


class Rejection(ty.NamedTuple):
    instance: int
    by: str
    reason: str


class Candidate(ty.NamedTuple):
    cluster: str
    service: str
    weight: float
    shares: tuple


class Placed(ty.NamedTuple):
    name: str
    cluster: ty.Optional[str]
    service: ty.Optional[str]
    candidates: tuple = ()
    #: why the instance found no cluster
    failure: ty.Optional[str] = None
    #: the labels of the other candidates with the chosen one's weight
    ties: tuple = ()


class Result:
    """What one simulation did with one request."""

    def __init__(self, index, request, topology):
        self.index = index
        self.request = request
        self.topology = topology
        self.instances = []
        #: {cluster label: Rejection}, the first rejection of each cluster
        self.rejected = {}
        #: clusters that fit but were beyond max_placement_results
        self.beyond_limit = 0
        self.ok = False
        #: the clusters the request's vmware:cluster lists, in its order
        self.listed = ()
        self.log = []
        #: zone and server group (a move: the instance's)
        self.zone = self.group = None
        #: clusters no filter saw: ``{label: (by, why)}``
        self.left_out = {}
        #: ``--why``: :class:`.why.Weighed` of the cluster per weighing
        self.why = []

    @property
    def outcome(self):
        if not self.ok:
            return (NO_VALID_HOST,)
        return tuple(p.cluster for p in self.instances)

    @property
    def failure(self):
        return next((p.failure for p in self.instances if p.failure), None)


class Simulation:
    """One setup on one topology of a scenario."""

    def __init__(self, scenario, setup, topology=topology_mod.AS_WRITTEN,
                 verbose=False):
        self.setup = setup
        #: ``--why``: the label of the cluster to explain
        self.why = None
        self.verbose = verbose
        self.topology = topology
        self.scenario = topology_mod.regroup(scenario, topology)
        self.now = timeutils.utcnow().replace(microsecond=0)
        self.random = random.Random(0)
        # stock nova mirrors only a host's first node into its zone's
        # placement aggregate; the package's keeper mirrors every node
        self.estate = estate_mod.Estate(
            self.scenario, self.now, first_node_only=setup.name == 'stock')
        # a cache of its own, inline: no threads, no entry of another estate
        cache = inventory.InventoryCache(
            inventory.StaticSource(self.estate.placement.inventories))
        self.data = data.Data(members=self.estate, lookup=self.estate,
                              inventory=cache, keeper=keeper.Off())
        self._result = None
        self._instance = 0
        self._alternates = False
        with self.active():
            try:
                self.host_manager = SimHostManager(self._sink, self.estate)
            except Exception as e:  # SchedulerHostFilterNotFound, bad opts
                raise SimulationError('%s setup: %s' % (setup.name, e))
            limit = CONF.scheduler.max_placement_results
        self.filter_names = self.host_manager.filter_names
        self.weigher_names = self.host_manager.weigher_names
        #: what nova-scheduler would warn about this estate and setup
        self.warnings = []
        count = len(self.scenario.clusters)
        pinned = sorted(f.name for f in self.scenario.flavors.values()
                        if 'vmware:cluster' in f.extra_specs)
        if pinned and 'VMwareClusterFilter' not in self.filter_names:
            self.warnings.append(
                'flavors %s set vmware:cluster, but VMwareClusterFilter is '
                'not in [filter_scheduler] enabled_filters: their pins are '
                'ignored (only VMwareClusterPreferenceWeigher, if enabled, '
                'prefers the listed clusters).' % ', '.join(pinned))
        if 'VMwareClusterFilter' in self.filter_names and count > limit:
            self.warnings.append(
                '%d clusters, more than [scheduler] max_placement_results '
                '= %d: placement leaves some out before any filter runs, '
                'so a cluster that vmware:cluster lists may never be '
                'considered (nova-scheduler logs a WARNING when a pinned '
                'request meets the limit; see "Placement comes first" in '
                'the limits page).' % (count, limit))

    def _options(self):
        options = {(None, 'servicegroup_driver'): 'db'}
        options.update(self.setup.options)
        for group, settings in self.scenario.config.items():
            if self.setup.name == 'stock' and group == 'filter_scheduler':
                settings = {k: v for k, v in settings.items()
                            if (group, k) not in self.setup.options}
            for option, value in settings.items():
                options[(group, option)] = value
        return options

    @contextlib.contextmanager
    def active(self):
        """nova's CONF, the data seam, the clock and random as this run has
        them: the only place the simulator changes nova's globals."""
        vmw_conf.register_opts(CONF)
        saved_random = random.getstate()
        # nova's request filters read the aggregates
        lookups = {'get_by_metadata': self.estate.aggregates_by_metadata,
                   'get_non_matching_by_metadata_keys':
                   self.estate.aggregates_not_matching}
        saved_lookups = {name: objects.AggregateList.__dict__[name]
                         for name in lookups}
        with _overrides(self._options()):
            ha = {c.nodename: c.ha_policy for c in self.scenario.clusters
                  if c.ha_policy}
            extra = {}
            if ha:
                merged = dict(CONF.vmware_scheduler.cluster_failover_overrides
                              or {})
                merged.update(ha)
                extra[('vmware_scheduler', 'cluster_failover_overrides')] = \
                    merged
            # a dry run writes nothing to placement: no keeper starts when
            # nova's HostManager loads the filters here
            with _overrides(extra), data.use(self.data):
                for name, lookup in lookups.items():
                    setattr(objects.AggregateList, name, staticmethod(lookup))
                timeutils.set_time_override(self.now)
                random.setstate(self.random.getstate())
                try:
                    yield self
                finally:
                    self.random.setstate(random.getstate())
                    random.setstate(saved_random)
                    timeutils.clear_time_override()
                    for name, saved in saved_lookups.items():
                        setattr(objects.AggregateList, name, saved)

    def _label(self, host_state):
        return self.estate.label_of.get(id(host_state), host_state.nodename)

    def _sink(self, host_state, by, reason):
        if self._alternates:
            # nova filters again for the alternates once every instance
            # has its host: not a rejection of any instance
            return
        label = self._label(host_state)
        if label not in self._result.rejected:
            self._result.rejected[label] = Rejection(self._instance, by,
                                                     reason)

    def step(self, index, request):
        """Schedule ``request`` (call inside :meth:`active`)."""
        result = self._result = Result(index, request, self.topology)
        self._instance = 0
        with self._log_lines(result):
            if request.is_move:
                consumed = self._move(result, request)
            else:
                consumed = self._boot(result, request)
            if not result.ok:
                self._undo(consumed)
        self._result = None
        return result

    @contextlib.contextmanager
    def _log_lines(self, result):
        """``--verbose``: the package's log lines go under the request in
        the report, not to stderr."""
        if not self.verbose:
            yield
            return
        package = logging.getLogger('nova_vmw_sched')
        saved = package.level, package.propagate
        collect = _Collect()
        package.addHandler(collect)
        package.setLevel(logging.INFO)
        package.propagate = False
        try:
            yield
        finally:
            package.removeHandler(collect)
            package.level, package.propagate = saved
            result.log = collect.lines

    def _boot(self, result, request):
        estate = self.estate
        demand = placement_mod.demand_of(self.scenario.flavors[request.flavor])
        result.group = request.group
        names = request.instance_names
        uuids = [estate_mod.uuid_for('instance', n) for n in names]
        spec = estate.request_spec(request, uuids)
        consumed = self._schedule(result, spec, names, uuids, demand)
        if result.ok:
            for (host, _uuid, _saved), name in zip(consumed, names):
                estate.record(name, host, request.group, request.flavor,
                              request.availability_zone)
        return consumed

    def _move(self, result, request):
        """Move one existing instance, as nova-conductor asks for it.

        ``ignore_hosts`` is the source service host, except for a cold
        migration (the vmwareapi driver reports same-host cold migration)
        and a resize with ``[DEFAULT] allow_resize_to_same_host``. A move
        that finds a cluster is confirmed at once.
        """
        estate = self.estate
        name = request.instance
        uuid = estate.uuids.get(name)
        if uuid is None or uuid not in estate.location:
            result.instances.append(Placed(
                name, None, None, failure='instance %s does not exist (the '
                'request that would have created it failed)' % name))
            return []
        old_flavor = estate.flavor_of[uuid]
        result.group = estate.group_of.get(uuid)
        new_flavor = request.flavor or old_flavor
        source = estate.state_of(uuid)
        spec = estate.request_spec(request, [uuid], flavor_name=new_flavor,
                                   group_name=result.group)
        same_host = request.action == 'migrate' or (
            request.action == 'resize' and CONF.allow_resize_to_same_host)
        spec.ignore_hosts = [] if same_host else [source.host]
        demand = placement_mod.demand_of(self.scenario.flavors[new_flavor])
        consumed = self._schedule(result, spec, [name], [uuid], demand)
        if result.ok:
            estate.moved(uuid, source, consumed[0][0], old_flavor,
                         new_flavor)
        return consumed

    def _schedule(self, result, spec, names, uuids, demand):
        """Run nova's ``SchedulerManager._schedule`` for these instances.

        :returns: ``[(host state, uuid, saved fields)]`` of the instances
            claimed; ``result.ok`` when all were
        """
        estate = self.estate
        result.listed = self._listed(spec)
        result.zone = spec.availability_zone
        member_of, forbidden, failure = self._member_of(spec)
        if member_of is None:
            hosts, result.beyond_limit = [], 0
            refused = {h: failure for h in estate.hosts}
        else:
            hosts, refused, result.beyond_limit = \
                estate.placement.candidates(
                    estate.hosts, demand,
                    CONF.scheduler.max_placement_results, member_of,
                    forbidden)
        wanted = set().union(*member_of) if member_of else set()
        for host, reason in refused.items():
            # in the aggregate by its service host, but not mirrored
            if member_of and estate.first_node_only and reason == \
                    estate.placement.outside(host.uuid, member_of,
                                             forbidden) and any(
                        a.uuid in wanted for a in host.aggregates):
                reason += (' (stock nova: nova-api put only the first '
                           'compute node of service host %s into it)'
                           % host.host)
            self._sink(host, PLACEMENT, reason)
        self._left_out(result, spec, hosts, refused)
        alloc_reqs = {h.uuid: [estate.placement.allocation_request(h.uuid,
                                                                   demand)]
                      for h in hosts}
        summaries = {h.uuid: {} for h in hosts}
        scheduler = SimScheduler(self, names)
        try:
            scheduler._schedule(
                estate.context, spec, uuids, alloc_reqs, summaries,
                ALLOCATION_REQUEST_VERSION, return_alternates=True)
            result.ok = True
        except nova_exception.NoValidHost:
            if scheduler.sorted:
                failure = ('no candidate left whose placement claim '
                           'succeeds')
            else:
                failure = self._emptied(result, spec, hosts)
            result.instances.append(Placed(names[len(scheduler.consumed)],
                                           None, None, failure=failure))
        finally:
            self._alternates = False
            for host in hosts:
                host.allocation_candidates = []
        return scheduler.consumed

    def _left_out(self, result, spec, hosts, refused):
        """Note the clusters that no filter sees: beyond placement's limit,
        or of a service host nova ignores for this move."""
        ignored = set(getattr(spec, 'ignore_hosts', None) or ())
        returned = {id(h) for h in hosts}
        for host in self.estate.hosts:
            if id(host) not in returned:
                if host not in refused:
                    result.left_out[self._label(host)] = PLACEMENT, (
                        'beyond [scheduler] max_placement_results = %d: '
                        'the filters never saw it'
                        % CONF.scheduler.max_placement_results)
            elif host.host in ignored:
                result.left_out[self._label(host)] = why_mod.IGNORED, (
                    'nova leaves service host %s out of this %s (every '
                    'cluster of it)' % (host.host,
                                        _MOVES[result.request.action]))

    def _member_of(self, spec):
        """``([{aggregate uuid}], {aggregate uuid}, None)``: what the
        request must be ``member_of`` and what it must not be, as nova's
        request filters for tenants, zones and isolated aggregates decide
        (``[]``: anywhere); ``(None, None, why)`` when they leave no
        host."""
        context = self.estate.context
        try:
            request_filter.require_tenant_aggregate(context, spec)
        except nova_exception.RequestFilterFailed as e:
            return None, None, "%s (nova's require_tenant_aggregate)" % (
                e.kwargs.get('reason') or e)
        tenant = _destination(spec, 'aggregates')
        if spec.availability_zone:
            request_filter.map_az_to_placement_aggregate(context, spec)
            if len(_destination(spec, 'aggregates')) == len(tenant):
                return None, None, 'no service is in availability zone ' \
                    '%s' % spec.availability_zone
        request_filter.isolate_aggregates(context, spec)
        return ([set(a.split(',')) for a in _destination(spec, 'aggregates')],
                set(_destination(spec, 'forbidden_aggregates')), None)

    def _listed(self, spec):
        """The cluster labels the request's pin lists, in its order."""
        pin = vmw_request.cluster_pin(spec, CONF).pin
        if pin is None:
            return ()
        ranked = []
        for host_state in self.estate.hosts:
            rank = pin.rank(cluster_mod.cluster_of(host_state))
            if rank is not None:
                ranked.append((rank, self._label(host_state)))
        return tuple(label for _rank, label in sorted(ranked))

    def _placed(self, name, chosen, hosts):
        weighing = self.host_manager.weighing
        # None when nova weighed nothing (one candidate)
        objs = weighing.objs or ()
        position = {id(w.obj): i for i, w in enumerate(objs)}

        def candidate(host):
            i = position.get(id(host))
            if i is None:
                return Candidate(self._label(host), host.host, 0.0, ())
            return Candidate(self._label(host), host.host, objs[i].weight,
                             tuple((n, s) for n, s in weighing.shares(i) if s))

        top = [candidate(h) for h in hosts[:TOP]]
        if chosen not in hosts[:TOP]:
            top.insert(0, candidate(chosen))
        ties = tuple(self._label(w.obj) for w in objs
                     if w.weight == top[0].weight and w.obj is not chosen)
        if self.why is not None:
            rows = [(self._label(w.obj), w.weight, weighing.shares(i))
                    for i, w in enumerate(objs)] or [
                        (self._label(h), 0.0, ()) for h in hosts]
            entry = why_mod.weighed(name, self.why, self._label(chosen), rows)
            if entry is not None:
                self._result.why.append(entry)
        return Placed(name, self._label(chosen), chosen.host, tuple(top),
                      ties=ties)

    def _emptied(self, result, spec, candidates):
        why = 'no cluster is a placement candidate'
        if result.zone and not candidates and all(
                r.by == PLACEMENT and 'availability zone' in r.reason
                for r in result.rejected.values()):
            why = ('no cluster is a placement candidate in availability '
                   'zone %s' % result.zone)
            if result.zone not in self.estate.zones:
                why = ('no service is in availability zone %s (nova-api '
                       'refuses such a request with 400 Bad Request)'
                       % result.zone)
        ignored = set(getattr(spec, 'ignore_hosts', None) or ())
        if candidates and all(h.host in ignored for h in candidates):
            why = ('no cluster is a placement candidate but those of service '
                   'host %s, which nova leaves out of this %s (every cluster '
                   'of it)' % (', '.join(sorted(ignored)),
                               _MOVES[result.request.action]))
        for probe in self.host_manager.enabled_filters:
            if probe.last is not None and probe.last[0] and \
                    not probe.last[1]:
                why = 'no cluster left after %s' % probe.name
                break
        if result.beyond_limit:
            why += (' (%d more clusters fit but were beyond [scheduler] '
                    'max_placement_results: the filters never saw them)'
                    % result.beyond_limit)
        return why

    def _undo(self, consumed):
        """The HostStates as nova's database gives them after NoValidHost
        (``_cleanup_allocations`` gave the claims back already)."""
        for host, uuid, saved in reversed(consumed):
            for field, value in saved.items():
                setattr(host, field, value)
            host.instances.pop(uuid, None)


class _Collect(logging.Handler):
    """The package's log lines of one request, as ``LEVEL logger: text``."""

    def __init__(self):
        super().__init__(level=logging.INFO)
        self.lines = []

    def emit(self, record):
        try:
            self.lines.append('%s %s: %s' % (
                record.levelname, record.name, record.getMessage()))
        except Exception:  # a log line must never break a run
            pass


def _destination(spec, field):
    """The aggregates nova's request filters put into ``spec``'s
    destination (``aggregates``: ``member_of`` lists;
    ``forbidden_aggregates``: uuids)."""
    dest = spec.requested_destination if (
        'requested_destination' in spec) else None
    if dest is None or not dest.obj_attr_is_set(field):
        return []
    return list(getattr(dest, field) or [])


class SimScheduler(nova_manager.SchedulerManager):
    """nova's SchedulerManager with the estate for database and placement,
    its own placement client."""

    def __init__(self, simulation, names):
        # not SchedulerManager.__init__ (placement, RPC, database): _schedule
        # reads only self.host_manager and self.placement_client
        self.host_manager = simulation.host_manager
        self.simulation = simulation
        self.names = names
        #: [(host state, uuid, fields before consumption)]
        self.consumed = []
        #: what the last _get_sorted_hosts returned
        self.sorted = None
        #: {instance uuid: (rp uuid, resources)} claimed by this request
        self.claimed = {}

    @property
    def placement_client(self):  # nova's is a property: no setter
        return self

    def _get_sorted_hosts(self, spec_obj, host_states, index):
        sim = self.simulation
        sim._instance = index
        sim._alternates = len(self.consumed) == len(self.names)
        for probe in self.host_manager.enabled_filters:
            probe.last = None
        self.host_manager.weighing.clear()
        self.sorted = super()._get_sorted_hosts(spec_obj, host_states, index)
        return self.sorted

    def _consume_selected_host(self, selected_host, spec_obj,
                               instance_uuid=None):
        sim = self.simulation
        num = len(self.consumed)
        sim._result.instances.append(
            sim._placed(self.names[num], selected_host, self.sorted))
        self.consumed.append((selected_host, instance_uuid, {
            f: getattr(selected_host, f, None) for f in _CONSUMED}))
        nova_manager.SchedulerManager._consume_selected_host(
            selected_host, spec_obj, instance_uuid=instance_uuid)

    def claim_resources(self, context, consumer_uuid, alloc_request,
                        project_id, user_id, allocation_request_version=None,
                        consumer_generation=None):
        sim = self.simulation
        estate = sim.estate
        (rp_uuid, alloc), = alloc_request['allocations'].items()
        resources = alloc['resources']
        reason = estate.placement.claim(rp_uuid, resources)
        if reason is None:
            estate.claims[consumer_uuid] = rp_uuid
            self.claimed[consumer_uuid] = (rp_uuid, resources)
            return True
        sim._sink(estate.state_by_uuid[rp_uuid], PLACEMENT,
                  'claim failed: %s' % reason)
        return False

    def delete_allocation_for_instance(self, context, uuid, force=False):
        rp_uuid, resources = self.claimed.pop(uuid)
        self.simulation.estate.claims.pop(uuid, None)
        self.simulation.estate.placement.release(rp_uuid, resources)


def run_together(simulations, requests, progress=None):
    """Step every simulation through ``requests`` in turn.

    :returns: an iterator of ``[Result]``, one list per request, in the
        order of ``simulations``
    """
    total = len(requests)
    for index, request in enumerate(requests):
        results = []
        for sim in simulations:
            with sim.active():
                try:
                    results.append(sim.step(index, request))
                except Exception as e:
                    # e.g. a weigher that reads the database
                    raise SimulationError(
                        'request %d (%s), %s setup, %s topology: %s: %s '
                        '(filters and weighers that read nova\'s '
                        'database or call another service cannot run '
                        'in the simulator)'
                        % (index + 1, request.name, sim.setup.name,
                           sim.topology, type(e).__name__, e)) from e
        if progress is not None:
            progress(index + 1, total)
        yield results
