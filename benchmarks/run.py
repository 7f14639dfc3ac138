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

"""Measure every nova_vmw_sched filter and weigher per host, at scale.

Usage::

    python -m benchmarks.run [--sizes 1000,10000,50000] [--quick]
                             [--json PATH] [--report PATH]
                             [--clock wall|cpu] [--no-simulate]

For each layout (``64-per-service``, ``1-per-service``) and size, builds an
estate of real nova HostStates (:mod:`benchmarks.estate`) and, in the same
process, measures each of our plugins (found through
``nova_vmw_sched.filters.all_filters()`` and
``nova_vmw_sched.weights.all_weighers()``), nova's ComputeFilter,
ServerGroupAntiAffinityFilter and RAMWeigher, and a trivial filter and
weigher (:mod:`benchmarks.reference`):

* time: a plugin's ``filter_all`` over the whole host list (for a weigher,
  ``weigh_objects`` plus ``weight_multiplier`` of every host: what nova's
  handlers call), ``time.perf_counter_ns`` (``--clock cpu``: the thread's
  CPU time), garbage collector off, after a warm-up run; the plugins take
  turns, round after round; the median of the rounds divided by the number
  of hosts is the cost per host, shown with its ratio to the trivial filter
  or weigher, paired round by round; the growth pairs the largest estate
  with the smallest the same way;
* memory: ``tracemalloc`` around a plugin's first (cold) run, with our
  process caches emptied first; what is still allocated afterwards, divided
  by the number of clusters;
* remote calls (:mod:`benchmarks.calls`): database and placement calls and
  stand-in lookups per request, and per host (calls over all hosts minus
  calls over two hosts, divided by the difference in hosts).

It then runs ``nova-vmw-sched simulate`` at scale where it exists
(:func:`simulate_at_scale`), checks the targets (:data:`TARGETS`), prints
the report and writes it as JSON (``--json``) and as text (``--report``).
The exit status is 0 even when a target is missed (the report says so);
it is 1 when a plugin could not be measured at all.
"""

import argparse
import collections
import datetime
import gc
import importlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import platform
import pkgutil
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings

from benchmarks import latency as latency_mod

FULL_SIZES = (1000, 10000, 50000)
QUICK_SIZES = (1000,)
#: wall: time.perf_counter_ns (the default); cpu: time.thread_time_ns, the
#: CPU time of this thread only, which leaves out the time other processes
#: held the CPU (for a busy machine)
CLOCKS = {'wall': time.perf_counter_ns, 'cpu': time.thread_time_ns}
CLOCK = 'wall'
FULL_REPEATS = 7
QUICK_REPEATS = 3
#: small estates: rounds * size >= repeats * ROUND_HOSTS, up to MAX_ROUNDS
ROUND_HOSTS = 10000
MAX_ROUNDS = 60
#: a 1-minute load average above this means others used the CPUs
BUSY_LOAD = 1.5

#: the issue's targets: (key, text)
TARGETS = [
    ('filter_floor', 'each of our filters within 1.5x the trivial filter '
                     'per host'),
    ('group_vs_stock', "our server-group filters cheaper than nova's "
                       'ServerGroupAntiAffinityFilter per host'),
    ('weigher_vs_ram', 'each of our weighers no costlier than nova '
                       'RAMWeigher per host'),
    ('growth', 'per-host cost at the largest size within 1.2x of that at '
               'the smallest'),
    ('memory', 'at most 256 bytes added per cluster'),
    ('calls_per_host', 'zero database or placement calls per host'),
    ('group_db', 'at most one database query per request for group '
                 'membership'),
    ('capacity_warm', 'zero placement calls on a warm capacity cache'),
]
# issue 12 item 7 (benchmarks/latency.py)
TARGETS += latency_mod.TARGETS
LATENCY_SIZES = (10000, 50000)
QUICK_LATENCY_SIZES = (1000,)
LATENCY_REQUESTS = 10
FILTER_FLOOR_RATIO = 1.5
GROWTH_LIMIT = 1.2
BYTES_PER_CLUSTER = 256

# Issue item 3: the simulate command at scale, run as a child process
# (``nova-vmw-sched simulate --generate CLUSTERS:REQUESTS``). Skipped, with
# the reason printed, where the command is absent.
SIMULATE_MODULE = 'nova_vmw_sched.cmd.main'
SIMULATE_SCALE = (10000, 1000)      # clusters, requests
QUICK_SIMULATE_SCALE = (200, 20)


def simulate_argv(clusters, requests):
    """The child's command line (after the Python interpreter)."""
    return ['-m', SIMULATE_MODULE, 'simulate',
            '--generate', '%d:%d' % (clusters, requests), '--no-progress']


def setup_nova():
    """nova's objects and config, no config file, no database."""
    from nova import objects
    import nova.conf

    from nova_vmw_sched import conf as vmw_conf

    objects.register_all()
    conf = nova.conf.CONF
    conf([], project='nova', default_config_files=[],
         default_config_dirs=[])
    # The estate's services reported when it was built; a long run must not
    # see them go down (ComputeFilter would then log per host).
    conf.set_override('service_down_time', 10 ** 7)
    # The documented setup (doc/source/configuration.rst): our classes win
    # the names they share with nova's; nova's soft weighers count nothing.
    conf.set_override('available_filters', [
        'nova.scheduler.filters.all_filters',
        'nova_vmw_sched.filters.all_filters'], group='filter_scheduler')
    conf.set_override('weight_classes', [
        'nova.scheduler.weights.all_weighers',
        'nova_vmw_sched.weights.all_weighers'], group='filter_scheduler')
    for option in ('soft_affinity_weight_multiplier',
                   'soft_anti_affinity_weight_multiplier'):
        conf.set_override(option, 0.0, group='filter_scheduler')
    vmw_conf.register_opts(conf)
    # no placement here: no keeper (nova's HostManager would start one)
    from nova_vmw_sched import data
    from nova_vmw_sched import keeper
    data.replace(data.Data(keeper=keeper.Off()))
    from benchmarks import calls
    calls.install()


