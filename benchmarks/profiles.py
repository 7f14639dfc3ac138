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

"""Per plugin: how to build a realistic request, and what to set up first.

The benchmark measures every class ``nova_vmw_sched.filters.all_filters()``
and ``nova_vmw_sched.weights.all_weighers()`` return. A plugin is measured
with the :class:`Profile` registered here under its class name; a plugin
without one gets a profile guessed from its name (a server group for
``*Affinity*``, hints for ``*SameHost*`` / ``*DifferentHost*``, the
capacity set-up for ``*Capacity*`` / ``*Headroom*``), else a plain flavor,
and the run prints a note saying so. To give a new plugin a realistic
request, add a class here::

    @register('MyNewFilter')
    class MyNewFilter(Profile):
        description = 'flavor with my:spec=1'
        def request(self, estate):
            return estate.request(estate.flavor({'my:spec': '1'}))

A profile's hooks, all given the :class:`benchmarks.estate.Estate`:

* :meth:`Profile.setup`: once per estate, before anything is measured
  (install a stand-in for the database, canned placement answers);
* :meth:`Profile.reset`: empty the process caches the plugin fills, before
  its first (cold) run, whose memory and calls are measured;
* :meth:`Profile.warm`: after the cold runs, before the timed ones: bring
  the caches to what a running scheduler has (through their seams);
* :meth:`Profile.request`: a fresh ``RequestSpec`` for every run, so that
  per-request work (one membership lookup) is seen on every run;
* :meth:`Profile.teardown`: undo ``setup``.

:attr:`Profile.tags` select the targets a plugin is held to: ``server-group``
(cheaper than nova's ServerGroupAntiAffinityFilter), ``membership`` (at
most one database query per request), ``capacity`` (no placement call on a
warm cache).
"""

import importlib

import nova.conf

from nova_vmw_sched import cluster
from nova_vmw_sched import request as vmw_request

from benchmarks import calls

CONF = nova.conf.CONF

#: {class name: Profile}, filled by :func:`register`
PROFILES = {}


def register(*class_names):
    """Class decorator: measure plugins of these class names with it."""
    def wrap(profile_cls):
        for name in class_names:
            PROFILES[name] = profile_cls()
        return profile_cls
    return wrap


