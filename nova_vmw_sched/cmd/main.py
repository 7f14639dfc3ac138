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

"""``nova-vmw-sched``: the command line (see ``doc/source/cli.rst``).

Exit status of ``simulate``: 0 done; 1 ``--compare-topologies`` found a
request that ends differently in another topology; 2 bad usage, scenario or
configuration. ``sync-placement`` and ``snapshot``: see
:mod:`nova_vmw_sched.cmd.sync_placement` and
:mod:`nova_vmw_sched.cmd.snapshot`.
"""

import argparse
import logging
import os
import sys
import warnings

from nova_vmw_sched.cmd import progress as progress_mod
from nova_vmw_sched.cmd import snapshot
from nova_vmw_sched.cmd import sync_placement

DEFAULT_SCENARIO = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'simulate', 'data', 'default.yaml')
USAGE_ERROR = 2


def _version():
    try:
        from importlib import metadata
        return metadata.version('nova-vmw-sched')
    except Exception:  # not installed (a source tree on sys.path)
        return 'unknown'


def _count(text):
    """A whole number, 0 or more (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            'expected a whole number, 0 or more, got %r' % text)
    return value


def _parser():
    parser = argparse.ArgumentParser(
        prog='nova-vmw-sched',
        description='Tools for the nova_vmw_sched scheduler plugins.')
    parser.add_argument('--version', action='version',
                        version='%(prog)s ' + _version())
    commands = parser.add_subparsers(dest='command', metavar='COMMAND')
    commands.required = True
    sim = commands.add_parser(
        'simulate', help='dry-run a VMware estate through nova\'s filters '
        'and weighers',
        description='Schedule the requests of a scenario file through '
        "nova's own filters and weighers, with no cloud: the chosen "
        'cluster of each instance, the weights of the top candidates and, '
        'for every rejected cluster, the filter that rejected it and why.')
    sim.add_argument('scenario', nargs='?', metavar='SCENARIO',
                     help='scenario file (YAML or JSON; - for standard '
                     'input); default: the scenario shipped with the package')
    sim.add_argument('--requests', metavar='FILE',
                     help='a YAML file whose "requests:" list is added to '
                     "the scenario's, e.g. to ask a snapshot something "
                     'without editing it')
    sim.add_argument('--config-file', metavar='PATH',
                     help="nova.conf to read the scheduler options from "
                     "(default: the documented setup, as the configuration "
                     "page of the docs gives it)")
    sim.add_argument('--format', choices=('table', 'json'),
                     default='table', help='output format (default: table)')
    sim.add_argument('--topology', default='as-written',
                     choices=('as-written', 'per-cluster', 'per-vcenter'),
                     help='run the clusters under these services (default: '
                     'as written in the scenario)')
    sim.add_argument('--compare-topologies', action='store_true',
                     help='run as written, one service per cluster and one '
                     'per vCenter; report requests that end differently; '
                     'exit 1 if any does')
    sim.add_argument('--against-stock', action='store_true',
                     help="also run nova's stock filters and weighers and "
                     'show their outcome beside each request')
    sim.add_argument('--generate', metavar='CLUSTERS:REQUESTS[:SEED]',
                     help='run a generated scenario instead of a file')
    sim.add_argument('--why', metavar='CLUSTER',
                     help='for each request, why CLUSTER did not get the '
                     'instance: the filter that removed it and why (a '
                     'capacity refusal: by how much; what would have to '
                     'change), or its rank and each weigher\'s share next '
                     'to the winner\'s, and which weigher left out would '
                     'put it first. CLUSTER: a node name '
                     'domain-cN.<vCenter uuid>, a moref domain-cN, an alias '
                     'of [vmware_scheduler] cluster_aliases or a label '
                     '<vCenter>/domain-cN')
    sim.add_argument('--max-rejections', type=_count, default=20,
                     metavar='N', help='rejected clusters listed per request '
                     'in the table (default 20; 0: all)')
    sim.add_argument('--verbose', action='store_true',
                     help="show the plugins' log lines (INFO and above) "
                     'under each request, e.g. the explanation line of a '
                     'pinned NoValidHost')
    sim.add_argument('--no-progress', action='store_true',
                     help='no progress line on stderr')
    sync_placement.add_parser(commands)
    snapshot.add_parser(commands)
    return parser


def _log_to_stderr():
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(
            '%(levelname)s %(name)s: %(message)s'))
        root.addHandler(handler)
        root.setLevel(logging.WARNING)


def _generated(spec):
    from nova_vmw_sched.simulate import generate
    try:
        parts = [int(p) for p in spec.split(':')]
        if len(parts) not in (2, 3) or min(parts[:2]) < 1:
            raise ValueError()
    except ValueError:
        raise _Usage('--generate: expected CLUSTERS:REQUESTS[:SEED] with '
                     'positive integers, got %r' % spec)
    return generate.generate(*parts)


class _Usage(Exception):
    pass


def _bad_options(conf, groups):
    """``[group] option: problem`` for each value oslo.config refuses."""
    problems = []
    for group in groups:
        try:
            names = sorted(conf[group])
        except Exception:  # a group nobody registered
            continue
        for name in names:
            try:
                getattr(conf[group], name)
            except Exception as e:
                text = str(e)
                if 'is not valid: ' in text:  # drop oslo.config's location
                    text = 'not valid: ' + text.split('is not valid: ', 1)[1]
                problems.append('[%s] %s: %s' % (group, name, text))
    return problems


def _check_readable(path):
    """A nova.conf that oslo.config can read: a UTF-8 text file."""
    try:
        with open(path, encoding='utf-8') as f:
            f.read()
    except IsADirectoryError:
        raise _Usage('--config-file %s: is a directory, not a nova.conf'
                     % path)
    except UnicodeDecodeError as e:
        raise _Usage('--config-file %s: not a UTF-8 text file (%s)'
                     % (path, e.reason))
    except OSError as e:
        raise _Usage('--config-file %s: cannot read it: %s'
                     % (path, e.strerror or e))


def simulate(args, out=None):
    """Run ``simulate``; return the exit status."""
    out = out or sys.stdout
    _log_to_stderr()
    from oslo_config import cfg

    import nova.conf
    from nova import objects

    from nova_vmw_sched import conf as vmw_conf
    try:
        import yaml  # noqa: F401
    except ImportError:
        raise _Usage("needs PyYAML to read scenario files: pip install "
                     "'nova-vmw-sched[simulate]' (or PyYAML)")
    from nova_vmw_sched.simulate import engine
    from nova_vmw_sched.simulate import report
    from nova_vmw_sched.simulate import scenario as scenario_mod
    from nova_vmw_sched.simulate import schema
    from nova_vmw_sched.simulate import topology

    objects.register_all()
    conf = nova.conf.CONF
    vmw_conf.register_opts(conf)
    if args.config_file:
        _check_readable(args.config_file)
    try:
        conf(['--config-file', args.config_file] if args.config_file
             else [], project='nova', default_config_files=[])
    except (cfg.Error, OSError, UnicodeDecodeError) as e:
        raise _Usage('--config-file %s: %s' % (args.config_file, e))
    if args.config_file:
        problems = _bad_options(conf, schema.CONFIG_GROUPS)
        if problems:
            conf.clear()
            raise _Usage('\n'.join('--config-file %s: %s' % (
                args.config_file, p) for p in problems))
    try:
        if args.generate:
            if args.scenario or args.requests:
                raise _Usage('give a SCENARIO (and --requests) or '
                             '--generate, not both')
            scenario = _generated(args.generate)
        else:
            scenario = scenario_mod.load(args.scenario or DEFAULT_SCENARIO,
                                         args.requests)
        setup = engine.configured(use_defaults=not args.config_file)
        setups = [setup]
        if args.against_stock:
            setups.append(engine.stock(setup))
        topologies = (topology.ALL if args.compare_topologies
                      else (args.topology,))
        sims = [engine.Simulation(scenario, s, t, verbose=args.verbose)
                for s in setups for t in topologies]
        why = _why(args, sims) if args.why is not None else None
        if args.compare_topologies:
            sink = report.Comparison(topologies, args.format, out)
        elif args.format == 'json':
            sink = report.JsonReport(out, why=why)
        else:
            sink = report.TableReport(out, args.max_rejections, why=why)
        sink.start(sims)
        progress = progress_mod.Progress(enabled=not args.no_progress)
        try:
            for results in engine.run_together(sims, scenario.requests,
                                               progress):
                sink.request(results)
        except engine.SimulationError as e:
            abort = getattr(sink, 'abort', None)
            if abort is not None:
                abort(str(e))
            raise
        return sink.finish()
    except (scenario_mod.ScenarioError, engine.SimulationError) as e:
        raise _Usage(str(e))
    except cfg.Error as e:
        raise _Usage('configuration: %s' % e)
    finally:
        conf.clear()


def _why(args, sims):
    """The label of the cluster ``--why`` names; each simulation asks."""
    import nova.conf

    from nova_vmw_sched import request
    from nova_vmw_sched.simulate import why as why_mod
    if args.compare_topologies:
        raise _Usage('--why: not with --compare-topologies')
    # the aliases as the scheduler has them: nova.conf's and the scenario's
    with sims[0].active():
        aliases = request.configured_aliases(nova.conf.CONF)
    try:
        label = why_mod.resolve(args.why, sims[0].scenario, aliases)
    except why_mod.WhyError as e:
        raise _Usage('--why: %s' % e)
    for sim in sims:
        sim.why = label
    return label


def main(argv=None, out=None):
    """The ``nova-vmw-sched`` console script."""
    args = _parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            if not sys.warnoptions:
                # nova's imports warn about eventlet and deprecations
                warnings.simplefilter('ignore')
            if args.command == 'simulate':
                return simulate(args, out)
            if args.command == 'sync-placement':
                _log_to_stderr()
                return sync_placement.run(args, out)
            if args.command == 'snapshot':
                _log_to_stderr()
                return snapshot.run(args, out)
    except _Usage as e:
        # Every line of the message names its source (FILE: field: problem
        # for a scenario); prefix each the same way.
        for line in str(e).splitlines() or ['']:
            sys.stderr.write('nova-vmw-sched %s: %s\n' % (args.command, line))
        return USAGE_ERROR
    except KeyboardInterrupt:
        sys.stderr.write('\ninterrupted\n')
        return 130
    except BrokenPipeError:
        return 0
    return USAGE_ERROR


if __name__ == '__main__':
    sys.exit(main())
