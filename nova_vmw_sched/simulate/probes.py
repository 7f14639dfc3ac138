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

nova's handlers run the real filters and weighers, each wrapped in a probe
that only watches.
"""

#: the reason of a host removed by a filter that gives none (nova's)
FALLBACK = 'rejected by %s'


def probe(probe_cls, inner, arg):
    """A ``probe_cls`` of ``inner``, named as ``inner``'s class, so that
    nova's handlers log the plugin's name."""
    return type(type(inner).__name__, (probe_cls,), {})(inner, arg)


class FilterProbe:
    """Wraps one filter; reports removals to ``sink(host, name, reason)``."""

    def __init__(self, inner, sink):
        self.inner = inner
        self.name = type(inner).__name__
        self.sink = sink
        #: (hosts in, hosts out) of the last call, for "who emptied it"
        self.last = None

    def run_filter_for_index(self, index):
        return self.inner.run_filter_for_index(index)

    def filter_all(self, filter_obj_list, spec_obj):
        hosts = list(filter_obj_list)
        judge_all = getattr(self.inner, 'judge_all', None)
        if judge_all is not None:
            out, rejected = judge_all(hosts, spec_obj)
        else:
            out = self.inner.filter_all(hosts, spec_obj)
            out = None if out is None else list(out)
            passed = {id(h) for h in out or ()}
            rejected = [(h, FALLBACK % self.name) for h in hosts
                        if out is not None and id(h) not in passed]
        for host, reason in rejected:
            self.sink(host, self.name, reason)
        if out is not None:
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
        totals = [before[index] for _name, before in self.steps]
        totals.append(self.objs[index].weight)
        return [(name, totals[k + 1] - totals[k])
                for k, (name, _before) in enumerate(self.steps)]


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
