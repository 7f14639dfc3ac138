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

The format is documented field by field in ``doc/source/scenario-format.rst``
and by example in ``etc/sample-scenario.yaml``; keep the three in step.
:func:`load` raises :class:`ScenarioError`, whose text has one line per
problem, ``FILE: field.path: problem``; it never lets a YAML or type error
escape.
"""

import re
import sys
import typing as ty
import uuid as uuid_lib

import yaml

FORMAT_VERSION = 1
NAME_RE = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}')
POLICIES = ('affinity', 'anti-affinity', 'soft-affinity',
            'soft-anti-affinity')
STATES = ('up', 'down')
CONFIG_GROUPS = ('filter_scheduler', 'scheduler', 'vmware_scheduler')
HINTS = ('same_host', 'different_host')
MAX_COUNT = 1000
#: vCenter uuids derived from names when a scenario gives none
VCENTER_NAMESPACE = uuid_lib.UUID('5f0c6a1e-7d51-4d0c-9a43-2c8f1f9b6a10')
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
    #: placement's inventories as given (``inventory`` instead of
    #: ``hosts``): {resource class: {total, reserved, max_unit,
    #: allocation_ratio, ...}}; None: derived from ``hosts``
    inventory: ty.Optional[dict] = None
    #: the compute node's hypervisor_type; a node under ``nodes`` (not a
    #: vSphere cluster: ``vcenter`` is None, ``moref`` its node name) has
    #: its own
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


#: what a request does: a boot, or a move of an existing instance
ACTIONS = ('boot', 'migrate', 'resize', 'live-migrate', 'evacuate')


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
        if self.count == 1:
            return (self.name,)
        return tuple('%s-%d' % (self.name, i)
                     for i in range(1, self.count + 1))


class Scenario:
    """A validated scenario: plain data, no nova objects."""

    def __init__(self, source, clusters, services, flavors, groups=None,
                 instances=None, requests=(), config=None, description=None):
        self.source = source
        self.description = description
        #: [Cluster], in file order (placement's candidate order)
        self.clusters = list(clusters)
        #: [Service], in file order
        self.services = list(services)
        self.flavors = dict(flavors)
        self.groups = dict(groups or {})
        #: {name: Instance}, in file order
        self.instances = dict(instances or {})
        self.requests = list(requests)
        #: {group: {option: value}} set on top of nova.conf
        self.config = dict(config or {})
        self.by_label = {c.label: c for c in self.clusters}

    def with_services(self, services):
        """The same scenario with the clusters under other services."""
        return Scenario(self.source, self.clusters, services, self.flavors,
                        self.groups, self.instances, self.requests,
                        self.config, self.description)


class ScenarioError(Exception):
    """A scenario file cannot be used; the text names file, field, problem."""

    def __init__(self, source, problems):
        self.source = source
        self.problems = list(problems)
        lines = ['%s: %s: %s' % (source, path, problem) if path else
                 '%s: %s' % (source, problem)
                 for path, problem in self.problems[:MAX_PROBLEMS]]
        if len(self.problems) > MAX_PROBLEMS:
            lines.append('%s: ... and %d more problems' % (
                source, len(self.problems) - MAX_PROBLEMS))
        super().__init__('\n'.join(lines))


# -- reading YAML -------------------------------------------------------------

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


def load(path):
    """Read and validate the scenario file at ``path`` (``-``: standard
    input)."""
    try:
        if path == '-':
            text = sys.stdin.read()
        else:
            with open(path, encoding='utf-8') as f:
                text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError(path, [(None, 'cannot read the file: %s' % (
            getattr(e, 'strerror', None) or e))])
    return loads(text, path)


def loads(text, source='<scenario>'):
    """Validate a scenario given as YAML text."""
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as e:
        raise ScenarioError(source, [_yaml_problem(e)])
    return from_data(data, source)


def from_data(data, source='<scenario>'):
    """Validate a scenario given as parsed YAML (dicts and lists)."""
    from nova_vmw_sched.simulate import validate
    checker = validate.Checker(source)
    scenario = checker.scenario(data)
    if checker.problems:
        raise ScenarioError(source, checker.problems)
    return scenario
