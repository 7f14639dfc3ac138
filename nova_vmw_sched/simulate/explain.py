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

"""Which filter removed each host and why; what each weigher added.

nova's handlers (``HostFilterHandler.get_filtered_objects``,
``HostWeightHandler.get_weighed_objects``) run the real filters and
weighers, each wrapped in a probe that only watches:

* :class:`FilterProbe` hands the filter its hosts and keeps the hosts it
  removed (input minus output). While the filter runs it listens to the
  DEBUG (and louder) records the filter's modules log; a record is
  attributed to the host whose ``HostState`` is among its arguments, else
  to the host the filter was iterating over when it logged. A removed host
  gets the last record attributed to it as its reason, or "rejected by
  <FilterName>" when the filter said nothing. Records that explain no
  removal are passed on to the logger as if nothing had listened.
* :class:`WeigherProbe` notes every host's running total before each
  weigher, so that each weigher's share (multiplier x normalised weight,
  as nova computed it) is the difference.
"""

import logging

#: used when a filter removes a host without logging why
FALLBACK = 'rejected by %s'


class _Tracking(list):
    """A list that remembers which item is being iterated over."""

    current = None

    def __iter__(self):
        for item in list.__iter__(self):
            self.current = item
            yield item


class _Listener(logging.Handler):
    def __init__(self, hosts):
        super().__init__(logging.DEBUG)
        self.hosts = hosts
        self.ids = {id(h) for h in hosts}
        self.heard = []

    def emit(self, record):
        self.heard.append((record, self._host_of(record)))

    def _host_of(self, record):
        args = record.args
        values = args.values() if isinstance(args, dict) else (
            args if isinstance(args, tuple) else ())
        for value in values:
            if id(value) in self.ids:
                return value
        return self.hosts.current


def _modules(obj):
    return sorted({cls.__module__ for cls in type(obj).__mro__
                   if cls.__module__ not in ('builtins', 'abc')})


class _Listening:
    """Listen to the loggers of ``obj``'s modules while in the block."""

    def __init__(self, obj, hosts):
        self.loggers = [logging.getLogger(m) for m in _modules(obj)]
        self.listener = _Listener(hosts)

    def __enter__(self):
        self.saved = [(lg, lg.level, lg.propagate, lg.getEffectiveLevel())
                      for lg in self.loggers]
        for lg in self.loggers:
            lg.addHandler(self.listener)
            lg.setLevel(logging.DEBUG)
            lg.propagate = False
        return self.listener

    def __exit__(self, *exc):
        for lg, level, propagate, _effective in self.saved:
            lg.removeHandler(self.listener)
            lg.setLevel(level)
            lg.propagate = propagate
        return False

    def replay(self, used):
        """Hand the records not in ``used`` to the loggers, as unheard."""
        effective = {lg.name: eff for lg, _l, _p, eff in self.saved}
        for record, _host in self.listener.heard:
            if id(record) in used:
                continue
            if record.levelno >= effective.get(record.name, logging.WARNING):
                logging.getLogger(record.name).handle(record)


def _message(record, label):
    """The record's text, each HostState in it replaced by ``label()``."""
    args = record.args

    def short(value):
        return label(value) if hasattr(value, 'nodename') and \
            hasattr(value, 'instances') else value

    try:
        if isinstance(args, dict):
            args = {k: short(v) for k, v in args.items()}
        elif isinstance(args, tuple):
            args = tuple(short(v) for v in args)
        text = str(record.msg) % args if args else str(record.msg)
    except Exception:
        text = record.getMessage()
    return ' '.join(text.split())


class FilterProbe:
    """Wraps one filter; reports removals to ``sink(host, name, reason)``."""

    def __init__(self, inner, label, sink):
        self.inner = inner
        self.name = type(inner).__name__
        self.label = label
        self.sink = sink
        #: (hosts in, hosts out) of the last call, for "who emptied it"
        self.last = None

    def run_filter_for_index(self, index):
        return self.inner.run_filter_for_index(index)

    def filter_all(self, filter_obj_list, spec_obj):
        hosts = _Tracking(filter_obj_list)
        listening = _Listening(self.inner, hosts)
        with listening:
            out = self.inner.filter_all(hosts, spec_obj)
            out = None if out is None else list(out)
        if out is None:
            listening.replay(())
            return None
        passed = {id(h) for h in out}
        removed = {id(h) for h in hosts if id(h) not in passed}
        reasons = {}
        for record, host in listening.listener.heard:
            if host is not None and id(host) in removed:
                reasons[id(host)] = record
        for host in list.__iter__(hosts):
            if id(host) in removed:
                record = reasons.get(id(host))
                self.sink(host, self.name,
                          _message(record, self.label) if record is not None
                          else FALLBACK % self.name)
        listening.replay({id(r) for r in reasons.values()})
        self.last = (len(hosts), len(out))
        return out


class WeighingRecord:
    """The running totals of one ``get_weighed_objects`` call."""

    def __init__(self):
        self.clear()

    def clear(self):
        #: nova's WeighedHost objects, in the order given to the weighers
        self.objs = None
        #: [(weigher name, [total of each host before that weigher])]
        self.steps = []

    def shares(self, index):
        """``[(weigher name, share)]`` of host ``index`` in :attr:`objs`."""
        if self.objs is None:
            return []
        result = []
        for k, (name, before) in enumerate(self.steps):
            after = (self.steps[k + 1][1][index] if k + 1 < len(self.steps)
                     else self.objs[index].weight)
            result.append((name, after - before[index]))
        return result


class WeigherProbe:
    """Wraps one weigher; notes the totals before it into ``record``."""

    def __init__(self, inner, record):
        self.inner = inner
        self.record = record

    def __getattr__(self, name):
        # minval, maxval, weight_multiplier(), as the handler asks for them
        return getattr(self.inner, name)

    def weigh_objects(self, weighed_obj_list, weight_properties):
        record = self.record
        if record.objs is None:
            record.objs = weighed_obj_list
        record.steps.append((type(self.inner).__name__,
                             [w.weight for w in weighed_obj_list]))
        return self.inner.weigh_objects(weighed_obj_list, weight_properties)
