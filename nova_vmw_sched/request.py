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

"""What a scheduling request asks of clusters, read once per request:
filters and weighers never read the extra spec or the aliases themselves.
"""

import threading
import typing as ty

from oslo_log import log as logging

from nova_vmw_sched import cluster
from nova_vmw_sched import conf as vmw_conf
from nova_vmw_sched import view

LOG = logging.getLogger(__name__)

#: the flavor extra spec that pins a flavor to clusters
CLUSTER_EXTRA_SPEC = 'vmware:cluster'

_alias_lock = threading.Lock()
#: ``cluster_aliases`` parsed, for its last value only
_alias_cache: dict = {}


class PinRequest(ty.NamedTuple):
    """The ``vmware:cluster`` of a request: absent, resolved, or broken."""

    raw: ty.Optional[str] = None
    pin: ty.Optional[cluster.ClusterPin] = None
    #: why ``raw`` cannot be used (malformed, unknown alias)
    error: ty.Optional[str] = None

    @property
    def pinned(self):
        return self.raw is not None


def configured_aliases(conf) -> dict:
    """``[vmware_scheduler] cluster_aliases`` parsed, cached per value (a
    WARNING once per value for a bad entry, or for a value that cannot be
    read at all: no alias)."""
    vmw_conf.register_opts(conf)
    try:
        raw = conf.vmware_scheduler.cluster_aliases or {}
    except Exception as e:  # the whole value is malformed
        key = ('<unreadable>', str(e))
        if key not in _alias_cache:
            LOG.warning('Ignoring [vmware_scheduler] cluster_aliases: %s; '
                        'no alias is defined.', e)
            _alias_cache.clear()
            _alias_cache[key] = {}
        return {}
    try:
        key = tuple(sorted((str(k), str(v)) for k, v in raw.items()))
    except Exception:  # not a mapping at all (a value set in code)
        return {}
    found = _alias_cache.get(key)
    if found is not None:
        return found
    with _alias_lock:
        if key not in _alias_cache:
            aliases, errors = cluster.parse_aliases(dict(key))
            for error in errors:
                LOG.warning('Ignoring [vmware_scheduler] cluster_aliases '
                            'entry: %s', error)
            _alias_cache.clear()
            _alias_cache[key] = aliases
        return _alias_cache[key]


def cluster_pin(spec_obj, conf) -> PinRequest:
    """The request's ``vmware:cluster``, read and resolved once."""
    return view.of(spec_obj).part('pin', lambda: _read_pin(spec_obj, conf))


def _read_pin(spec_obj, conf) -> PinRequest:
    try:
        specs = spec_obj.flavor.extra_specs
    except Exception:  # no flavor, lazy-load failure, odd object
        specs = None
    raw = specs.get(CLUSTER_EXTRA_SPEC) if isinstance(specs, dict) else None
    if raw is None:
        return PinRequest()
    try:
        refs = cluster.parse_reference_list(raw)
        pin = cluster.resolve(refs, configured_aliases(conf))
    except cluster.InvalidClusterReference as e:
        return PinRequest(raw=str(raw), error=str(e))
    return PinRequest(raw=raw, pin=pin)
