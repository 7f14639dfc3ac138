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

"""A move leaves its cluster, not only its service host
(doc/source/moves.rst).

For a move of an existing instance the nodes of its own cluster fail; for
a resize only when ``[DEFAULT] allow_resize_to_same_host`` is False. New
boots pass every node. If the instance cannot be looked up, every node
fails, with one WARNING per request. Rebuilds are not filtered.
"""

from oslo_log import log as logging

import nova.conf

from nova_vmw_sched import cluster
from nova_vmw_sched import filters as vmw_filters
from nova_vmw_sched import membership
from nova_vmw_sched import moves
from nova_vmw_sched import view

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF

MOVE = 'source cluster of the move (a migration leaves its cluster)'
RESIZE = ('source cluster of the resize ([DEFAULT] '
          'allow_resize_to_same_host = False)')


class VMwareClusterMoveFilter(vmw_filters.RequestScopedFilter):
    """Refuse the cluster an instance is moved away from."""

    RUN_ON_REBUILD = False
    # A move places one instance, whose node does not change meanwhile.
    run_filter_once_per_request = True

    def prepare_hosts(self, spec_obj, host_states):
        move = moves.move_of(spec_obj)
        if move is not None and move.error:
            LOG.warning('VMwareClusterMoveFilter: no host passes for '
                        'instance %(instance)s: %(error)s',
                        {'instance': membership.instance_uuid(spec_obj),
                         'error': move.error})
            return view.Refused(move.error)
        if move is None or move.source is None or (
                move.resize and CONF.allow_resize_to_same_host):
            return None
        return move.source, RESIZE if move.resize else MOVE

    def check(self, host_state, prepared):
        if prepared is None or cluster.host_key(host_state) != prepared[0]:
            return None
        return prepared[1]
