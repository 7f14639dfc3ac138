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

"""Print simulation results as they come: a table, JSON, or the topology
comparison; each takes ``start(sims)``, ``request(results)`` per request
and ``finish()``.
"""

import collections
import json

from nova_vmw_sched.simulate import engine
from nova_vmw_sched.simulate import why as why_mod


def _short(reason, label):
    """A reason without the cluster label it starts with."""
    if reason.startswith(label + ' '):
        return reason[len(label) + 1:]
    return reason


def _request_line(result, scenario):
    request = result.request
    flavor = scenario.flavors.get(request.flavor)
    if flavor is not None:
        size = '%s (%d vCPU, %d MB)' % (flavor.name, flavor.vcpus,
                                        flavor.memory_mb)
    if request.is_move:
        parts = ['%s %s' % (request.action, request.instance)]
        if flavor is not None:
            parts[0] += ' to ' + size
    else:
        parts = ['%d x %s' % (request.count, size)]
        if flavor.extra_specs:
            parts.append(', '.join('%s=%s' % kv for kv in sorted(
                flavor.extra_specs.items())))
    if request.group:
        parts.append('group %s (%s)' % (request.group,
                                        scenario.groups[request.group].policy))
    for hint in ('same_host', 'different_host'):
        names = getattr(request, hint)
        if names:
            parts.append('%s=%s' % (hint, ','.join(names)))
    if result.zone:
        parts.append('availability zone %s' % result.zone)
    return '[%d] %s: %s' % (result.index + 1, request.name, '; '.join(parts))


def summary(result, sim):
    """The summary line of a request that ended without a host, or None."""
    if result.ok:
        return None
    return why_mod.summary(result, len(sim.scenario.clusters),
                           sim.filter_names)


def _named(label, scenario):
    """``vc-east/domain-c7 (Gold)``: a label and its cluster's name."""
    name = scenario.by_label[label].name
    return '%s (%s)' % (label, name) if name else label


def why_lines(result, label, scenario):
    """The ``--why`` lines of ``label`` for one request."""
    lines = ['  why %s:' % _named(label, scenario)]
    for entry in why_mod.explain(result, label):
        if isinstance(entry, why_mod.Weighed):
            lines.extend(_weighed_lines(entry))
        elif isinstance(entry, why_mod.Removed):
            lines.append('    %s: removed by %s: %s' % (
                entry.instance, entry.removed_by,
                _short(entry.reason, label)))
            if entry.miss:
                lines.append('      %s' % entry.miss)
            lines.append('      would have to change: %s' % entry.change)
        else:
            lines.append('    not seen by any filter (%s): %s' % (
                entry.not_seen, entry.reason))
    return lines


def _weighed_lines(entry):
    if entry.first:
        if entry.candidates == 1:
            return ['    %s: first (the only candidate left)'
                    % entry.instance]
        return ['    %s: first of %d, weight %.3f' % (
            entry.instance, entry.candidates, entry.weight)]
    tie = ' (tied; nova took the winner by host order)' if \
        entry.rank == 1 else ''
    lines = ['    %s: rank %d of %d%s, weight %.3f; %s won with %.3f' % (
        entry.instance, entry.rank, entry.candidates, tie, entry.weight,
        entry.winner, entry.winner_weight)]
    lines.append('      %-36s %10s %10s' % ('weigher', 'it', 'winner'))
    for name, mine, theirs in entry.weighers:
        if mine or theirs:
            lines.append('      %-36s %+10.3f %+10.3f' % (name, mine, theirs))
    lines.append('      left out alone, would put it first: %s' % (
        ', '.join(entry.first_without) or 'none'))
    return lines


def _why_json(result, label):
    items = []
    for entry in why_mod.explain(result, label):
        item = entry._asdict()
        if isinstance(entry, why_mod.Weighed):
            item['weighers'] = [{'name': n, 'weighted': mine,
                                 'winner': theirs}
                                for n, mine, theirs in entry.weighers]
        items.append(item)
    return {'cluster': label, 'instances': items}