# -- plugins ------------------------------------------------------------------


class Plugin:
    """One filter or weigher to measure."""

    def __init__(self, label, cls, kind, role, profile, note=None):
        self.label = label
        self.cls = cls
        self.kind = kind      # 'filter' or 'weigher'
        self.role = role      # 'ours', 'nova' or 'floor'
        self.profile = profile
        self.note = note
        self.obj = None
        self.error = None

    @property
    def path(self):
        return '%s.%s' % (self.cls.__module__, self.cls.__name__)

    def run(self, estate, spec, hosts=None, marks=None):
        """What nova's handler calls; returns a count for the report.

        For a weigher, the time between ``weigh_objects`` and the
        ``weight_multiplier`` calls is appended to ``marks``.
        """
        if self.kind == 'filter':
            passed = self.obj.filter_all(
                estate.hosts if hosts is None else hosts, spec)
            return 0 if passed is None else len(list(passed))
        weighed = estate.weighed() if hosts is None else hosts
        weights = self.obj.weigh_objects(weighed, spec)
        if marks is not None:
            marks.append(CLOCKS[CLOCK]())
        multiplier = self.obj.weight_multiplier
        for w in weighed:
            multiplier(w.obj)
        return sum(1 for w in weights if w)


def _discover(package_name, loader_name, base):
    """Our classes through the package's loader; per module if it fails."""
    package = importlib.import_module(package_name)
    try:
        return getattr(package, loader_name)(), []
    except Exception as e:
        errors = ['%s.%s() failed: %s: %s' % (
            package_name, loader_name, type(e).__name__, e)]
    classes = []
    for info in pkgutil.iter_modules(package.__path__):
        name = '%s.%s' % (package_name, info.name)
        try:
            module = importlib.import_module(name)
        except Exception as e:
            errors.append('%s: import failed: %s: %s'
                          % (name, type(e).__name__, e))
            continue
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, base) and
                    value.__module__ == name and
                    not value.__name__.startswith('_')):
                classes.append(value)
    return classes, errors


def discover():
    """(plugins, errors): ours, nova's references and the floors."""
    from nova.scheduler import filters
    from nova.scheduler import weights

    from benchmarks import profiles
    from benchmarks import reference

    plugins = []
    for label, cls, role in reference.FILTERS:
        plugins.append(Plugin(label, cls, 'filter', role,
                              profiles.profile_for(cls)[0]))
    for label, cls, role in reference.WEIGHERS:
        plugins.append(Plugin(label, cls, 'weigher', role,
                              profiles.profile_for(cls)[0]))
    ours_filters, errors = _discover('nova_vmw_sched.filters', 'all_filters',
                                     filters.BaseHostFilter)
    ours_weighers, errors2 = _discover('nova_vmw_sched.weights',
                                       'all_weighers',
                                       weights.BaseHostWeigher)
    errors += errors2
    for kind, classes in (('filter', ours_filters),
                          ('weigher', ours_weighers)):
        for cls in sorted(classes, key=lambda c: c.__name__):
            profile, note = profiles.profile_for(cls)
            plugins.append(Plugin(cls.__name__, cls, kind, 'ours', profile,
                                  note))
    for plugin in plugins:
        try:
            plugin.obj = plugin.cls()
        except Exception as e:
            plugin.error = 'could not be instantiated: %s: %s' % (
                type(e).__name__, e)
    return plugins, errors


# -- measuring ----------------------------------------------------------------


def _median(values):
    return statistics.median(values) if values else None


def _profiles(plugins):
    seen = []
    for plugin in plugins:
        if all(plugin.profile is not p for p in seen):
            seen.append(plugin.profile)
    return seen


