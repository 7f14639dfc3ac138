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

"""The one benchmark runner (doc/source/benchmarks.rst, "Running it"),
and the headline it runs by default: :func:`schedule_cost`."""

import argparse
import datetime
import functools
import gc
import importlib.metadata
import json
import logging
import os
import pathlib
import platform
import resource
import statistics
import subprocess
import sys
import time
from unittest import mock

from nova import objects
import nova.conf

import benchmarks
from benchmarks import keeper as keeper_mod
from benchmarks import latency as latency_mod
from benchmarks import snapshot as snapshot_mod
from nova_vmw_sched import cluster
from nova_vmw_sched import conf as vmw_conf
from nova_vmw_sched import data
from nova_vmw_sched import keeper
from nova_vmw_sched import request as vmw_request
from nova_vmw_sched.simulate import engine
from nova_vmw_sched.simulate import generate

#: (headline sizes, requests per size, latency sizes, simulate's clusters
#: and requests); 200 requests: a stable mean in minutes on 2 busy CPUs
FULL = ((1000, 10000), 200, (10000, 50000), (10000, 1000))
QUICK = ((200,), 20, (1000,), (200, 20))
SEED = 1
SCHEDULE_RATIO = 1.10

TARGETS = [
    ('schedule_ratio', "the documented setup's _schedule per request at "
                       "most 1.10x nova's stock setup's on the same "
                       'estate and requests'),
] + latency_mod.TARGETS


def setup_nova():
    """nova's objects and CONF: no config file, no database."""
    objects.register_all()
    conf = nova.conf.CONF
    conf([], project='nova', default_config_files=[],
         default_config_dirs=[])
    vmw_conf.register_opts(conf)
    # no placement here to hold reserves in: a keeper that never starts
    data.replace(data.Data(keeper=keeper.Off()))


def documented(clusters, requests=1):
    """The documented setup's simulation of a generated estate."""
    return engine.Simulation(generate.generate(clusters, requests, SEED),
                             engine.configured(True))


def _instrument(sim, costs):
    """Unwrap the simulator's probes; time each plugin into ``costs`` (a
    weigher's share runs from its weigh_objects to the next one's)."""
    manager = sim.host_manager
    manager.enabled_filters = [getattr(f, 'inner', f)
                               for f in manager.enabled_filters]
    manager.weighers = [getattr(w, 'inner', w) for w in manager.weighers]
    for plugin in manager.enabled_filters + manager.weighers:
        costs[type(plugin).__name__] = [0.0, 0]
    marks = []

    def timed_filter(inner, cost):
        def filter_all(objs, spec_obj):
            objs = list(objs)
            start = time.perf_counter()
            out = inner(objs, spec_obj)
            out = None if out is None else list(out)
            cost[0] += time.perf_counter() - start
            cost[1] += len(objs)
            return out
        return filter_all

    def marked(inner, name):
        def weigh_objects(objs, props):
            marks.append((name, time.perf_counter(), len(objs)))
            return inner(objs, props)
        return weigh_objects

    def get_weighed_hosts(hosts, spec_obj, weigh=manager.get_weighed_hosts):
        del marks[:]
        try:
            return weigh(hosts, spec_obj)
        finally:
            ends = [t for _n, t, _h in marks[1:]] + [time.perf_counter()]
            for (name, start, hosts), end in zip(marks, ends):
                costs[name][0] += end - start
                costs[name][1] += hosts

    for f in manager.enabled_filters:
        f.filter_all = timed_filter(f.filter_all, costs[type(f).__name__])
    for w in manager.weighers:
        w.weigh_objects = marked(w.weigh_objects, type(w).__name__)
    manager.get_weighed_hosts = get_weighed_hosts


def _cold_bytes(sim, request, clusters):
    """Bytes per cluster kept after the first request of a cold process."""
    cluster._cache.clear()
    vmw_request._alias_cache.clear()

    def first():
        with sim.active():
            sim.step(0, request)
    return benchmarks.bytes_per(first, clusters)


def _ms3(values):
    return {n: round(v, 3) for n, v in values.items()}