def setup_lines(sim):
    lines = ['Setup: %s' % sim.setup.name,
             '  filters: %s' % ', '.join(sim.filter_names),
             '  weighers: %s' % ', '.join(sim.weigher_names)]
    lines += ['  WARNING: %s' % warning for warning in sim.warnings]
    if sim.setup.dropped:
        lines.append('  left out (not in stock nova): %s'
                     % ', '.join(sim.setup.dropped))
    return lines


class TableReport:
    """The readable report of one simulation (and stock beside it)."""

    def __init__(self, out, max_rejections, why):
        self.out = out
        self.max_rejections = max_rejections
        #: the label of the cluster of ``--why``, or None
        self.why = why
        self.totals = collections.Counter()
        self.differ = 0

    def write(self, *lines):
        """Each line with its newline; no line: an empty one."""
        self.out.write(''.join(line + '\n' for line in lines or ('',)))

    def start(self, sims):
        scenario = sims[0].scenario
        self.scenario = scenario
        self.sim = sims[0]
        self.write('Scenario: %s (%d clusters, %d services, %d requests)' % (
            scenario.source, len(scenario.clusters), len(scenario.services),
            len(scenario.requests)))
        if scenario.description:
            self.write('  ' + scenario.description)
        self.write('Topology: %s' % sims[0].topology)
        for sim in sims:
            self.write(*setup_lines(sim))
        self.write()

    def request(self, results):
        result = results[0]
        self.totals['ok' if result.ok else 'failed'] += 1
        self.write(_request_line(result, self.scenario))
        for placed in result.instances:
            self._instance(placed, result)
        if len(results) > 1:
            self._stock(result, results[1])
        self._rejections(result)
        line = summary(result, self.sim)
        if line:
            self.write('  summary: ' + line)
        if self.why:
            self.write(*why_lines(result, self.why, self.scenario))
        if result.log:
            self.write('  log:', *('    ' + line for line in result.log))
        self.write()

    def _instance(self, placed, result):
        if placed.cluster is None:
            self.write('  %s: %s, %s' % (placed.name, engine.NO_VALID_HOST,
                                         placed.failure))
            return
        undone = '' if result.ok else ' [undone: the request failed]'
        tied = (', tied with %d other(s): nova picks among them by host '
                'order' % len(placed.ties)) if placed.ties else ''
        self.write('  %s -> %s on service %s%s%s' % (
            placed.name, _named(placed.cluster, self.scenario),
            placed.service, tied, undone))
        if len(placed.candidates) == 1 and not placed.candidates[0].shares:
            self.write('      the only candidate left')
            return
        for c in placed.candidates:
            shares = ', '.join('%s %+.3f' % (n, s) for n, s in c.shares)
            self.write('      %-28s %10.3f  %s' % (c.cluster, c.weight,
                                                   shares or '-'))

    def _stock(self, result, stock):
        same = stock.outcome == result.outcome
        if not same:
            self.differ += 1
        outcome = ', '.join(stock.outcome) if stock.ok else '%s (%s)' % (
            engine.NO_VALID_HOST,
            stock.failure or 'an instance found no cluster')
        self.write('  stock nova: %s%s' % (
            outcome, '' if same else '   <- differs'))
        if not same and result.ok:
            for label in result.outcome:
                rejection = stock.rejected.get(label)
                if rejection is not None:
                    self.write('      stock: %s rejected by %s: %s' % (
                        label, rejection.by, _short(rejection.reason,
                                                    label)))
                    break

    def _rejections(self, result):
        if not result.rejected and not result.beyond_limit:
            return
        self.write('  rejected:')
        items = _listed_first(result)
        limit = self.max_rejections or len(items)
        for label, r in items[:limit]:
            at = '#%d ' % (r.instance + 1) if result.request.count > 1 else ''
            self.write('    %-24s %s%-30s %s' % (
                label, at, r.by, _short(r.reason, label)))
        if len(items) > limit:
            by = collections.Counter(r.by for _l, r in items[limit:])
            self.write('    ... and %d more (%s)' % (
                len(items) - limit, ', '.join('%s: %d' % kv for kv in
                                              by.most_common())))
        if result.beyond_limit:
            self.write('    %d more clusters fit but were beyond [scheduler] '
                       'max_placement_results' % result.beyond_limit)

    def finish(self):
        self.write('%d requests placed, %d failed (NoValidHost).' % (
            self.totals['ok'], self.totals['failed']))
        if self.differ:
            self.write('Stock nova decides %d request(s) differently.'
                       % self.differ)
        return 0


