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

"""Load and validate a scenario file into plain objects.

:func:`load` raises :class:`ScenarioError`, whose text has one line per
problem, ``FILE: field.path: problem``; it never lets a YAML or type error
escape.
"""

import json
import sys
import typing as ty

import yaml

from nova_vmw_sched import capacity
from nova_vmw_sched.simulate import schema

#: problems listed before the rest are summarised
MAX_PROBLEMS = 50


class Host(ty.NamedTuple):
    """A group of identical ESXi hosts of a cluster."""

    cpus: int
    memory_mb: int
    count: int = 1
    maintenance: bool = False


class Amounts(ty.NamedTuple):
    """Resources in use or reserved on a cluster."""

    vcpus: int = 0
    memory_mb: int = 0
    disk_gb: int = 0
    instances: int = 0


class Ratios(ty.NamedTuple):
    """Allocation ratios of a cluster's inventories."""

    vcpu: float = 4.0
    memory_mb: float = 1.0
    disk_gb: float = 1.0


DEFAULT_RESERVED = Amounts(vcpus=0, memory_mb=512, disk_gb=0)


class Cluster(ty.NamedTuple):
    """One vSphere cluster: one nova compute node."""

    vcenter: str
    vcenter_uuid: str
    moref: str
    name: ty.Optional[str] = None
    hosts: tuple = ()
    used: Amounts = Amounts()
    reserved: Amounts = DEFAULT_RESERVED
    ratios: Ratios = Ratios()
    disk_gb: ty.Optional[int] = None
    ha_policy: ty.Optional[str] = None
    #: placement's inventories as given; None: derived from ``hosts``
    inventory: ty.Optional[dict] = None
    #: a node under ``nodes`` (``vcenter`` None, ``moref`` its node name)
    #: has its own
    hypervisor_type: str = 'VMware vCenter Server'

    @property
    def label(self):
        """How the scenario and the report name the cluster."""
        if self.vcenter is None:
            return self.moref
        return '%s/%s' % (self.vcenter, self.moref)

    @property
    def nodename(self):
        """nova's hypervisor_hostname of the cluster."""
        if self.vcenter is None:
            return self.moref
        return '%s.%s' % (self.moref, self.vcenter_uuid)


class Service(ty.NamedTuple):
    """A nova-compute service and the clusters it manages."""

    name: str
    clusters: tuple
    state: str = 'up'
    disabled: bool = False
    disabled_reason: ty.Optional[str] = None
    #: the availability zone of its host aggregate; None: nova's default
    availability_zone: ty.Optional[str] = None
    #: ``openstack compute service set --down`` (nova judges it down)
    forced_down: bool = False
    #: names of the host aggregates (other than its zone's) it is in
    aggregates: tuple = ()


class Flavor(ty.NamedTuple):
    name: str
    vcpus: int
    memory_mb: int
    disk_gb: int = 0
    ephemeral_gb: int = 0
    extra_specs: dict = {}


class Group(ty.NamedTuple):
    name: str
    policy: str
    rules: dict = {}
    #: the owner's project id (informational: the simulator does not use it)
    project: ty.Optional[str] = None


class Instance(ty.NamedTuple):
    """An instance that exists before the first request."""

    name: str
    cluster: str
    flavor: ty.Optional[str] = None
    group: ty.Optional[str] = None
    #: the owner's project id (informational: the simulator does not use it)
    project: ty.Optional[str] = None


class Request(ty.NamedTuple):
    """One boot request (``count`` instances, like ``--min-count``), or the
    move of one instance (``action``, ``instance``; ``flavor`` the new
    flavor of a resize, None for the other moves)."""

    name: str
    flavor: ty.Optional[str]
    group: ty.Optional[str] = None
    count: int = 1
    same_host: tuple = ()
    different_host: tuple = ()
    action: str = 'boot'
    instance: ty.Optional[str] = None
    #: the zone a boot asks for (``openstack server create
    #: --availability-zone``)
    availability_zone: ty.Optional[str] = None

    @property
    def is_move(self):
        return self.action != 'boot'

    @property
    def instance_names(self):
        if self.is_move:
            return (self.instance,)
        return schema.instance_names(self.name, self.count)


