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

"""nova_vmw_sched scheduler filters.

Operators list them after nova's own, so that the classes named as nova's
(:data:`SHADOWED`) win those names::

    [filter_scheduler]
    available_filters = nova.scheduler.filters.all_filters
    available_filters = nova_vmw_sched.filters.all_filters
"""

import logging as std_logging

from oslo_log import log as logging

import nova.conf
from nova import loadables
from nova.scheduler import filters
from nova.scheduler import utils as scheduler_utils

from nova_vmw_sched import conf as vmw_conf
from nova_vmw_sched import data
from nova_vmw_sched import explain
from nova_vmw_sched import membership
from nova_vmw_sched import view

CONF = nova.conf.CONF
LOG = logging.getLogger(__name__)

#: nova's filter names that our classes take over (same name, keyed by
#: cluster); nova's conductor demands the two group filter names.
SHADOWED = ('ServerGroupAffinityFilter', 'ServerGroupAntiAffinityFilter',
            'SameHostFilter', 'DifferentHostFilter')
_shadow_checked = False


class RequestScopedFilter(filters.BaseHostFilter):
    """Base for filters that do per-request work once, then check hosts."""

    def __init__(self):
        super().__init__()
        vmw_conf.register_opts(CONF)
        check_shadowing()
        # a rejection is logged under the filter's own module
        self._log = std_logging.getLogger(type(self).__module__)

    def prepare_hosts(self, spec_obj, host_states):
        """The work that does not depend on the host, once per call."""
        return None

    def check(self, host_state, prepared):
        """None if ``host_state`` passes, else the reason it fails."""
        raise NotImplementedError()

    def refuse(self, spec_obj, what):
        """Fail closed: every host fails, as the request's members cannot be
        located; one WARNING per request and rule names ``what``."""
        members = membership.members_of(spec_obj)
        members.warn_once('%s (%s)' % (type(self).__name__, what),
                          membership.instance_uuid(spec_obj))
        return view.Refused(members.error)

    def judge_all(self, filter_obj_list, spec_obj):
        """``(passed, [(host_state, reason), ...])``, the reasons logged."""
        hosts = list(filter_obj_list)
        # Overriding filter_all bypasses BaseHostFilter._filter_one, so the
        # rebuild rule it applies is applied here.
        if (not self.RUN_ON_REBUILD and
                scheduler_utils.request_is_rebuild(spec_obj)):
            return hosts, []
        prepared = self.prepare_hosts(spec_obj, hosts)
        passed, rejected = [], []
        if isinstance(prepared, view.Refused):
            LOG.debug('%(filter)s refuses all %(count)d host(s): %(reason)s',
                      {'filter': type(self).__name__, 'count': len(hosts),
                       'reason': prepared})
            rejected = [(host, str(prepared)) for host in hosts]
        else:
            for host in hosts:
                reason = self.check(host, prepared)
                if reason is None:
                    passed.append(host)
                else:
                    rejected.append((host, reason))
            if rejected and self._log.isEnabledFor(std_logging.DEBUG):
                for host, reason in rejected:
                    self._log.debug('%(host_state)s fails: %(reason)s',
                                    {'host_state': host, 'reason': reason})
        if rejected:
            explain.note(spec_obj, self, rejected, passed)
        return passed, rejected

    def filter_all(self, filter_obj_list, spec_obj):
        return self.judge_all(filter_obj_list, spec_obj)[0]

    def host_passes(self, host_state, spec_obj):
        return bool(self.filter_all([host_state], spec_obj))


class HintFilter(RequestScopedFilter):
    """Base for filters by the clusters of the instances ``HINT`` names."""

    HINT = None
    RUN_ON_REBUILD = False
    # The clusters of existing instances do not change within a request.
    run_filter_once_per_request = True

    def prepare_hosts(self, spec_obj, host_states):
        located = membership.hint_units(spec_obj, host_states, self.HINT)
        if located and located.error:
            return self.refuse(spec_obj, self.HINT)
        return located.counts if located else None


def check_shadowing():
    """ERROR once if nova's own class wins a name we take over (the later
    class of a name in ``available_filters`` wins)."""
    global _shadow_checked
    if _shadow_checked:
        return
    _shadow_checked = True
    enabled = set(CONF.filter_scheduler.enabled_filters) & set(SHADOWED)
    if not enabled:
        return
    try:
        classes = filters.HostFilterHandler().get_matching_classes(
            CONF.filter_scheduler.available_filters)
    except Exception:  # nova reports bad entries itself
        return
    winners = {cls.__name__: cls for cls in classes}
    for name in sorted(enabled):
        cls = winners.get(name)
        if cls is not None and not cls.__module__.startswith(__name__):
            LOG.error('[filter_scheduler] enabled_filters names %(name)s, '
                      'which resolves to %(module)s.%(name)s, keyed on the '
                      'service host. List nova_vmw_sched.filters.all_filters '
                      'after nova.scheduler.filters.all_filters in '
                      '[filter_scheduler] available_filters to use the '
                      'cluster-keyed %(name)s.',
                      {'name': name, 'module': cls.__module__})


class _FilterLoader(loadables.BaseLoader):
    def __init__(self):
        super().__init__(filters.BaseHostFilter)


def all_filters():
    """All filter classes of nova_vmw_sched, for ``available_filters``
    (nova-scheduler calls it at start: the placement keeper starts)."""
    data.start_keeper()
    return list({cls.__name__: cls for cls in _FilterLoader().get_all_classes()
                 if cls.__module__.startswith(__name__ + '.')}.values())