def _instance_json(placed):
    return {
        'name': placed.name, 'cluster': placed.cluster,
        'service': placed.service, 'tied': len(placed.ties),
        'failure': placed.failure,
        'candidates': [{'cluster': c.cluster, 'service': c.service,
                        'weight': c.weight, 'weighers': dict(c.shares)}
                       for c in placed.candidates]}


def _listed_first(result):
    """The rejections, the clusters a pinned request lists first (in its
    order), then the others in file order."""
    first = {label: i for i, label in enumerate(result.listed)}
    return sorted(result.rejected.items(),
                  key=lambda kv: first.get(kv[0], len(first)))


def _result_json(result):
    return {
        'ok': result.ok,
        'outcome': list(result.outcome),
        'failure': result.failure,
        'instances': [_instance_json(p) for p in result.instances],
        'listed': list(result.listed),
        'rejected': [{'cluster': label, 'instance': r.instance + 1,
                      'by': r.by, 'reason': r.reason}
                     for label, r in _listed_first(result)],
        'beyond_placement_limit': result.beyond_limit,
        'log': list(result.log),
    }


def _setup_json(sim):
    return {'name': sim.setup.name, 'filters': sim.filter_names,
            'weighers': sim.weigher_names, 'left_out': list(sim.setup.dropped),
            'warnings': list(sim.warnings)}


class JsonReport:
    """One JSON document, written request by request."""

    def __init__(self, out, why):
        self.out = out
        self.first = True
        #: the label of the cluster of ``--why``, or None
        self.why = why
        self.totals = {'requests': 0, 'placed': 0, 'failed': 0}

    def start(self, sims):
        scenario = sims[0].scenario
        self.sims = sims
        head = {'scenario': scenario.source, 'topology': sims[0].topology,
                'setups': [_setup_json(s) for s in sims]}
        text = json.dumps(head, indent=None)
        self.out.write(text[:-1] + ', "requests": [\n')

    def request(self, results):
        result = results[0]
        item = {'index': result.index + 1, 'name': result.request.name,
                'action': result.request.action,
                'flavor': result.request.flavor,
                'count': result.request.count,
                'group': result.request.group,
                'availability_zone': result.zone}
        if result.request.is_move:
            item['instance'] = result.request.instance
        item.update(_result_json(result))
        line = summary(result, self.sims[0])
        if line:
            item['summary'] = line
        if self.why:
            item['why'] = _why_json(result, self.why)
        if len(results) > 1:
            item['stock'] = _result_json(results[1])
            line = summary(results[1], self.sims[1])
            if line:
                item['stock']['summary'] = line
        self.out.write(('' if self.first else ',\n') + json.dumps(item))
        self.first = False
        self.totals['requests'] += 1
        self.totals['placed' if result.ok else 'failed'] += 1

    def finish(self):
        self.out.write('\n], "totals": %s}\n' % json.dumps(self.totals))
        return 0

    def abort(self, error):
        """Close the document after a run that failed midway."""
        self.out.write('\n], "totals": %s, "error": %s}\n' % (
            json.dumps(self.totals), json.dumps({'message': error})))