def schedule_cost(clusters, requests, log):
    """The headline at one size (a dict): both setups, same requests."""
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    package = documented(clusters, requests + 1)
    sims = {'package': package, 'stock': engine.Simulation(
        package.scenario, engine.stock(package.setup))}
    build = time.perf_counter() - t0
    log('%d clusters: estate and both setups built in %.0f s; %d requests'
        % (clusters, build, requests))
    costs = {name: {} for name in sims}
    times = {name: [] for name in sims}
    placed = {name: [] for name in sims}
    running = {}

    class TimedScheduler(engine.SimScheduler):
        def _schedule(self, *args, **kwargs):
            start = time.perf_counter()
            try:
                return super()._schedule(*args, **kwargs)
            finally:
                running['seconds'] = time.perf_counter() - start

    requests_ = package.scenario.requests
    # the first request: memory of a cold process, and the warm-up
    memory = {name: _cold_bytes(sim, requests_[0], clusters)
              for name, sim in sims.items()}
    for name, sim in sims.items():
        _instrument(sim, costs[name])
    gc.collect()
    gc.freeze()  # the estates live on: keep them out of the collections
    try:
        with mock.patch.object(engine, 'SimScheduler', TimedScheduler):
            for index in range(1, len(requests_)):
                for name in ['package', 'stock'][::1 if index % 2 else -1]:
                    with sims[name].active():
                        result = sims[name].step(index, requests_[index])
                    times[name].append(running.pop('seconds', 0.0))
                    placed[name].append(result.ok)
    finally:
        gc.unfreeze()
    ms = {n: [1000 * s for s in t] for n, t in times.items()}
    mean = {n: statistics.mean(v) for n, v in ms.items()}
    ratio = mean['package'] / mean['stock']
    paired = statistics.median(p / s for p, s in zip(ms['package'],
                                                     ms['stock']) if s)
    # the requests both setups placed: the same work on both sides (a
    # request the documented setup refuses, e.g. a pin no cluster of it
    # fits, is refused early; stock ignores the pin and places it)
    both = [i for i, ok in enumerate(zip(*placed.values())) if all(ok)]
    both_ms = {n: sum(v[i] for i in both) / max(1, len(both))
               for n, v in ms.items()}
    log('%d clusters: _schedule %.2f ms (documented) vs %.2f ms (stock) '
        'per request: %.3fx' % (clusters, mean['package'], mean['stock'],
                                ratio))
    return {
        'clusters': clusters, 'requests': len(ms['package']),
        'build_seconds': round(build, 1),
        'load': [round(load_before, 2), round(os.getloadavg()[0], 2)],
        'filters': {n: s.filter_names for n, s in sims.items()},
        'weighers': {n: s.weigher_names for n, s in sims.items()},
        'dropped': list(sims['stock'].setup.dropped),
        'placed': {n: sum(v) for n, v in placed.items()},
        'both_placed': {'requests': len(both), 'mean_ms': _ms3(both_ms),
                        'ratio': round(both_ms['package'] / both_ms['stock'],
                                       3) if both else None},
        'mean_ms': _ms3(mean),
        'median_ms': _ms3({n: statistics.median(v) for n, v in ms.items()}),
        'ratio': round(ratio, 3), 'paired_median_ratio': round(paired, 3),
        'bytes_per_cluster': memory,
        'us_per_host': {n: {p: round(1e6 * s / h, 3) if h else None
                            for p, (s, h) in c.items()}
                        for n, c in costs.items()},
        'plugin_ms_per_request': {
            n: {p: round(1000 * s / len(ms[n]), 3)
                for p, (s, _h) in c.items()} for n, c in costs.items()},
    }


def check_schedule(results):
    return [{'target': 'schedule_ratio', 'subject': 'documented setup',
             'where': '%s clusters' % r['clusters'],
             'met': r['ratio'] <= SCHEDULE_RATIO, 'value': r['ratio'],
             'limit': SCHEDULE_RATIO,
             'detail': '%.2f vs %.2f ms per request, %d requests' % (
                 r['mean_ms']['package'], r['mean_ms']['stock'],
                 r['requests'])}
            for r in results]


def simulate_at_scale(log, clusters, requests):
    """``nova-vmw-sched simulate --generate`` in a child process."""
    command = [sys.executable, '-m', 'nova_vmw_sched.cmd.main', 'simulate',
               '--generate', '%d:%d' % (clusters, requests), '--no-progress']
    log('simulate at scale: %s' % ' '.join(command))
    proc, seconds = benchmarks.timed(subprocess.run, command,
                                     capture_output=True, timeout=3600)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {'skipped': False, 'command': ['nova-vmw-sched'] + command[3:],
            'clusters': clusters, 'requests': requests,
            'returncode': proc.returncode, 'seconds': round(seconds, 1),
            'peak_rss_mb': round(peak_kb / 1024.0, 1),
            'output_bytes': len(proc.stdout),
            'stderr_tail': proc.stderr.decode('utf-8', 'replace')[-2000:]}