def optional_module(name):
    """Import a module of ours that may not exist yet; None if absent."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def reset_process_caches():
    """Empty the process-wide caches of nova_vmw_sched (for a cold run)."""
    cluster._cache.clear()
    vmw_request._alias_cache.clear()
    membership = optional_module('nova_vmw_sched.membership')
    if membership is not None:
        views = getattr(membership, '_views', None)
        if views is not None:
            views.clear()
    for profile in set(PROFILES.values()):
        profile.reset()


class Profile:
    """A plain flavor (4 GB, 2 vCPUs), no group, no hints."""

    #: what the request carries, for the report
    description = 'plain flavor (4096 MB, 2 vCPU)'
    #: which targets apply (see the module docstring)
    tags = frozenset()

    def setup(self, estate):
        pass

    def reset(self):
        """Empty the process caches the plugin fills (for a cold run)."""

    def warm(self, estate):
        pass

    def request(self, estate):
        return estate.request()

    def teardown(self, estate):
        pass


register('TrivialFilter', 'TrivialWeigher', 'ComputeFilter',
         'RAMWeigher')(Profile)


@register('VMwareClusterDuplicateFilter')
class NoDuplicates(Profile):
    """A plain flavor; one compute node record per cluster (the usual)."""

    description = ('plain flavor (4096 MB, 2 vCPU); one node record per '
                   'cluster')


class _Installed:
    """A stand-in shared by every estate set up; installed while one is.

    Several estates can be set up at once (the growth is measured on the
    largest and the smallest estate in turns), so stand-ins answer for the
    union of the estates' data.
    """

    def __init__(self, install, uninstall):
        self._install = install
        self._uninstall = uninstall
        #: {id(estate): data}
        self.data = {}

    def add(self, estate, data):
        if not self.data:
            self._install()
        self.data[id(estate)] = data
        self.changed()

    def discard(self, estate):
        if self.data.pop(id(estate), None) is not None:
            self.changed()
            if not self.data:
                self._uninstall()

    def changed(self):
        """The union of the data changed (override)."""


class _Aliases(_Installed):
    def __init__(self):
        super().__init__(lambda: None, lambda: CONF.clear_override(
            'cluster_aliases', group='vmware_scheduler'))

    def changed(self):
        merged = {}
        for aliases in self.data.values():
            merged.update(aliases)
        if merged:
            CONF.set_override('cluster_aliases', merged,
                              group='vmware_scheduler')


_ALIASES = _Aliases()


@register('VMwareClusterFilter', 'VMwareClusterPreferenceWeigher')
class ClusterPin(Profile):
    """``vmware:cluster`` with an alias, a full node name and a bare moref.

    The bare moref matches that moref in every vCenter: about 1 in 64
    clusters pass.
    """

    description = ("flavor vmware:cluster='gold,<full node name>,"
                   "<bare moref>' (alias from [vmware_scheduler] "
                   "cluster_aliases)")

    def setup(self, estate):
        names = estate.nodenames
        alias = 'gold%d' % (id(estate) % 100000)
        _ALIASES.add(estate, {alias: names[len(names) // 3]})
        estate.profile_state[self] = '%s,%s,%s' % (
            alias, names[-1], names[len(names) // 2].split('.')[0])

    def request(self, estate):
        return estate.request(estate.flavor(
            {vmw_request.CLUSTER_EXTRA_SPEC: estate.profile_state[self]}))

    def teardown(self, estate):
        _ALIASES.discard(estate)


#: the interface of Data.members, where the package has it
_SettledSource = getattr(optional_module('nova_vmw_sched.data'),
                         'SettledSource', object)


def _process_cache():
    """The process's inventory cache (None before the package had one)."""
    data = optional_module('nova_vmw_sched.data')
    return data.get().inventory if data is not None else None


class EstateMembershipSource(_Installed, _SettledSource):
    """Stands in for ``data.NovaSource``: answers from the estates
    (settled instances only: nothing is in flight in a benchmark).

    Each call is one database query per cell in production; it is counted
    as a lookup (:meth:`benchmarks.calls.Counter.lookup`).
    """

    def __init__(self):
        super().__init__(self._swap_in, self._swap_out)
        self._nodes = {}
        self._saved = None

    def _swap_in(self):
        # the process's Data replaced whole: these members, its other parts
        data = optional_module('nova_vmw_sched.data')
        if data is not None:
            current = data.get()
            self._saved = data.replace(data.Data(
                members=self, lookup=current.lookup,
                inventory=current.inventory, keeper=current.keeper))

    def _swap_out(self):
        data = optional_module('nova_vmw_sched.data')
        if data is not None and data.get().members is self:
            data.replace(self._saved)

    def changed(self):
        self._nodes = {}
        for nodes in self.data.values():
            self._nodes.update(nodes)

    def nodes_of(self, context, uuids):
        calls.COUNTER.lookup('membership.source.nodes_of')
        nodes = self._nodes
        return {u: nodes[u] for u in uuids if u in nodes}


_MEMBERSHIP = EstateMembershipSource()


class _Membership(Profile):
    """Base: installs :class:`EstateMembershipSource` where it exists."""

    tags = frozenset({'membership'})

    def setup(self, estate):
        _MEMBERSHIP.add(estate, dict(estate.member_nodes))

    def teardown(self, estate):
        _MEMBERSHIP.discard(estate)


class _Group(_Membership):
    policy = None
    packed = False

    @property
    def description(self):
        return ('server group, policy %s, %d members %s' % (
            self.policy, 20,
            'on one cluster' if self.packed else 'on 20 clusters'))

    def request(self, estate):
        members = estate.affinity_members if self.packed else estate.members
        return estate.request(group=estate.group(self.policy, members))