def measure_estate(estate, plugins, repeats, log, companion=None):
    """Measure every plugin on one estate; {label: result}.

    With a ``companion`` (the smallest estate of the layout, kept alive),
    each timed run on ``estate`` is followed by one on the companion, and
    the per-host cost on ``estate`` over that on the companion, median over
    the rounds, is the plugin's ``paired_growth``.
    """
    from benchmarks import calls
    from benchmarks import profiles

    counter = calls.COUNTER
    hosts = len(estate.hosts)
    results = {}
    live = [p for p in plugins if p.error is None]
    for plugin in plugins:
        results[plugin.label] = {
            'class': plugin.path, 'kind': plugin.kind, 'role': plugin.role,
            'profile': plugin.profile.description,
            'tags': sorted(plugin.profile.tags),
            'errors': [plugin.error] if plugin.error else [],
            # remote calls that failed, even where the plugin caught them
            'call_failures': []}

    def failures(plugin, where):
        for error in counter.errors:
            text = '%s: %s' % (where, error)
            if text not in results[plugin.label]['call_failures']:
                results[plugin.label]['call_failures'].append(text)
                log('  %s: remote call failed: %s' % (plugin.label, text))
    estates = [estate] + ([companion] if companion is not None else [])
    for profile in _profiles(live):
        for each in estates:
            profile.setup(each)

    def attempt(plugin, spec, host_list=None):
        try:
            return plugin.run(estate, spec, host_list)
        except Exception as e:
            message = '%s: %s' % (type(e).__name__, e)
            if message not in results[plugin.label]['errors']:
                results[plugin.label]['errors'].append(message)
                log('  ERROR %s: %s' % (plugin.label, message))
            return None

    try:
        # 1. Cold runs, caches emptied: memory of ours, calls of all.
        for plugin in live:
            result = results[plugin.label]
            spec = plugin.profile.request(estate)
            profiles.reset_process_caches()
            gc.collect()
            counter.reset()
            measure_memory = plugin.role == 'ours'
            if measure_memory:
                tracemalloc.start()
                before = tracemalloc.get_traced_memory()[0]
            attempt(plugin, spec)
            del spec
            if measure_memory:
                gc.collect()
                after = tracemalloc.get_traced_memory()[0]
                tracemalloc.stop()
                result['bytes_per_cluster'] = round(
                    (after - before) / hosts, 1)
            result['cold_calls'] = counter.snapshot()
            failures(plugin, 'cold run')
        # 2. Warm-up: every cache as a running scheduler has it.
        for profile in _profiles(live):
            for each in estates:
                profile.warm(each)
        for plugin in live:
            attempt(plugin, plugin.profile.request(estate))
            if companion is not None:
                plugin.run(companion, plugin.profile.request(companion))
        # 3. Timed rounds, the plugins taking turns.
        samples = collections.defaultdict(dict)   # {label: {round: ns}}
        companion_samples = collections.defaultdict(dict)
        other_samples = collections.defaultdict(list)
        clock = CLOCKS[CLOCK]
        other = 'cpu' if CLOCK == 'wall' else 'wall'
        other_clock = CLOCKS[other]
        weigh_parts = collections.defaultdict(list)
        totals = collections.defaultdict(collections.Counter)
        outcome = {}
        for round_ in range(repeats):
            shift = round_ % len(live)
            for plugin in live[shift:] + live[:shift]:
                spec = plugin.profile.request(estate)
                marks = []
                counter.reset()
                gc.disable()
                other_start = other_clock()
                start = clock()
                try:
                    count = plugin.run(estate, spec, marks=marks)
                except Exception:
                    count = None
                end = clock()
                other_end = other_clock()
                gc.enable()
                if count is None:
                    attempt(plugin, spec)  # record the error
                    continue
                samples[plugin.label][round_] = end - start
                other_samples[plugin.label].append(other_end - other_start)
                if marks:
                    weigh_parts[plugin.label].append(marks[0] - start)
                totals[plugin.label].update(
                    db=counter.db, placement=counter.placement,
                    lookups=counter.lookups)
                for name, n in counter.db_names.items():
                    totals[plugin.label]['db ' + name] += n
                failures(plugin, 'timed run')
                outcome[plugin.label] = count
                del spec
                if companion is not None:
                    spec = plugin.profile.request(companion)
                    gc.disable()
                    start = clock()
                    plugin.run(companion, spec)
                    end = clock()
                    gc.enable()
                    companion_samples[plugin.label][round_] = end - start
                    del spec
        # 4. Calls per host: all hosts (above) against two hosts.
        for plugin in live:
            result = results[plugin.label]
            runs = len(samples[plugin.label])
            if not runs:
                continue
            ns = list(samples[plugin.label].values())
            result['us_per_host'] = round(_median(ns) / hosts / 1000, 4)
            result['us_per_host_min'] = round(min(ns) / hosts / 1000, 4)
            result['rounds_ms'] = [round(n / 1e6, 3) for n in ns]
            result['clock'] = CLOCK
            result['%s_us_per_host' % CLOCK] = result['us_per_host']
            result['%s_us_per_host' % other] = round(
                _median(other_samples[plugin.label]) / hosts / 1000, 4)
            if weigh_parts[plugin.label]:
                # the split: weigh_objects, then weight_multiplier per host
                weigh = _median(weigh_parts[plugin.label]) / hosts / 1000
                result['us_per_host_weigh_objects'] = round(weigh, 4)
                result['us_per_host_weight_multiplier'] = round(
                    result['us_per_host'] - weigh, 4)
            theirs = companion_samples[plugin.label]
            if theirs:
                base = len(companion.hosts)
                pairs = [(mine / hosts) / (theirs[r] / base)
                         for r, mine in samples[plugin.label].items()
                         if theirs.get(r)]
                result['paired_growth'] = round(_median(pairs), 3)
                result['paired_growth_base'] = base
            key = 'passed' if plugin.kind == 'filter' else 'nonzero_weights'
            result[key] = outcome[plugin.label]
            per_request = {k: totals[plugin.label][k] / runs
                           for k in ('db', 'placement', 'lookups')}
            two = estate.hosts[:2] if plugin.kind == 'filter' else \
                estate.weighed()[:2]
            counter.reset()
            attempt(plugin, plugin.profile.request(estate), two)
            small = counter.snapshot()
            failures(plugin, 'run over 2 hosts')
            spread = max(1, hosts - 2)
            result['calls'] = {
                'db_per_request': per_request['db'],
                'placement_per_request': per_request['placement'],
                'lookups_per_request': per_request['lookups'],
                'db_per_host': round(
                    (per_request['db'] - small['db']) / spread, 6),
                'placement_per_host': round(
                    (per_request['placement'] - small['placement']) / spread,
                    6),
                'lookups_per_host': round(
                    (per_request['lookups'] - small['lookups']) / spread, 6),
                'db_names': {k[3:]: v / runs
                             for k, v in totals[plugin.label].items()
                             if k.startswith('db ')},
                'two_hosts': small,
            }
    finally:
        for profile in _profiles(live):
            for each in estates:
                try:
                    profile.teardown(each)
                except Exception as e:
                    log('  teardown of profile %r failed: %s'
                        % (profile.description, e))
        profiles.reset_process_caches()

    # Ratios are paired: each round's time over the reference's time in
    # the same round, then the median; a burst of load elsewhere on the
    # machine slows both sides of a pair.
    from benchmarks import reference
    refs = {'filter': [label for label, _, _ in reference.FILTERS],
            'weigher': [label for label, _, _ in reference.WEIGHERS]}
    floors = {'filter': reference.FLOOR_FILTER,
              'weigher': reference.FLOOR_WEIGHER}
    for plugin in plugins:
        result = results[plugin.label]
        mine = samples.get(plugin.label)
        if not mine:
            continue
        result['paired_ratios'] = {}
        for ref in refs[plugin.kind]:
            theirs = samples.get(ref) or {}
            pairs = [mine[r] / theirs[r] for r in mine
                     if theirs.get(r)]
            if pairs:
                result['paired_ratios'][ref] = round(_median(pairs), 3)
        if floors[plugin.kind] in result['paired_ratios']:
            result['ratio_to_floor'] = \
                result['paired_ratios'][floors[plugin.kind]]
    return results


