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

"""What a move of an existing instance asks of clusters, read once per
request. nova sets ``RequestSpec.ignore_hosts`` to a list (maybe empty) for
every move and leaves it None for a new boot (it is not stored); only then
is the instance looked up.
"""

import typing as ty

from nova_vmw_sched import cluster
from nova_vmw_sched import data
from nova_vmw_sched import membership
from nova_vmw_sched import view


class Move(ty.NamedTuple):
    """The instance a request moves, or why it cannot be looked up."""

    node: ty.Optional[str] = None
    source: ty.Any = None  # the node's unit (cluster)
    resize: bool = False
    error: ty.Optional[str] = None


def move_of(spec_obj) -> ty.Optional[Move]:
    """The :class:`Move` of this request; None for anything but a move of
    an instance that has a node."""
    if membership.field(spec_obj, 'ignore_hosts') is None:
        return None
    found = view.of(spec_obj).part('move', lambda: _look_up(spec_obj))
    return found if found.node or found.error else None


def _look_up(spec_obj):
    uuid = membership.instance_uuid(spec_obj)
    if not uuid:
        return Move()
    try:
        found = data.get().members.instance_of(
            membership.admin_context(spec_obj), uuid)
    except Exception as e:
        return Move(error='could not look up instance %s: %s' % (uuid, e))
    if not found or not found[0]:
        return Move()  # not in a cell, or offloaded: nothing to leave
    node, flavor_id = found
    try:
        resize = flavor_id != spec_obj.flavor.id
    except Exception:  # no flavor in the request: as nova, no resize
        resize = False
    return Move(node=node, source=cluster.node_key(node), resize=resize)