class Comparison:
    """``--compare-topologies``: which requests end differently, and why.

    ``sims`` come in setups of ``len(topologies)``, the configured first,
    which alone decides the exit status.
    """

    def __init__(self, topologies, fmt, out):
        self.topologies = topologies
        self.fmt = fmt
        self.out = out
        self.divergent = collections.Counter()
        self.rows = []

    def start(self, sims):
        self.scenario = sims[0].scenario
        #: the first simulation of each setup
        self.firsts = sims[::len(self.topologies)]
        self.setups = [s.setup.name for s in self.firsts]

    def request(self, results):
        n = len(self.topologies)
        row = {'index': results[0].index + 1,
               'name': results[0].request.name, 'outcomes': {},
               'differs': {}}
        for k, setup in enumerate(self.setups):
            chunk = results[k * n:(k + 1) * n]
            differs = len({r.outcome for r in chunk}) > 1
            row['differs'][setup] = differs
            row['outcomes'][setup] = {
                r.topology: {'outcome': list(r.outcome),
                             'why': _why(r, chunk[0])} for r in chunk}
            if differs:
                self.divergent[setup] += 1
        if self.fmt == 'json' or any(row['differs'].values()):
            self.rows.append(row)

    def abort(self, error):
        """After a run that failed midway: a JSON error object."""
        if self.fmt == 'json':
            json.dump({'scenario': self.scenario.source,
                       'requests': self.rows,
                       'error': {'message': error}}, self.out, indent=1)
            self.out.write('\n')

    def finish(self):
        status = 1 if self.divergent[self.setups[0]] else 0
        if self.fmt != 'json':
            self._table()
            return status
        json.dump({'scenario': self.scenario.source,
                   'topologies': list(self.topologies),
                   'setups': [_setup_json(s) for s in self.firsts],
                   'requests': self.rows,
                   'divergent': dict((s, self.divergent[s])
                                     for s in self.setups),
                   'exit_status': status}, self.out, indent=1)
        self.out.write('\n')
        return status

    def _table(self):
        write = self.out.write
        count = len(self.scenario.requests)
        write('Topology comparison of %s: %d requests, %d clusters\n' % (
            self.scenario.source, count, len(self.scenario.clusters)))
        for sim in self.firsts:
            write(''.join(line + '\n' for line in setup_lines(sim)))
        write('Topologies: %s\n\n' % ', '.join(self.topologies))
        for row in self.rows:
            for setup in self.setups:
                if not row['differs'][setup]:
                    continue
                write('[%d] %s (%s setup) differs:\n' % (
                    row['index'], row['name'], setup))
                for topology, found in row['outcomes'][setup].items():
                    write('    %-12s %s\n' % (topology,
                                              ', '.join(found['outcome'])))
                    if found['why']:
                        write('    %-12s   %s\n' % ('', found['why']))
            write('\n')
        for setup in self.setups:
            n = self.divergent[setup]
            if n:
                write('%s setup: %d of %d requests end differently across '
                      'topologies.\n' % (setup, n, count))
            else:
                write('%s setup: all %d requests end the same in every '
                      'topology.\n' % (setup, count))


def _why(result, reference):
    """Why ``result`` did not do what ``reference`` (as written) did."""
    if result is reference or result.outcome == reference.outcome:
        return None
    if not result.ok:
        return result.failure
    if not reference.ok:
        return 'placed, where %s failed: %s' % (
            reference.topology, reference.failure)
    for label in reference.outcome:
        r = result.rejected.get(label)
        if r is not None:
            return '%s rejected by %s (instance %d): %s' % (
                label, r.by, r.instance + 1, _short(r.reason, label))
    for mine, theirs in zip(result.instances, reference.instances):
        if mine.cluster == theirs.cluster:
            continue
        weights = {c.cluster: c.weight for c in mine.candidates}
        if theirs.cluster in weights:
            return '%s: %s weighs %.3f, %s %.3f' % (
                mine.name, mine.cluster, weights[mine.cluster],
                theirs.cluster, weights[theirs.cluster])
        return '%s: %s weighs more than %s' % (mine.name, mine.cluster,
                                               theirs.cluster)
    return 'weighed differently'