@register('ServerGroupAntiAffinityFilter')  # ours and nova's stock one
class AntiAffinityGroup(_Group):
    policy = 'anti-affinity'
    tags = frozenset({'membership', 'server-group'})


@register('ServerGroupAffinityFilter')  # ours and nova's stock one
class AffinityGroup(_Group):
    policy = 'affinity'
    packed = True
    tags = frozenset({'membership', 'server-group'})


@register('VMwareClusterSoftAntiAffinityWeigher',
          'ServerGroupSoftAntiAffinityWeigher')
class SoftAntiAffinityGroup(_Group):
    policy = 'soft-anti-affinity'


@register('VMwareClusterSoftAffinityWeigher',
          'ServerGroupSoftAffinityWeigher')
class SoftAffinityGroup(_Group):
    policy = 'soft-affinity'
    packed = True


@register('DifferentHostFilter')
class DifferentHostHint(_Membership):
    description = 'hint different_host=<5 instances on 5 clusters>'

    def request(self, estate):
        return estate.request(hints={'different_host': estate.members[:5]})


@register('SameHostFilter')
class SameHostHint(_Membership):
    description = 'hint same_host=<2 instances on one cluster>'

    def request(self, estate):
        return estate.request(
            hints={'same_host': estate.affinity_members[:2]})


class FakePlacement(_Installed):
    """Answers the report client's GETs of inventories from the estates,
    and the usage call of the inventory cache
    (``GET /allocation_candidates?resources=MEMORY_MB:1``) with each
    compute node's ``vcpus_used`` and ``memory_mb_used``.

    A cluster of N ESXi hosts of 64 cores and 1 TB: ``VCPU`` total N*64,
    ``max_unit`` 64, ratio 4; ``MEMORY_MB`` total N*1 TB, ``max_unit``
    1 TB, ratio 1 (the vmwareapi driver's ``update_provider_tree``).
    """

    def __init__(self):
        super().__init__(self._install, self._uninstall)
        self._inventories = {}
        self._usages = {}

    def _install(self):
        calls.COUNTER.placement_responder = self

    def _uninstall(self):
        calls.COUNTER.placement_responder = None

    def changed(self):
        self._inventories = {}
        self._usages = {}
        for inventories, usages in self.data.values():
            self._inventories.update(inventories)
            self._usages.update(usages)

    @staticmethod
    def usages(estate):
        """``{rp uuid: (vCPUs used, MB used)}`` of the estate's nodes."""
        return {c.uuid: (c.vcpus_used, c.memory_mb_used)
                for c in estate.computes}

    @staticmethod
    def summaries(usages):
        """Placement's ``provider_summaries`` for ``usages``."""
        return {uuid: {'resources': {
            'VCPU': {'capacity': 0, 'used': v},
            'MEMORY_MB': {'capacity': 0, 'used': m}}}
            for uuid, (v, m) in usages.items()}

    @staticmethod
    def inventories(estate):
        found = {}
        for compute in estate.computes:
            found[compute.uuid] = {
                'VCPU': {'total': compute.vcpus, 'reserved': 0,
                         'min_unit': 1, 'max_unit': 64, 'step_size': 1,
                         'allocation_ratio': compute.cpu_allocation_ratio},
                'MEMORY_MB': {'total': compute.memory_mb, 'reserved': 0,
                              'min_unit': 1, 'max_unit': 1024 * 1024,
                              'step_size': 1, 'allocation_ratio': 1.0},
                'DISK_GB': {'total': compute.local_gb, 'reserved': 0,
                            'min_unit': 1, 'max_unit': compute.local_gb,
                            'step_size': 1, 'allocation_ratio': 1.0}}
        return found

    def __call__(self, method, url, *args, **kwargs):
        parts = str(url).split('?')[0].strip('/').split('/')
        if method == 'get' and parts[0] == 'allocation_candidates':
            return _Response(200, {
                'allocation_requests': [],
                'provider_summaries': self.summaries(self._usages)})
        if (method == 'get' and len(parts) == 3 and
                parts[0] == 'resource_providers' and
                parts[2] == 'inventories' and
                parts[1] in self._inventories):
            return _Response(200, {
                'resource_provider_generation': 1,
                'inventories': self._inventories[parts[1]]})
        return _Response(404, {'errors': [{'detail': 'not in the estate'}]})