def machine_info():
    with open('/proc/cpuinfo') as f:  # Linux: the model name
        cpu = next((line.split(':', 1)[1].strip() for line in f
                    if line.startswith('model name')), platform.machine())
    commit = subprocess.run(
        ['git', '-C', os.path.dirname(os.path.abspath(__file__)),
         'rev-parse', '--short', 'HEAD'],
        capture_output=True, text=True).stdout.strip()
    return {'cpu': cpu, 'cpus': os.cpu_count(), 'os': platform.platform(),
            'python': platform.python_version(),
            'nova': importlib.metadata.version('nova'), 'commit': commit}


def render(report):
    schedule = report['schedule']
    out = ['nova-vmw-sched scheduler benchmark, %s, %d s' % (
        report['date'], report['seconds']),
        'machine: %(cpu)s, %(cpus)s CPUs; %(os)s; Python %(python)s; '
        'nova %(nova)s; commit %(commit)s' % report['machine'],
        'load: 1-minute load average %.2f to %.2f during the run (the '
        'benchmark itself counts 1)' % (min(report['loads']),
                                        max(report['loads'])), '',
        "headline: nova's SchedulerManager._schedule per request, "
        'documented setup vs stock, the same generated estate and '
        'requests (seed %d), the setups taking turns' % SEED,
        '  %8s %8s %11s %11s %7s %11s %11s %7s %9s' % (
            'clusters', 'requests', 'doc ms', 'stock ms', 'ratio',
            'doc med', 'stock med', 'paired', 'load')]
    out += ['  %8d %8d %11.2f %11.2f %6.3fx %11.2f %11.2f %6.3fx %4.1f-%.1f'
            % (r['clusters'], r['requests'], r['mean_ms']['package'],
               r['mean_ms']['stock'], r['ratio'], r['median_ms']['package'],
               r['median_ms']['stock'], r['paired_median_ratio'], *r['load'])
            for r in schedule]
    for r in schedule:
        b = r['both_placed']
        out.append('  %d clusters: the documented setup placed %d requests, '
                   'stock %d; on the %d both placed: %.2f vs %.2f ms, '
                   '%.3fx' % (r['clusters'], r['placed']['package'],
                              r['placed']['stock'], b['requests'],
                              b['mean_ms']['package'], b['mean_ms']['stock'],
                              b['ratio'] or 0))
    if schedule:
        out += render_diagnostics(schedule)
    out += latency_mod.render(report['latency']) + ['', 'targets']
    for key, text in TARGETS:
        checks = [c for c in report['targets'] if c['target'] == key]
        out.append('  %s%s' % (text, '' if checks else ': not run'))
        out += ['    [%s] %s: %s (limit %s; %s)' % (
            'met' if c['met'] else 'MISSED', c['where'], c['value'],
            c['limit'], c['detail']) for c in checks]
    sim = report['simulate']
    if sim['skipped']:
        out += ['', 'simulate at scale: SKIPPED (%s)' % sim['reason']]
    else:
        out += ['', 'simulate at scale: %s' % ' '.join(sim['command']),
                '  %(clusters)d clusters, %(requests)d requests: exit '
                '%(returncode)d, %(seconds).1f s wall, peak RSS '
                '%(peak_rss_mb).1f MB, %(output_bytes)d bytes of output'
                % sim]
    return '\n'.join(out) + '\n'