def estate_bytes_per_cluster(layout, size, instances_per_cluster):
    """Bytes a cluster's HostState, ComputeNode and instances take."""
    from benchmarks import estate as estate_mod

    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    built = estate_mod.build(layout, size,
                             instances_per_cluster=instances_per_cluster)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del built
    return round((after - before) / size)


# -- targets ------------------------------------------------------------------


def check_targets(runs, layouts, sizes):
    """[{key, text, subject, met, value, limit, where}] over all estates."""
    from benchmarks import reference

    checks = []

    def add(key, subject, met, value, limit, where, detail=''):
        checks.append({'target': key, 'subject': subject, 'met': met,
                       'value': value, 'limit': limit, 'where': where,
                       'detail': detail})

    for layout in layouts:
        for size in sizes:
            results = runs[layout][str(size)]
            where = '%s, %d clusters' % (layout, size)
            stock_group = results[reference.STOCK_GROUP_FILTER].get(
                'us_per_host')
            ram = results[reference.STOCK_WEIGHER].get('us_per_host')
            for label, r in results.items():
                if r['role'] != 'ours':
                    continue
                cost = r.get('us_per_host')
                if r['errors'] and cost is None:
                    add('filter_floor' if r['kind'] == 'filter'
                        else 'weigher_vs_ram', label, False, None, None,
                        where, 'not measured: %s' % r['errors'][0])
                    continue
                paired = r.get('paired_ratios', {})
                if r['kind'] == 'filter':
                    ratio = r.get('ratio_to_floor')
                    add('filter_floor', label,
                        ratio is not None and ratio <= FILTER_FLOOR_RATIO,
                        ratio, FILTER_FLOOR_RATIO, where,
                        '%.3f us/host' % cost)
                    ratio = paired.get(reference.STOCK_GROUP_FILTER)
                    if 'server-group' in r['tags'] and ratio is not None:
                        add('group_vs_stock', label, ratio < 1.0, ratio,
                            1.0, where, '%.3f vs %.3f us/host'
                            % (cost, stock_group))
                else:
                    ratio = paired.get(reference.STOCK_WEIGHER)
                    if ratio is not None:
                        add('weigher_vs_ram', label, ratio <= 1.0, ratio,
                            1.0, where, '%.3f vs %.3f us/host'
                            % (cost, ram))
                if 'bytes_per_cluster' in r:
                    add('memory', label,
                        r['bytes_per_cluster'] <= BYTES_PER_CLUSTER,
                        r['bytes_per_cluster'], BYTES_PER_CLUSTER, where)
                c = r.get('calls')
                if c is not None:
                    worst = max(c['db_per_host'], c['placement_per_host'],
                                c['lookups_per_host'])
                    add('calls_per_host', label, worst <= 0, worst, 0,
                        where, 'db %s, placement %s, lookups %s per host'
                        % (c['db_per_host'], c['placement_per_host'],
                           c['lookups_per_host']))
                    if 'membership' in r['tags']:
                        queries = c['db_per_request'] + \
                            c['lookups_per_request']
                        add('group_db', label, queries <= 1, queries, 1,
                            where, 'db %s + membership lookups %s per '
                            'request' % (c['db_per_request'],
                                         c['lookups_per_request']))
                    if 'capacity' in r['tags']:
                        add('capacity_warm', label,
                            c['placement_per_request'] == 0,
                            c['placement_per_request'], 0, where)
                if r['errors']:
                    checks.append({
                        'target': 'errors', 'subject': label, 'met': False,
                        'value': len(r['errors']), 'limit': 0,
                        'where': where, 'detail': r['errors'][0]})
    if len(sizes) > 1:
        # Paired: the per-host cost on the largest estate over that on the
        # smallest, measured in turns in the same rounds (load elsewhere on
        # the machine slows both); the unpaired ratio is in the detail.
        small, large = str(min(sizes)), str(max(sizes))
        for layout in layouts:
            for label, r in runs[layout][large].items():
                if r['role'] != 'ours':
                    continue
                a = runs[layout][small][label].get('us_per_host')
                b = r.get('us_per_host')
                paired = r.get('paired_growth')
                if paired:
                    add('growth', label, paired <= GROWTH_LIMIT, paired,
                        GROWTH_LIMIT,
                        '%s, %s -> %s clusters' % (layout, small, large),
                        'unpaired %.3f' % (b / a) if a and b else '')
    return checks


