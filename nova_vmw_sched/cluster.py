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

"""Cluster identity: the one place that knows what a VMware cluster is.

:func:`cluster_of` turns a node name of nova's vmwareapi driver,
``<cluster moref>.<vCenter instanceUuid>`` (Juno era:
``<cluster moref>(<display name>)``), into a :class:`ClusterId`. The
operator's references (node name, bare moref, alias) are parsed by
:func:`parse_reference_list` and resolved by :func:`resolve`.
"""

import re
import sys
import typing as ty

MOREF_RE = re.compile(r'domain-c[0-9]+')
_UUID_RE = re.compile(r'[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}')
_NODE_RE = re.compile(r'(?P<moref>domain-c[0-9]+)(?:\.(?P<uuid>%s)'
                      r'|\((?P<name>[^()]+)\))' % _UUID_RE.pattern)
ALIAS_RE = re.compile(r'[A-Za-z_][A-Za-z0-9_.-]{0,63}')

# parsed node names; bounded against a stream of distinct garbage names
_CACHE_LIMIT = 200000
_cache: dict[str, ty.Optional['ClusterId']] = {}


class ClusterId(ty.NamedTuple):
    """The identity of one vSphere cluster as nova's node name carries it."""

    moref: str
    #: lower-case vCenter instanceUuid; None for a legacy node name
    vcenter_uuid: ty.Optional[str] = None
    #: display name of a legacy node name; None otherwise
    display_name: ty.Optional[str] = None

    def __str__(self):
        if self.vcenter_uuid is not None:
            return '%s.%s' % (self.moref, self.vcenter_uuid)
        return '%s(%s)' % (self.moref, self.display_name)


def parse_nodename(nodename) -> ty.Optional[ClusterId]:
    """Parse a hypervisor_hostname; None if it is not a VMware cluster."""
    if not isinstance(nodename, str):
        return None
    m = _NODE_RE.fullmatch(nodename)
    if m is None:
        return None
    uuid = m.group('uuid')
    if uuid is not None:
        return ClusterId(sys.intern(m.group('moref')),
                         sys.intern(uuid.lower()))
    return ClusterId(sys.intern(m.group('moref')), None, m.group('name'))


def cluster_of_node(nodename) -> ty.Optional[ClusterId]:
    """:func:`parse_nodename`, cached by node name; never raises."""
    try:
        return _cache[nodename]
    except KeyError:
        pass
    except TypeError:  # unhashable garbage
        return None
    found = parse_nodename(nodename)
    if len(_cache) >= _CACHE_LIMIT:
        _cache.clear()
    _cache[nodename] = found
    return found


def cluster_of(host_state) -> ty.Optional[ClusterId]:
    """The cluster of a HostState (anything with ``nodename``), or None."""
    return cluster_of_node(getattr(host_state, 'nodename', None))


def node_key(nodename):
    """The scheduling unit of a compute node: a VMware cluster's
    :class:`ClusterId` (whichever service host its node is under), else
    the node name (KVM, ironic); None for no node."""
    found = cluster_of_node(nodename)
    if found is not None:
        return found
    return nodename if isinstance(nodename, str) and nodename else None


def host_key(host_state):
    """:func:`node_key` of a HostState's node."""
    return node_key(getattr(host_state, 'nodename', None))


class InvalidClusterReference(ValueError):
    """A cluster reference or a list of them is malformed."""


class UnknownAlias(InvalidClusterReference):
    """A reference names an alias the configuration does not define."""


class ClusterRef(ty.NamedTuple):
    """What an operator's word for a cluster (``text``) matches."""

    moref: str
    #: None: any (a bare moref constrains neither)
    vcenter_uuid: ty.Optional[str] = None
    display_name: ty.Optional[str] = None
    text: str = ''

    def matches(self, cluster: ty.Optional[ClusterId]) -> bool:
        return (cluster is not None and cluster.moref == self.moref and
                self.vcenter_uuid in (None, cluster.vcenter_uuid) and
                self.display_name in (None, cluster.display_name))


class Alias(ty.NamedTuple):
    """A reference to an alias, resolved later against the config."""

    name: str

    @property
    def text(self):
        return self.name


