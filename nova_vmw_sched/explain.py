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

"""Why every cluster a pinned request lists was rejected, said once: when
one of our filters leaves no host, one INFO line names each listed cluster
(as ``VMwareClusterFilter`` noted them) and why our filters rejected it; a
listed cluster that placement did not offer is looked up in the database.
"""

from oslo_log import log as logging

from nova_vmw_sched import cluster
from nova_vmw_sched import data
from nova_vmw_sched import view

LOG = logging.getLogger(__name__)

NO_NODE = 'no compute node of that cluster'


class Explanation:
    """The listed clusters of one pinned request and why each is out."""

    def __init__(self, pin_request):
        self.pin_request = pin_request
        #: {index of the reference: [host_state, ...]} among the candidates
        self.listed = {}
        #: {id(host_state): [(filter name, reason)]}
        self.reasons = {}
        self.said = False

    def add_listed(self, index, host_state):
        self.listed.setdefault(index, []).append(host_state)

    def line(self, instance_uuid, context=None):
        pin = self.pin_request
        if pin.error:
            return ('No host for instance %s: vmware:cluster=%s cannot be '
                    'used: %s' % (instance_uuid, pin.raw, pin.error))
        parts = []
        for index, ref in enumerate(pin.pin.refs):
            hosts = self.listed.get(index)
            if not hosts:
                parts.append('%s: not a candidate (%s)' % (
                    ref.text, absent_reason(context, ref)))
                continue
            for host_state in hosts:
                name = str(cluster.cluster_of(host_state))
                label = ref.text if ref.text == name else '%s (%s)' % (
                    ref.text, name)
                why = self.reasons.get(id(host_state))
                text = '; '.join('%s: %s' % r for r in why) if why else (
                    'rejected by another filter (see nova-scheduler debug '
                    'log)')
                parts.append('%s on %s: %s' % (
                    label, getattr(host_state, 'host', '?'), text))
        return ('No host left for instance %s: vmware:cluster=%s lists %s'
                % (instance_uuid, pin.raw, '; '.join(parts)))


def for_request(spec_obj, pin_request=None):
    """The request's :class:`Explanation`, made by the first caller
    (``VMwareClusterFilter``, with the PinRequest); None if not pinned."""
    request_view = view.of(spec_obj)
    if pin_request is None or not pin_request.pinned:
        return request_view.part('explanation')
    return request_view.part('explanation',
                             lambda: Explanation(pin_request))


def note(spec_obj, filter_obj, rejected, passed):
    """Record why ``filter_obj`` rejected listed hosts (``[(host_state,
    reason)]``); if none passed, log the line (once per request)."""
    explanation = for_request(spec_obj)
    if explanation is None:
        return
    listed_ids = {id(h) for group in explanation.listed.values()
                  for h in group}
    name = type(filter_obj).__name__
    for host_state, reason in rejected:
        if id(host_state) in listed_ids:
            explanation.reasons.setdefault(id(host_state), []).append(
                (name, reason))
    if not passed and not explanation.said:
        explanation.said = True
        LOG.info('%s', explanation.line(
            getattr(spec_obj, 'instance_uuid', None),
            getattr(spec_obj, '_context', None)))


def absent_reason(context, ref):
    """Why a listed cluster is not among the candidates."""
    if context is None:
        return NO_NODE + '?'
    try:
        found = data.get().lookup.records_of(context, ref)
    except Exception:
        LOG.debug('Could not look up cluster %s', ref.text, exc_info=True)
        return NO_NODE + '?'
    if not found:
        return NO_NODE
    texts = []
    for host, disabled, disabled_reason in found:
        if disabled:
            texts.append('service %s is disabled (%s); nova asks placement '
                         'for enabled nodes only' % (host, disabled_reason))
        else:
            texts.append('under service %s: placement offered no '
                         'allocation candidate (no room?)' % host)
    return '; '.join(texts)