def growth_table(runs, layouts, sizes, key='us_per_host'):
    """{layout: {label: value at the largest size / at the smallest}}."""
    if len(sizes) < 2:
        return {}
    small, large = str(min(sizes)), str(max(sizes))
    table = {}
    for layout in layouts:
        table[layout] = {}
        for label, r in runs[layout][large].items():
            if key == 'paired_growth':
                if r.get(key):
                    table[layout][label] = r[key]
                continue
            a = runs[layout][small][label].get(key)
            b = r.get(key)
            if a and b:
                table[layout][label] = round(b / a, 3)
    return table


# -- simulate hook ------------------------------------------------------------


def simulate_at_scale(log, clusters, requests):
    """The simulate command at 10,000 clusters and 1,000 requests.

    Runs ``nova-vmw-sched simulate --generate`` as a child process and
    reports its wall time and peak resident memory. Skipped, with the
    reason printed and recorded, where the command does not exist.
    """
    reason = None
    try:
        if importlib.util.find_spec('nova_vmw_sched.cmd') is None:
            reason = 'nova_vmw_sched.cmd does not exist'
        elif importlib.util.find_spec(SIMULATE_MODULE) is None:
            reason = '%s does not exist' % SIMULATE_MODULE
    except ImportError as e:
        reason = 'cannot import the simulate command: %s' % e
    if reason:
        log('SKIPPED simulate at scale (%d clusters, %d requests): %s'
            % (clusters, requests, reason))
        return {'skipped': True, 'reason': reason, 'clusters': clusters,
                'requests': requests}
    command = [sys.executable] + simulate_argv(clusters, requests)
    log('simulate at scale: %s' % ' '.join(command))
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    with tempfile.TemporaryFile() as output:
        proc = subprocess.run(command, stdout=output,
                              stderr=subprocess.PIPE, timeout=3600)
        seconds = time.perf_counter() - start
        size = output.tell()
        output.seek(max(0, size - 1000))
        tail = output.read().decode('utf-8', 'replace')
    # the largest child so far; earlier children (git) are far smaller
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = {'skipped': False,
              'command': ['nova-vmw-sched'] + command[3:],
              'clusters': clusters, 'requests': requests,
              'returncode': proc.returncode, 'seconds': round(seconds, 2),
              'peak_rss_mb': round(peak_kb / 1024, 1),
              'peak_rss_is_this_child': peak_kb > before,
              'output_bytes': size, 'output_tail': tail,
              'stderr_tail': proc.stderr.decode('utf-8', 'replace')[-2000:]}
    log('simulate: exit %d, %.1f s, peak RSS %.1f MB'
        % (proc.returncode, seconds, peak_kb / 1024))
    return result


# -- report -------------------------------------------------------------------


