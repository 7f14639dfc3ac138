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


class _Listener:
    """The records heard during one filter call, each with its host."""

    def __init__(self, hosts):
        self.hosts = hosts
        self.ids = {id(h) for h in hosts}
        self.heard = []

    def hear(self, record):
        self.heard.append((record, self._host_of(record)))

    def _host_of(self, record):
        args = record.args
        values = args.values() if isinstance(args, dict) else (
            args if isinstance(args, tuple) else ())
        for value in values:
            if id(value) in self.ids:
                return value
        return self.hosts.current


class _Ear(logging.Handler):
    """The handler on the filters' loggers while a simulation runs.

    Attaching sets a logger to DEBUG and stops its propagation, once per
    logger, not per call (``setLevel`` clears every logger's cache). While
    a probe listens, records go to its :class:`_Listener`; otherwise, and
    afterwards for those that explain no removal, they go on to the
    parent loggers if the logger would have let them through before.
    """

    def __init__(self):
        super().__init__(logging.DEBUG)
        #: {logger name: (logger, level, propagate)}
        self.attached = {}
        self.listener = None

    def attach(self, names):
        for name in names:
            if name not in self.attached:
                lg = logging.getLogger(name)
                self.attached[name] = (lg, lg.level, lg.propagate)
                lg.addHandler(self)
                lg.setLevel(logging.DEBUG)
                lg.propagate = False

    def detach_all(self):
        for lg, level, propagate in self.attached.values():
            lg.removeHandler(self)
            lg.setLevel(level)
            lg.propagate = propagate
        self.attached = {}

    def emit(self, record):
        if self.listener is not None:
            self.listener.hear(record)
        else:
            self.forward(record)

    def forward(self, record):
        """Pass ``record`` on as if nothing had listened.

        The walk is ``Logger.callHandlers``' with each attached logger's own
        propagation, skipping this handler.
        """
        if record.levelno < self._original_level(record.name):
            return
        lg = logging.getLogger(record.name)
        while lg is not None:
            for handler in lg.handlers:
                if handler is not self and record.levelno >= handler.level:
                    handler.handle(record)
            saved = self.attached.get(lg.name)
            if not (saved[2] if saved is not None else lg.propagate):
                break
            lg = lg.parent

    def _original_level(self, name):
        lg = logging.getLogger(name)
        while lg is not None:
            saved = self.attached.get(lg.name)
            level = saved[1] if saved is not None else lg.level
            if level:
                return level
            lg = lg.parent
        return logging.NOTSET


EAR = _Ear()


def _modules(obj):
    return sorted({cls.__module__ for cls in type(obj).__mro__
                   if cls.__module__ not in ('builtins', 'abc')})


def detach():
    """Give the filters' loggers back their own levels and propagation."""
    EAR.detach_all()


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


def probe_filter(inner, label, sink):
    """A :class:`FilterProbe` of ``inner``, named as ``inner``'s class, so
    that nova's handler logs the filter's name."""
    cls = type(type(inner).__name__, (FilterProbe,), {})
    return cls(inner, label, sink)


def probe_weigher(inner, record):
    """A :class:`WeigherProbe` of ``inner``, named as ``inner``'s class."""
    cls = type(type(inner).__name__, (WeigherProbe,), {})
    return cls(inner, record)


class FilterProbe:
    """Wraps one filter; reports removals to ``sink(host, name, reason)``."""

    def __init__(self, inner, label, sink):
        self.inner = inner
        self.name = type(inner).__name__
        self.label = label
        self.sink = sink
        self.modules = _modules(inner)
        #: (hosts in, hosts out) of the last call, for "who emptied it"
        self.last = None

    def run_filter_for_index(self, index):
        return self.inner.run_filter_for_index(index)

    def filter_all(self, filter_obj_list, spec_obj):
        hosts = _Tracking(filter_obj_list)
        EAR.attach(self.modules)
        listener = EAR.listener = _Listener(hosts)
        try:
            out = self.inner.filter_all(hosts, spec_obj)
            out = None if out is None else list(out)
        finally:
            EAR.listener = None
        used = set()
        if out is not None:
            passed = {id(h) for h in out}
            removed = {id(h) for h in hosts if id(h) not in passed}
            reasons = {}
            for record, host in listener.heard:
                if host is not None and id(host) in removed:
                    reasons[id(host)] = record
            for host in list.__iter__(hosts):
                if id(host) in removed:
                    record = reasons.get(id(host))
                    self.sink(host, self.name,
                              _message(record, self.label)
                              if record is not None
                              else FALLBACK % self.name)
            used = {id(r) for r in reasons.values()}
            self.last = (len(hosts), len(out))
        for record, _host in listener.heard:
            if id(record) not in used:
                EAR.forward(record)
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