def render_diagnostics(schedule):
    """The headline's footnotes and each plugin's cost per host."""
    out = ['  ms: mean (med: median) per request; paired: median of the '
           'per-request ratios; 1 to 3 instances per request, at most '
           'max_placement_results (1000) candidates each',
           '  documented filters: %s; stock: the same without %s' % (
               ', '.join(schedule[-1]['filters']['package']),
               ', '.join(schedule[-1]['dropped'])), '',
           'diagnostics (no targets): us per host given to each plugin [ms '
           'per request], documented / stock, at %s clusters' % ' and '.join(
               str(x['clusters']) for x in schedule)]
    names = dict.fromkeys(name for x in schedule
                          for setup in x['us_per_host'].values()
                          for name in setup)

    def cell(x, name):
        return ' / '.join(
            '%5.2f [%5.2f]' % (x['us_per_host'][n][name],
                               x['plugin_ms_per_request'][n][name])
            if x['us_per_host'][n].get(name) is not None else '%13s' % '-'
            for n in ('package', 'stock'))
    for name in names:
        out.append('  %-37s %s' % (name, '    '.join(
            cell(x, name) for x in schedule)))
    out.append('  bytes per cluster a cold process keeps after its first '
               'request, documented / stock: %s' % '; '.join(
                   '%.0f / %.0f at %d clusters' % (
                       x['bytes_per_cluster']['package'],
                       x['bytes_per_cluster']['stock'], x['clusters'])
                   for x in schedule))
    return out


def schedule(args):
    """The headline, latency and simulate at scale: the report (a dict)."""
    log = functools.partial(print, file=sys.stderr, flush=True)
    sizes, count, latency_sizes, scale = QUICK if args.quick else FULL
    sizes = sizes if args.sizes is None else args.sizes
    latency_sizes = (latency_sizes if args.latency_sizes is None
                     else args.latency_sizes)
    count = args.requests or count
    started = time.perf_counter()
    loads = [os.getloadavg()[0]]
    report = {'schema': 2, 'date': datetime.datetime.now(
        datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
        'machine': machine_info(),
        'settings': {'sizes': sizes, 'latency_sizes': latency_sizes,
                     'quick': args.quick, 'seed': SEED, 'requests': count},
        'schedule': [], 'latency': {}}
    for size in sizes:
        report['schedule'].append(schedule_cost(size, count, log))
        loads += report['schedule'][-1]['load']
        gc.collect()
    for size in latency_sizes:
        log('%d clusters: 2 ms placement' % size)
        report['latency'][str(size)] = latency_mod.cache_under_latency(
            documented(size).estate, quick=args.quick)
        loads.append(os.getloadavg()[0])
        gc.collect()
    report['targets'] = (check_schedule(report['schedule']) +
                         latency_mod.check(report['latency']))
    report['simulate'] = ({'skipped': True, 'reason': '--no-simulate'}
                          if args.no_simulate else
                          simulate_at_scale(log, *scale))
    loads.append(os.getloadavg()[0])
    report['loads'] = [round(x, 2) for x in loads]
    report['seconds'] = round(time.perf_counter() - started)
    return report


def _sizes(text):
    return sorted({int(x) for x in text.split(',') if x.strip()})


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m benchmarks.run')
    parser.add_argument('benchmark', nargs='?', default='schedule',
                        choices=('schedule', 'reserve', 'snapshot'),
                        help='what to measure (default: schedule); see '
                        'doc/source/benchmarks.rst')
    parser.add_argument('--quick', action='store_true',
                        help='200 clusters, 20 requests, latency at 1000')
    parser.add_argument('--sizes', type=_sizes,
                        help='clusters (1000,10000; snapshot: 10000)')
    parser.add_argument('--requests', type=int, help='requests per size')
    parser.add_argument('--latency-sizes', type=_sizes, help='clusters of '
                        'the 2 ms placement benchmark (10000,50000; empty: '
                        'skip it)')
    parser.add_argument('--no-simulate', action='store_true')
    parser.add_argument('--json', help='write the report as JSON here')
    parser.add_argument('--report', help='write the text report here')
    args = parser.parse_args(argv)
    # nova's warning of every service down (the estates have some; it
    # would be timed)
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    setup_nova()
    if args.benchmark == 'reserve':
        report = [keeper_mod.reserve_cost(documented(size).estate)
                  for size in args.sizes or FULL[0]]
        text = keeper_mod.render(report)
    elif args.benchmark == 'snapshot':
        report = [snapshot_mod.snapshot_cost(size)
                  for size in args.sizes or [10000]]
        text = snapshot_mod.render(report)
    else:
        report = schedule(args)
        text = render(report)
    sys.stdout.write(text)
    for path, content in ((args.json, json.dumps(report, indent=1) + '\n'),
                          (args.report, text)):
        if path:
            path = pathlib.Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    return 0


if __name__ == '__main__':
    sys.exit(main())