_PLACEMENT = FakePlacement()


class _Response:
    def __init__(self, status_code, body):
        self.status_code = status_code
        self._body = body
        self.text = str(body)

    def json(self):
        return self._body


@register('VMwareClusterCapacityFilter', 'VMwareClusterHeadroomWeigher')
class Capacity(Profile):
    """A large flavor; placement answered by :class:`FakePlacement`.

    The cold run fills the inventory cache through the real path
    (``PlacementSource`` -> ``SchedulerReportClient.get``); :meth:`warm`
    fills it through its seam (``data.get().inventory.warm``), as the first
    request after a restart would.
    """

    description = ('flavor 262144 MB, 32 vCPU, 200 GB; placement answers '
                   'GET inventories and usage from the estate')
    tags = frozenset({'capacity'})
    #: the cache's source before :meth:`warm` made it an inline one; on
    #: the class: the filter and the weigher may have a profile each, and
    #: only the first warm() may save it
    _saved = {}

    def setup(self, estate):
        _PLACEMENT.add(estate, (FakePlacement.inventories(estate),
                                FakePlacement.usages(estate)))

    def _restore(self, cache):
        cache.stop()
        saved = Capacity._saved.pop('source', None)
        if saved is not None:
            cache.source = saved

    def reset(self):
        cache = _process_cache()
        if cache is not None:
            self._restore(cache)
            cache.clear()

    def warm(self, estate):
        inventory = optional_module('nova_vmw_sched.inventory')
        cache = _process_cache()
        if cache is not None:
            cache.warm(estate.context, [h.uuid for h in estate.hosts])
            cache.refresh_usage()
            # The timed rounds measure what the plugins cost per host: the
            # cache's threads would refresh entries in the background from
            # now on (at clusters / TTL per second; the placement latency
            # benchmark measures that) and take the GIL from them. The
            # values read stay; an inline source starts no thread.
            cache.stop()
            if 'source' not in Capacity._saved and hasattr(
                    inventory, 'StaticSource'):
                Capacity._saved['source'] = cache.source
                cache.source = inventory.StaticSource(
                    _PLACEMENT._inventories)

    def request(self, estate):
        return estate.request(estate.flavor(
            memory_mb=262144, vcpus=32, root_gb=200))

    def teardown(self, estate):
        _PLACEMENT.discard(estate)
        inventory = optional_module('nova_vmw_sched.inventory')
        if inventory is not None:
            # its refresher would go on reading a placement no longer here
            self._restore(inventory)


def guess(class_name):
    """A profile for a plugin nobody registered, by its name; or None."""
    for word, name in (('SoftAntiAffinity',
                        'ServerGroupSoftAntiAffinityWeigher'),
                       ('SoftAffinity', 'ServerGroupSoftAffinityWeigher'),
                       ('AntiAffinity', 'ServerGroupAntiAffinityFilter'),
                       ('Affinity', 'ServerGroupAffinityFilter'),
                       ('DifferentHost', 'DifferentHostFilter'),
                       ('SameHost', 'SameHostFilter'),
                       ('Capacity', 'VMwareClusterCapacityFilter'),
                       ('Headroom', 'VMwareClusterCapacityFilter')):
        if word in class_name:
            return PROFILES[name]
    return None


def profile_for(cls):
    """``(profile, note)``: note is None for a registered profile."""
    name = cls.__name__
    if name in PROFILES:
        return PROFILES[name], None
    guessed = guess(name)
    if guessed is not None:
        return guessed, ('no profile registered for %s; measured with the '
                         'one guessed from its name (%s)'
                         % (name, guessed.description))
    return Profile(), ('no profile registered for %s; measured with a plain '
                       'flavor (add one to benchmarks/profiles.py)' % name)