def parse_reference(text):
    """Parse one reference into a :class:`ClusterRef` or an :class:`Alias`;
    raise :class:`InvalidClusterReference` saying what is wrong."""
    if not isinstance(text, str):
        raise InvalidClusterReference(
            'a cluster reference must be a string, not %s'
            % type(text).__name__)
    text = text.strip()
    if not text:
        raise InvalidClusterReference('empty cluster reference')
    if MOREF_RE.fullmatch(text):
        return ClusterRef(sys.intern(text), text=text)
    cluster = parse_nodename(text)
    if cluster is not None:
        return ClusterRef(cluster.moref, cluster.vcenter_uuid,
                          cluster.display_name, text=text)
    if text.lower().startswith('domain-'):
        raise InvalidClusterReference(_explain_bad_cluster(text))
    if ALIAS_RE.fullmatch(text):
        return Alias(text)
    raise InvalidClusterReference(
        "'%s' is neither a cluster (domain-cN, domain-cN.<vCenter uuid>, "
        "domain-cN(<name>)) nor an alias name (a letter or '_', then up to "
        "63 letters, digits, '_', '.', '-')" % text)


def _explain_bad_cluster(text):
    moref = re.match(r'domain-[^.(]*', text, re.IGNORECASE).group(0)
    rest = text[len(moref):]
    if not MOREF_RE.fullmatch(moref):
        return ("'%s': bad cluster moref '%s' (expected 'domain-c' followed "
                "by digits)" % (text, moref))
    if rest.startswith('.'):
        uuid = rest[1:]
        if not _UUID_RE.fullmatch(uuid):
            return ("'%s': bad vCenter uuid '%s' (expected "
                    "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)" % (text, uuid))
    if rest.startswith('('):
        return ("'%s': bad display name (expected 'domain-cN(<name>)' with "
                "a non-empty name without parentheses)" % text)
    return ("'%s': unexpected text '%s' after the moref (expected "
            "'.<vCenter uuid>' or '(<name>)')" % (text, rest))


def parse_reference_list(value):
    """Parse a comma-separated list of references, in preference order,
    into a tuple; :class:`InvalidClusterReference` names the bad element"""
    if not isinstance(value, str):
        raise InvalidClusterReference(
            'expected a comma-separated string, not %s'
            % type(value).__name__)
    if not value.strip():
        raise InvalidClusterReference(
            'empty value: list one or more clusters, separated by commas')
    refs, seen = [], {}
    for index, element in enumerate(value.split(','), start=1):
        try:
            ref = parse_reference(element)
        except InvalidClusterReference as e:
            raise InvalidClusterReference('element %d: %s' % (index, e))
        # the identity: (name,) of an alias, three fields of a ClusterRef
        key = ref[:3]
        if key in seen:
            raise InvalidClusterReference(
                "element %d: '%s' repeats element %d"
                % (index, ref.text, seen[key]))
        seen[key] = index
        refs.append(ref)
    return tuple(refs)


def parse_aliases(mapping):
    """Turn ``{alias: reference text}`` into ``({alias: ClusterRef}, errors)``
    (an alias standing for another alias is an error)."""
    aliases, errors = {}, []
    for name, target in sorted((mapping or {}).items()):
        if not isinstance(name, str) or not ALIAS_RE.fullmatch(name) or \
                name.lower().startswith('domain-'):
            errors.append("alias name '%s' is not valid" % (name,))
            continue
        try:
            ref = parse_reference(target)
        except InvalidClusterReference as e:
            errors.append("alias '%s': %s" % (name, e))
            continue
        if isinstance(ref, Alias):
            errors.append("alias '%s': '%s' is an alias name; an alias must "
                          "stand for a cluster, not another alias"
                          % (name, ref.name))
            continue
        aliases[name] = ref._replace(text=name)
    return aliases, errors


class ClusterPin(ty.NamedTuple):
    """The resolved clusters a request is pinned to, in preference order."""

    refs: tuple

    def rank(self, cluster: ty.Optional[ClusterId]) -> ty.Optional[int]:
        """0 for the first listed cluster, 1 for the next; None if unlisted."""
        if cluster is not None:
            for index, ref in enumerate(self.refs):
                if ref.matches(cluster):
                    return index
        return None


def resolve(refs, aliases) -> ClusterPin:
    """Resolve parsed references against ``{alias: ClusterRef}``; raise
    :class:`UnknownAlias` naming the first alias not defined."""
    resolved = []
    for ref in refs:
        if isinstance(ref, Alias):
            if ref.name not in aliases:
                raise UnknownAlias(
                    "alias '%s' is not defined in [vmware_scheduler] "
                    "cluster_aliases" % ref.name)
            ref = aliases[ref.name]
        resolved.append(ref)
    return ClusterPin(tuple(resolved))