class Scenario(ty.NamedTuple):
    """A validated scenario: plain data, no nova objects."""

    source: str
    #: in file order (placement's candidate order)
    clusters: list
    services: list
    flavors: dict
    groups: dict
    instances: dict
    requests: list
    #: {group: {option: value}} set on top of nova.conf
    config: dict
    description: ty.Optional[str]
    #: {host aggregate name: its metadata}
    aggregates: dict
    #: {cluster label: Cluster}
    by_label: dict


class ScenarioError(Exception):
    """A scenario file cannot be used; the text names file, field, problem."""

    def __init__(self, source, problems):
        lines = ['%s: %s: %s' % (source, path, problem) if path else
                 '%s: %s' % (source, problem)
                 for path, problem in problems[:MAX_PROBLEMS]]
        if len(problems) > MAX_PROBLEMS:
            lines.append('%s: ... and %d more problems' % (
                source, len(problems) - MAX_PROBLEMS))
        super().__init__('\n'.join(lines))


class _Loader(getattr(yaml, 'CSafeLoader', yaml.SafeLoader)):
    """SafeLoader (libyaml's parser where PyYAML has it: a snapshot of
    10,000 clusters parses in a fifth of the time) that refuses a key given
    twice in one mapping."""


def _construct_mapping(loader, node, deep=False):
    loader.flatten_mapping(node)
    seen = {}
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, 'a mapping key must be a scalar',
                key_node.start_mark)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                'in the mapping starting at line %d'
                % (node.start_mark.line + 1), node.start_mark,
                'duplicate key %r (first at line %d)'
                % (key, seen[key] + 1), key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _yaml_problem(e):
    mark = getattr(e, 'problem_mark', None)
    where = ('line %d, column %d' % (mark.line + 1, mark.column + 1)
             if mark is not None else None)
    text = ' '.join(str(part) for part in (
        getattr(e, 'context', None), getattr(e, 'problem', None)) if part)
    return where, 'not valid YAML: %s' % (text or e)


def _read(path):
    try:
        if path == '-':
            return sys.stdin.read()
        with open(path, encoding='utf-8') as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError(path, [(None, 'cannot read the file: %s' % (
            getattr(e, 'strerror', None) or e))])