def machine_info():
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    memory_gb = None
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemTotal:'):
                    memory_gb = round(int(line.split()[1]) / 1024 ** 2, 1)
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    info = {'cpu': cpu, 'cpus': os.cpu_count(), 'cpus_usable': usable,
            'memory_gb': memory_gb, 'os': platform.platform(),
            'python': platform.python_version(),
            'nova': importlib.metadata.version('nova')}
    try:
        top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        commit = subprocess.run(
            ['git', '-C', top, 'rev-parse', '--short', 'HEAD'],
            capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(
            ['git', '-C', top, 'status', '--porcelain', '--',
             'nova_vmw_sched'],
            capture_output=True, text=True, timeout=10).stdout.strip()
        info['commit'] = commit + (' (nova_vmw_sched modified)'
                                   if dirty else '') if commit else None
    except (OSError, subprocess.SubprocessError):
        info['commit'] = None
    return info


def _fmt(value, spec='%.2f'):
    return '-' if value is None else spec % value


def render(report):
    """The report as text (what is printed and written by --report)."""
    out = []
    m = report['machine']
    s = report['settings']
    out.append('nova-vmw-sched scheduler benchmark, %s, %s s'
               % (report['date'], report.get('seconds')))
    out.append('machine: %s, %s CPUs (%s usable), %s GB RAM; %s; Python %s; '
               'nova %s; commit %s' % (
                   m['cpu'], m['cpus'], m['cpus_usable'], m['memory_gb'],
                   m['os'], m['python'], m['nova'], m['commit']))
    out.append('estate: %d clusters per vCenter, %d instances per cluster, '
               'server groups of %d members; median of at least %d rounds%s; '
               'clock: %s' % (
                   s['clusters_per_vcenter'], s['instances_per_cluster'],
                   s['group_members'], s['repeats'],
                   ' (--quick)' if s['quick'] else '',
                   'time.perf_counter_ns (wall)' if s['clock'] == 'wall'
                   else 'time.thread_time_ns (CPU time of the thread)'))
    for layout, bytes_ in report.get('estate_bytes_per_cluster',
                                     {}).items():
        out.append('  a cluster of the %s layout holds %d bytes in the '
                   'scheduler (HostState, ComputeNode, its share of Service '
                   'and instances)' % (layout, bytes_))
    sizes = [str(x) for x in s['sizes']]
    for layout in s['layouts']:
        out.append('')
        estates = report['estates'][layout]
        out.append('layout %s: %s' % (layout, '; '.join(
            '%s clusters (%d services) built in %.0f s, %d rounds, load '
            '%.1f-%.1f' % (size, estates[size]['services'],
                           estates[size]['build_seconds'],
                           estates[size]['rounds'],
                           estates[size]['load_before'],
                           estates[size]['load_after'])
            for size in sizes)))
        head = '%-37s' % 'us per host (x floor)'
        for size in sizes:
            head += ' %14s' % size
        head += ' %6s %6s %6s %6s %6s %6s %6s' % (
            'growth', 'paired', 'B/clu', 'db/rq', 'plc/rq', 'cold',
            'c/host')
        out.append(head)
        rows = report['runs'][layout]
        large = sizes[-1]
        for label in rows[sizes[0]]:
            line = '%-37s' % (label[:37])
            for size in sizes:
                r = rows[size][label]
                if r.get('us_per_host') is None:
                    line += ' %14s' % 'ERROR'
                else:
                    line += ' %14s' % ('%.2f (%sx)' % (
                        r['us_per_host'], _fmt(r.get('ratio_to_floor'))))
            line += ' %6s %6s' % (
                _fmt(report['growth'].get(layout, {}).get(label)),
                _fmt(report['growth_paired'].get(layout, {}).get(label)))
            bpc = [rows[size][label].get('bytes_per_cluster')
                   for size in sizes]
            bpc = [b for b in bpc if b is not None]
            line += ' %6s' % (_fmt(max(bpc), '%.0f') if bpc else '')
            r = rows[large][label]
            c = r.get('calls')
            if c:
                cold = r.get('cold_calls', {})
                per_host = max(c['db_per_host'], c['placement_per_host'],
                               c['lookups_per_host'])
                line += ' %6s %6s %6s %6s' % (
                    _fmt(c['db_per_request'] + c['lookups_per_request'],
                         '%g'),
                    _fmt(c['placement_per_request'], '%g'),
                    _fmt(cold.get('placement'), '%g'),
                    _fmt(per_host, '%g'))
            out.append(line.rstrip())
        for label in rows[sizes[0]]:
            errors = {e for size in sizes
                      for e in rows[size][label]['errors']}
            for error in sorted(errors):
                out.append('  ! %s raised: %s' % (label, error))
            failed = {e for size in sizes
                      for e in rows[size][label]['call_failures']}
            for error in sorted(failed):
                out.append('  ! %s, remote call failed (no database or '
                           'placement here): %s' % (label, error))
        split = [(label, r) for label, r in rows[large].items()
                 if 'us_per_host_weigh_objects' in r]
        if split:
            out.append('  weighers at %s clusters, us per host: '
                       'weigh_objects + weight_multiplier' % large)
            for label, r in split:
                out.append('    %-35s %6.2f + %6.2f' % (
                    label[:35], r['us_per_host_weigh_objects'],
                    r['us_per_host_weight_multiplier']))
    out.append('')
    out.append('')
    out.extend([
        'x floor: median over the rounds of the time over the trivial '
        'filter\'s',
        '  (weigher\'s) in the same round',
        'growth:  us per host at the largest size / at the smallest; '
        'paired: the same,',
        '  the two estates measured in turns within each round (median '
        'over the rounds)',
        'B/clu:   bytes still allocated per cluster after the cold run '
        '(ours only)',
        'db/rq:   database queries + membership lookups per request; '
        'plc/rq: placement',
        '  calls per request, warm caches; cold: placement calls of the '
        'cold run;',
        '  c/host: remote calls per host; calls at %s clusters' % sizes[-1],
    ])
    out.extend(render_latency(report.get('latency') or {}))
    out.append('')
    out.append('targets')
    by_target = collections.OrderedDict()
    for check in report['targets']:
        by_target.setdefault((check['target'], check['subject']),
                             []).append(check)
    for key, text in list(TARGETS) + [
            ('errors', 'no plugin raised an exception')]:
        subjects = [(k, v) for k, v in by_target.items() if k[0] == key]
        if not subjects:
            out.append('  [n/a]    %s: nothing to check' % text)
            continue
        out.append('  %s' % text)
        for (_, subject), checks in subjects:
            missed = [c for c in checks if not c['met']]
            worst = missed if missed else [max(
                checks, key=lambda c: (c['value'] or 0))]
            out.append('    [%s] %-36s %s' % (
                'MISSED' if missed else 'met', subject, '; '.join(
                    '%s%s%s' % (c['where'],
                                ': %s' % c['value']
                                if c['value'] is not None else '',
                                ' (%s)' % c['detail'] if c['detail']
                                else '')
                    for c in worst[:3])))
    out.append('')
    sim = report['simulate']
    if sim.get('skipped'):
        out.append('simulate at scale (%s clusters, %s requests): SKIPPED '
                   '(%s)' % (sim.get('clusters'), sim.get('requests'),
                             sim['reason']))
    else:
        out.append('simulate at scale: %s' % ' '.join(sim['command']))
        out.append('  %d clusters, %d requests: exit %d, %.1f s wall, peak '
                   'RSS %.1f MB, %d bytes of output' % (
                       sim['clusters'], sim['requests'], sim['returncode'],
                       sim['seconds'], sim['peak_rss_mb'],
                       sim['output_bytes']))
        if sim['returncode']:
            out.append('  ! it failed: %s' % (sim['stderr_tail'][-500:]
                                              .strip() or '(no stderr)'))
    for note in report['notes']:
        out.append('note: %s' % note)
    return '\n'.join(out) + '\n'


def render_latency(results):
    """The lines of the 2 ms placement benchmark."""
    if not results:
        return []
    out = ['', 'placement at %.0f ms per call (capacity filter + headroom '
           'weigher through nova\'s handlers)' % (
               latency_mod.LATENCY * 1000)]
    out.append('  %8s %9s %9s %8s %7s %8s %8s %8s %8s %9s %6s %6s' % (
        'clusters', 'inline ms', 'steady ms', 'added ms', 'cold s',
        'expiry s', 'reread s', 'calls/mn', 'limit', 'refresh+', 'usage',
        'B/cl'))
    for size, r in sorted(results.items(), key=lambda kv: int(kv[0])):
        b, s, e, f = r['base'], r['steady'], r['expiry'], r['refresh']
        out.append('  %8s %9.2f %9.2f %8.2f %7.3f %8.3f %8.1f %8d %8d '
                   '%9.2f %6d %6.0f'
                   % (size, b['wall_ms'], s['wall_ms'], s['added_ms'],
                      r['cold']['seconds'], e['worst_wall_seconds'],
                      e['window_seconds'], f['calls_per_minute'],
                      f['limit_per_minute'], f['added_ms'],
                      f['usage_calls'], r['bytes_per_cluster']))
    out.append('  production defaults (TTL %s s, %s workers, usage every %s '
               's); medians of %s requests; added: median wait (wall - CPU) '
               'beyond the inline one, no read due; cold: first request on '
               'an empty cache (first-read wait %s s); expiry: the worst '
               'request while every entry is re-read at once (reread: how '
               'long that took); calls per minute and refresh+ (added wait '
               'ms): requests back to back while entries are refreshed at '
               'their even rate'
               % (r['ttl'], r['workers'], r['usage_interval'], r['requests'],
                  r['first_read_wait']))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m benchmarks.run',
        description='Cost per host of every nova_vmw_sched filter and '
                    "weigher against nova's own and a trivial floor.")
    parser.add_argument('--sizes', help='comma-separated cluster counts '
                        '(default 1000,10000,50000; --quick: 1000)')
    parser.add_argument('--layouts', default=','.join(
        ['64-per-service', '1-per-service']),
        help='comma-separated layouts (default: both)')
    parser.add_argument('--repeats', type=int,
                        help='timed rounds per estate (default %d; --quick '
                             '%d)' % (FULL_REPEATS, QUICK_REPEATS))
    parser.add_argument('--quick', action='store_true',
                        help='one small size, few rounds (under a minute)')
    parser.add_argument('--instances-per-cluster', type=int, default=None)
    parser.add_argument('--clock', choices=sorted(CLOCKS), default='wall',
                        help='wall: time.perf_counter_ns (default); cpu: '
                             'time.thread_time_ns, which leaves out the time '
                             'other processes held the CPU (busy machine)')
    parser.add_argument('--json', help='write the report as JSON here')
    parser.add_argument('--report', help='write the text report here')
    parser.add_argument('--latency-sizes',
                        help='comma-separated cluster counts of the 2 ms '
                             'placement benchmark (default 10000,50000; '
                             '--quick: 1000; empty: skip it)')
    parser.add_argument('--no-simulate', action='store_true',
                        help='skip nova-vmw-sched simulate at scale (%d '
                             'clusters, %d requests; --quick: %d, %d)'
                        % (SIMULATE_SCALE + QUICK_SIMULATE_SCALE))
    args = parser.parse_args(argv)
    global CLOCK
    CLOCK = args.clock
    # futurist imports eventlet, which announces its deprecation: noise here
    warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')

    from benchmarks import estate as estate_mod

    sizes = ([int(x) for x in args.sizes.split(',') if x.strip()]
             if args.sizes else list(QUICK_SIZES if args.quick
                                     else FULL_SIZES))
    sizes = sorted(set(sizes))
    latency_sizes = sorted(set(
        [int(x) for x in args.latency_sizes.split(',') if x.strip()]
        if args.latency_sizes is not None else
        (QUICK_LATENCY_SIZES if args.quick else LATENCY_SIZES)))
    if min(sizes) < 2:
        parser.error('sizes must be at least 2')
    layouts = [x.strip() for x in args.layouts.split(',') if x.strip()]
    for layout in layouts:
        if layout not in estate_mod.LAYOUTS:
            parser.error('unknown layout %r (known: %s)' % (
                layout, ', '.join(estate_mod.LAYOUTS)))
    repeats = args.repeats or (QUICK_REPEATS if args.quick
                               else FULL_REPEATS)
    ipc = (args.instances_per_cluster
           if args.instances_per_cluster is not None
           else estate_mod.DEFAULT_INSTANCES_PER_CLUSTER)

    def log(message):
        print(message, file=sys.stderr, flush=True)

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format='%(levelname)s %(name)s: %(message)s')
    setup_nova()
    plugins, errors = discover()
    notes = list(errors)
    for plugin in plugins:
        if plugin.note:
            notes.append(plugin.note)
        if plugin.error:
            notes.append('%s %s' % (plugin.label, plugin.error))
    for note in notes:
        log('note: %s' % note)
    log('measuring: %s' % ', '.join(
        '%s (%s)' % (p.label, p.role) for p in plugins))
    started = time.perf_counter()
    report = {
        'schema': 1,
        'date': datetime.datetime.now(datetime.timezone.utc).strftime(
            '%Y-%m-%d %H:%M UTC'),
        'machine': machine_info(),
        'settings': {'sizes': sizes, 'layouts': layouts, 'repeats': repeats,
                     'clock': CLOCK,
                     'quick': args.quick,
                     'clusters_per_vcenter': estate_mod.CLUSTERS_PER_VCENTER,
                     'instances_per_cluster': ipc,
                     'group_members': estate_mod.DEFAULT_GROUP_MEMBERS},
        'plugins': {p.label: {'class': p.path, 'kind': p.kind,
                              'role': p.role,
                              'profile': p.profile.description}
                    for p in plugins},
        'estate_bytes_per_cluster': {},
        'estates': {}, 'runs': {}, 'notes': notes, 'latency': {},
    }
    report['settings']['latency_sizes'] = latency_sizes

    def measure_latency(estate):
        log('%s, %d clusters: 2 ms placement' % (
            estate.layout, estate.size))
        t0 = time.perf_counter()
        r = report['latency'][str(estate.size)] = latency_mod.measure(
            estate, log, requests=LATENCY_REQUESTS, quick=args.quick)
        r['layout'] = estate.layout
        r['seconds'] = round(time.perf_counter() - t0, 1)

    sample = min(sizes[0], 1000)
    for layout in layouts:
        report['estate_bytes_per_cluster'][layout] = \
            estate_bytes_per_cluster(layout, sample, ipc)
    for layout in layouts:
        report['runs'][layout] = {}
        report['estates'][layout] = {}
        companion = None
        for size in sizes:
            log('%s, %d clusters: building' % (layout, size))
            t0 = time.perf_counter()
            estate = estate_mod.build(layout, size,
                                      instances_per_cluster=ipc)
            meta = report['estates'][layout][str(size)] = {
                'build_seconds': round(time.perf_counter() - t0, 1),
                'services': len(estate.services),
                'vcenters': len(estate.vcenters)}
            gc.collect()
            gc.freeze()  # the estate lives on: keep it out of collections
            # Small estates get more rounds: a round of 1,000 hosts takes
            # milliseconds, and one time slice lost to another process
            # weighs more there.
            rounds = max(repeats, min(MAX_ROUNDS,
                                      repeats * ROUND_HOSTS // size))
            meta['rounds'] = rounds
            meta['load_before'] = round(os.getloadavg()[0], 2)
            log('%s, %d clusters: measuring (%d rounds, load average %.2f)'
                % (layout, size, rounds, meta['load_before']))
            t0 = time.perf_counter()
            try:
                report['runs'][layout][str(size)] = measure_estate(
                    estate, plugins, rounds, log, companion)
                if layout == layouts[0] and size in latency_sizes:
                    measure_latency(estate)
            finally:
                gc.unfreeze()
                if companion is None and len(sizes) > 1:
                    # the smallest estate stays, to pair the growth with
                    companion = estate
                del estate
                gc.collect()
            meta['measure_seconds'] = round(time.perf_counter() - t0, 1)
            meta['load_after'] = round(os.getloadavg()[0], 2)
        del companion
        gc.collect()
    for size in latency_sizes:
        if str(size) not in report['latency']:
            log('%s, %d clusters: building' % (layouts[0], size))
            estate = estate_mod.build(layouts[0], size,
                                      instances_per_cluster=ipc)
            measure_latency(estate)
            del estate
            gc.collect()
    loads = [m[k] for e in report['estates'].values() for m in e.values()
             for k in ('load_before', 'load_after')]
    if max(loads) > BUSY_LOAD:
        notes.append(
            'the 1-minute load average reached %.2f on %s usable CPUs '
            '(the benchmark itself counts 1): other processes competed for '
            'the CPUs%s. Rerun on a quiet machine for figures to publish.'
            % (max(loads), report['machine']['cpus_usable'],
               ': the CPU-time figures leave out the time they held the CPU, '
               'not their use of its caches' if CLOCK == 'cpu' else
               ' and the timings are disturbed; paired ratios suffer least, '
               'and --clock cpu leaves out the time others held the CPU'))
        log('note: %s' % notes[-1])
    report['growth'] = growth_table(report['runs'], layouts, sizes)
    report['growth_paired'] = growth_table(report['runs'], layouts, sizes,
                                           'paired_growth')
    # the same, with each size's cost taken relative to its trivial floor:
    # what is left of the growth when the machine's own (memory, load)
    # is taken out
    report['growth_vs_floor'] = growth_table(report['runs'], layouts, sizes,
                                             'ratio_to_floor')
    report['targets'] = check_targets(report['runs'], layouts, sizes)
    report['targets'] += latency_mod.check(report['latency'])
    clusters, requests = (QUICK_SIMULATE_SCALE if args.quick
                          else SIMULATE_SCALE)
    report['simulate'] = ({'skipped': True, 'reason': '--no-simulate'}
                          if args.no_simulate else
                          simulate_at_scale(log, clusters, requests))
    report['seconds'] = round(time.perf_counter() - started)
    text = render(report)
    sys.stdout.write(text)
    for path, content in ((args.json, json.dumps(report, indent=1,
                                                 sort_keys=False) + '\n'),
                          (args.report, text)):
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)),
                        exist_ok=True)
            with open(path, 'w') as f:
                f.write(content)
            log('wrote %s' % path)
    unmeasured = [label for label in report['plugins']
                  if all(report['runs'][layout][str(size)][label]
                         .get('us_per_host') is None
                         for layout in layouts for size in sizes)]
    if unmeasured:
        log('could not measure: %s' % ', '.join(unmeasured))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