def _unique_keys(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError('duplicate key %r' % key)
        seen[key] = value
    return seen


def _parse(text, source):
    """Parsed YAML. A JSON document (what ``snapshot`` writes; JSON is
    YAML) goes through Python's JSON parser: 10,000 clusters in about a
    second instead of 20 with libyaml. Comment lines before it are
    allowed."""
    lines = text.split('\n')
    blanked = ['' if line.lstrip().startswith('#') else line
               for line in lines]
    if ''.join(blanked).lstrip().startswith('{'):
        try:
            return json.loads('\n'.join(blanked),
                              object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as e:
            _problem(source, 'line %d, column %d' % (e.lineno, e.colno),
                     'not valid JSON: %s' % e.msg)
        except ValueError as e:   # a key given twice
            _problem(source, None, 'not valid JSON: %s' % e)
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as e:
        raise ScenarioError(source, [_yaml_problem(e)])


def _problem(source, where, problem):
    raise ScenarioError(source, [(where, problem)])


def load(path, requests=None):
    """Read and validate the scenario file at ``path`` (``-``: standard
    input); ``requests``: a file whose ``requests`` are added to the
    scenario's (asking a snapshot something without editing it)."""
    data = _parse(_read(path), path)
    if requests is None:
        return from_data(data, path)
    extra = _parse(_read(requests), requests)
    if (not isinstance(extra, dict) or set(extra) != {'requests'}
            or not isinstance(extra['requests'], list)):
        _problem(requests, None, 'a requests file holds one key, '
                 '"requests", a list of requests')
    if isinstance(data, dict):
        data = dict(data, requests=list(data.get('requests') or [])
                    + extra['requests'])
    return from_data(data, '%s + %s' % (path, requests))


def loads(text, source='<scenario>'):
    """Validate a scenario given as YAML (or JSON) text."""
    return from_data(_parse(text, source), source)


def from_data(data, source='<scenario>'):
    """Validate a scenario given as parsed YAML (dicts and lists)."""
    problems = schema.problems(data)
    if problems:
        raise ScenarioError(source, problems)
    clusters = [
        _cluster(vcenter, schema.vcenter_uuid(vcenter, spec.get('uuid')),
                 moref, item)
        for vcenter, spec in data['vcenters'].items()
        for moref, item in spec['clusters'].items()]
    clusters += [_cluster(None, None, name, dict(item))
                 for name, item in (data.get('nodes') or {}).items()]
    services = [Service(name, tuple(item.pop('clusters')),
                        **dict(item, aggregates=tuple(
                            item.get('aggregates') or ())))
                for name, item in _items(data, 'services')]
    aggregates = {name: dict(item.get('metadata') or {})
                  for name, item in _items(data, 'aggregates')}
    flavors = {name: Flavor(name, **dict(item, extra_specs={
        key: schema.spec_value(value)
        for key, value in (item.get('extra_specs') or {}).items()}))
        for name, item in _items(data, 'flavors')}
    groups = {name: Group(name, item['policy'],
                          dict(item.get('rules') or {}),
                          item.get('project'))
              for name, item in _items(data, 'server_groups')}
    instances = {name: Instance(name, **item)
                 for name, item in _items(data, 'instances')}
    requests = [_request(index, dict(item))
                for index, item in enumerate(data['requests'])]
    config = {group: dict(options)
              for group, options in (data.get('config') or {}).items()
              if options}
    return Scenario(source, clusters, services, flavors, groups, instances,
                    requests, config, data.get('description'), aggregates,
                    {c.label: c for c in clusters})


def _items(data, section):
    return [(name, dict(item))
            for name, item in (data.get(section) or {}).items()]


def _cluster(vcenter, vcenter_uuid, moref, item):
    policy = item.get('ha_policy')
    common = dict(name=item.get('name'),
                  used=Amounts(**(item.get('used') or {})),
                  ha_policy=None if policy is None else str(
                      capacity.parse_policy(policy)))
    if vcenter is None:   # a node that is no vSphere cluster
        common['hypervisor_type'] = item.get('hypervisor_type') or 'QEMU'
    if 'inventory' not in item:
        return Cluster(
            vcenter, vcenter_uuid, moref,
            hosts=tuple(Host(**host) for host in item['hosts']),
            reserved=DEFAULT_RESERVED._replace(**(item.get('reserved') or
                                                  {})),
            ratios=Ratios(**{key: float(value) for key, value in (
                item.get('allocation_ratios') or {}).items()}),
            disk_gb=item.get('disk_gb'), **common)
    inventory = item['inventory'] or {}

    def parts(key, default):
        return [inventory.get(rc, {}).get(key, default)
                for rc in ('VCPU', 'MEMORY_MB', 'DISK_GB')]
    return Cluster(
        vcenter, vcenter_uuid, moref, reserved=Amounts(*parts('reserved', 0)),
        ratios=Ratios(*map(float, parts('allocation_ratio', 1.0))),
        disk_gb=parts('total', None)[2] or None, inventory=inventory,
        **common)


def _request(index, item):
    name = item.pop('name', None) or 'request-%d' % (index + 1)
    if item.get('action', 'boot') != 'boot':
        return Request(name, item.get('flavor'), action=item['action'],
                       instance=item['instance'])
    hints = item.pop('hints', None) or {}
    return Request(name, **item, **{
        hint: (hints[hint],) if isinstance(hints[hint], str) else
        tuple(hints[hint]) for hint in hints})
