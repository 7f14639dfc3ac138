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

"""The scenario format (``data/scenario.schema.yaml``, from which the docs
render their field tables) and every problem of a file: jsonschema's
errors as ``(field.path, problem)``, then, in one pass, what a schema
cannot say (the names one part of the file gives to another, fields that
depend on a request's action, what nova itself would refuse).
"""

import functools
import os
import re
import uuid as uuid_lib

import jsonschema
import yaml

from nova_vmw_sched import capacity
from nova_vmw_sched import cluster as cluster_id

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data',
                    'scenario.schema.yaml')
with open(PATH, encoding='utf-8') as _f:
    SCHEMA = yaml.safe_load(_f)

_DEFS = SCHEMA['$defs']
FORMAT_VERSION = SCHEMA['properties']['version']['const']
CONFIG_GROUPS = tuple(SCHEMA['properties']['config']['properties'])
POLICIES = tuple(_DEFS['server_group']['properties']['policy']['enum'])
ACTIONS = tuple(_DEFS['request']['properties']['action']['enum'])
NAME_RE = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}')
#: vCenter uuids derived from names when a scenario gives none
VCENTER_NAMESPACE = uuid_lib.UUID('5f0c6a1e-7d51-4d0c-9a43-2c8f1f9b6a10')

# The checks behind `format` raise ValueError with the problem; a value of
# another type passes (its `type` says what is wrong).

FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks('name', raises=ValueError)
def _name(value):
    if isinstance(value, str) and not NAME_RE.fullmatch(value):
        raise ValueError('bad name %r (a letter or digit, then up to 63 '
                         'letters, digits, "_", ".", ":", "-")' % (value,))
    return True


@FORMATS.checks('moref', raises=ValueError)
def _moref(value):
    if isinstance(value, str) and not cluster_id.MOREF_RE.fullmatch(value):
        raise ValueError('bad cluster moref %r (expected domain-c followed '
                         'by digits)' % (value,))
    return True


def _is_uuid(value):
    return cluster_id.parse_nodename('domain-c1.%s' % value) is not None


@FORMATS.checks('vcenter-uuid', raises=ValueError)
def _uuid(value):
    if isinstance(value, str) and value.strip() and not _is_uuid(value):
        raise ValueError('%r is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-'
                         'xxxxxxxxxxxx)' % value)
    return True


@FORMATS.checks('ha-policy', raises=ValueError)
def _policy(value):
    if isinstance(value, str) and value.strip():
        capacity.parse_policy(value)  # its ValueError says what is wrong
    return True


@FORMATS.checks('availability-zone', raises=ValueError)
def _zone(value):
    """A zone name as nova-api takes it: printable, at most 255
    characters, no ':' (nova reads ``zone:host:node``), no whitespace at
    either end."""
    if not isinstance(value, str) or not value.strip():
        return True
    if ':' in value:
        raise ValueError('bad availability zone %r (nova reserves ":" for '
                         'zone:host:node)' % value)
    if len(value) > 255 or not value.isprintable() or value != value.strip():
        raise ValueError('bad availability zone %r (1 to 255 printable '
                         'characters, no whitespace at either end)' % value)
    return True


# YAML integers only (not 4.0, not true); no NaN for a number
_TYPES = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine_many({
    'integer': lambda _, v: isinstance(v, int) and not isinstance(v, bool),
    'number': lambda _, v: (isinstance(v, (int, float)) and
                            not isinstance(v, bool) and v == v)})
VALIDATOR = jsonschema.validators.extend(
    jsonschema.Draft202012Validator, type_checker=_TYPES)(
        SCHEMA, format_checker=FORMATS)


# -- jsonschema's errors as problems ------------------------------------------

def _join(path, key):
    if isinstance(key, int):
        return '%s[%d]' % (path, key)
    return '%s.%s' % (path, key) if path else str(key)


def _path(*keys):
    return functools.reduce(_join, keys, '')


def _kind(value):
    if value is None:
        return 'an empty value'
    if isinstance(value, float) and value != value:
        return 'NaN'
    return {dict: 'a mapping', list: 'a list', str: 'a string',
            bool: 'a boolean', int: 'an integer',
            float: 'a number'}.get(type(value), type(value).__name__)


def _expected(schema):
    if 'x-expected' in schema:
        return schema['x-expected']
    kind = [t for t in types(schema) if t != 'null'][0]
    return {'object': 'a mapping', 'array': 'a list', 'integer':
            'an integer', 'number': 'a number', 'boolean': 'true or false',
            'string': 'a non-empty string'}[kind]


def types(schema):
    """The JSON types a schema node takes, following a ``$ref``."""
    if 'type' not in schema and '$ref' in schema:
        schema = _DEFS[schema['$ref'].rsplit('/', 1)[1]]
    kinds = schema.get('type', 'string')
    return [kinds] if isinstance(kinds, str) else kinds


def _shown(value):
    if isinstance(value, int) and abs(value) >= 10 ** 30:
        return 'a %d-digit number' % len(str(abs(value)))
    return str(value)


def _range(schema):
    if 'exclusiveMinimum' in schema:
        return 'above %s, at most %s' % (schema['exclusiveMinimum'],
                                         schema['maximum'])
    return '%s to %s' % (schema['minimum'], schema['maximum'])


def _schema_problems(data):
    """``(path, problem)`` for each jsonschema error, the first per path."""
    found = {}
    for error in VALIDATOR.iter_errors(data):
        path = _path(*error.absolute_path)
        schema, value, kind = error.schema, error.instance, error.validator
        if 'propertyNames' in error.absolute_schema_path:
            # jsonschema's path ends at the mapping; the problem is the key
            found.setdefault(_join(path, value), str(error.cause) if
                             error.cause else 'expected %s, got %s' % (
                                 _expected(schema), _kind(value)))
        elif kind == 'required':
            for name in schema['required']:
                if name not in value:
                    found.setdefault(_join(path, name),
                                     'required field is missing')
        elif kind == 'additionalProperties':
            for name in value:
                if name not in schema['properties']:
                    found.setdefault(_join(path, name), 'unknown field '
                                     '(expected one of: %s)'
                                     % ', '.join(schema['properties']))
        elif kind in ('type', 'pattern'):
            found.setdefault(path, 'expected %s, got %s' % (
                _expected(schema), _kind(value)))
        elif kind in ('minItems', 'minProperties'):
            found.setdefault(path, 'expected %s, got an empty %s' % (
                _expected(schema), 'list' if kind == 'minItems' else
                'mapping'))
        elif kind in ('minimum', 'maximum', 'exclusiveMinimum'):
            found.setdefault(path, '%s is out of range (%s)' % (
                _shown(value), _range(schema)))
        elif kind == 'enum':
            found.setdefault(path, '%r is not one of: %s' % (
                value, ', '.join(schema['enum'])))
        elif kind == 'const':  # the format version, the one const
            found.setdefault(path, 'unsupported format version %r (this '
                             'release reads version %r)'
                             % (value, schema['const']))
        elif kind == 'format':
            found.setdefault(path, str(error.cause))
        else:  # the schema uses no other keyword; say what jsonschema says
            found.setdefault(path, error.message)
    return list(found.items())


def problems(data):
    """Every problem of a parsed scenario: ``[(field.path, problem)]``."""
    return _schema_problems(data) + _Relations(data).problems


# -- what a schema cannot say -------------------------------------------------

def vcenter_uuid(name, given=None):
    """A vCenter's uuid: the one given (lower case) or one derived from its
    name."""
    if given is None:
        return str(uuid_lib.uuid5(VCENTER_NAMESPACE, name))
    return given.lower()


def _map(value):
    return value if isinstance(value, dict) else {}


def _list(value):
    return value if isinstance(value, list) else []


def _count_of(request):
    """The instances of a boot request (1 while its count is not valid)."""
    count = request.get('count', 1)
    limit = _DEFS['request']['properties']['count']['maximum']
    return count if type(count) is int and 1 <= count <= limit else 1


def instance_names(name, count):
    return (name,) if count == 1 else tuple(
        '%s-%d' % (name, i) for i in range(1, count + 1))


class _Relations:
    """The relations between parts of the file, in one pass. Tolerates
    what the schema refuses: it checks what is well-formed."""

    def __init__(self, data):
        self.problems = []
        top = _map(data)
        self.labels = self.vcenters(_map(top.get('vcenters')))
        self.labels.update(self.nodes(_map(top.get('nodes'))))
        if isinstance(top.get('services'), dict):
            self.services(top['services'], _map(top.get('aggregates')))
        self.flavors = _map(top.get('flavors'))
        self.groups = _map(top.get('server_groups'))
        for name, group in self.groups.items():
            group = _map(group)
            if 'max_server_per_host' in _map(group.get('rules')) and \
                    group.get('policy') != 'anti-affinity':
                self.bad(_path('server_groups', name, 'rules',
                               'max_server_per_host'), 'only the '
                         'anti-affinity policy takes this rule')
        for name, spec in self.flavors.items():
            self.extra_specs(_map(_map(spec).get('extra_specs')),
                             _path('flavors', name, 'extra_specs'))
        instances = _map(top.get('instances'))
        for name, instance in instances.items():
            self.instance(_map(instance), _path('instances', name))
        #: {instance name: its flavor, None if it has none}, for moves
        self.flavor_of = {name: self.known(_map(i).get('flavor'),
                                           self.flavors)
                          for name, i in instances.items()}
        for index, request in enumerate(_list(top.get('requests'))):
            if isinstance(request, dict):
                self.request(request, index)
        self.config(_map(top.get('config')))

    def bad(self, path, problem):
        self.problems.append((path, problem))

    @staticmethod
    def known(name, names):
        return name if isinstance(name, str) and name in names else None

    def reference(self, item, field, path, names, what):
        name = item.get(field)
        if isinstance(name, str) and name not in names:
            self.bad(_join(path, field), 'no %s named %r' % (what, name))

    def vcenters(self, vcenters):
        labels, uuids = {}, {}
        for name, spec in vcenters.items():
            spec = _map(spec)
            given = spec.get('uuid')
            if isinstance(name, str) and (given is None or (
                    isinstance(given, str) and _is_uuid(given))):
                uuid = vcenter_uuid(name, given)
                if uuid in uuids:
                    self.bad(_path('vcenters', name, 'uuid'),
                             'vCenter %s has the same uuid %s (a vCenter\'s '
                             'instanceUuid names its clusters in nova; two '
                             'cannot share one)' % (uuids[uuid], uuid))
                uuids.setdefault(uuid, name)
            for moref, cluster in _map(spec.get('clusters')).items():
                if isinstance(moref, str) and \
                        cluster_id.MOREF_RE.fullmatch(moref):
                    labels['%s/%s' % (name, moref)] = None
                self.hosts_or_inventory(
                    _map(cluster), _path('vcenters', name, 'clusters', moref))
        return labels

    def hosts_or_inventory(self, cluster, path):
        """A cluster gives its ESXi hosts or its placement inventory."""
        if 'inventory' in cluster:
            for key in ('hosts', 'reserved', 'allocation_ratios', 'disk_gb'):
                if key in cluster:
                    self.bad(_join(path, key), 'not with inventory (the '
                             'inventory gives it)')
        elif 'hosts' not in cluster:
            self.bad(_join(path, 'hosts'), 'required field is missing (or '
                     'give inventory)')

    def nodes(self, nodes):
        """Labels of the nodes that are no vSphere cluster."""
        labels = {}
        for name in nodes:
            if not isinstance(name, str):
                continue
            if cluster_id.parse_nodename(name) is not None:
                self.bad(_path('nodes', name), 'node %s is a vSphere '
                         'cluster: write it under vcenters' % name)
            labels[name] = None
        return labels

    def services(self, services, aggregates):
        owner = {}
        for name, spec in services.items():
            for index, aggregate in enumerate(
                    _list(_map(spec).get('aggregates'))):
                if isinstance(aggregate, str) and \
                        aggregate not in aggregates:
                    self.bad(_path('services', name, 'aggregates', index),
                             'no host aggregate named %r under aggregates'
                             % aggregate)
            path = _path('services', name, 'clusters')
            for index, label in enumerate(_list(_map(spec).get('clusters'))):
                if not isinstance(label, str):
                    continue
                if label not in self.labels:
                    self.bad(_join(path, index), 'no cluster %r (write it '
                             'as vcenter/domain-cN, as under vcenters)'
                             % label)
                elif label in owner:
                    self.bad(_join(path, index), 'cluster %s is already '
                             'managed by service %s' % (label, owner[label]))
                else:
                    owner[label] = name
        for label in self.labels:
            if label not in owner:
                self.bad('services', 'cluster %s is not managed by any '
                         'service' % label)

    def instance(self, instance, path):
        self.reference(instance, 'cluster', path, self.labels,
                       'cluster (vcenter/domain-cN)')
        self.reference(instance, 'flavor', path, self.flavors, 'flavor')
        self.reference(instance, 'group', path, self.groups, 'server group')

    def request(self, request, index):
        path = 'requests[%d]' % index
        action = request.get('action', 'boot')
        if action not in ACTIONS[1:]:  # an unknown action is said already
            return self.boot(request, path, index)
        for field in ('group', 'count', 'hints', 'availability_zone'):
            if field in request:
                self.bad(_join(path, field), 'a move takes the instance\'s '
                         'own %s; only a boot sets it' % (
                             'server group' if field == 'group' else
                             field.replace('_', ' ')))
        instance = request.get('instance')
        if 'instance' not in request:
            self.bad(path + '.instance', 'required field is missing (a %s '
                     'names the instance it moves)' % action)
        elif not isinstance(instance, str):
            pass
        elif instance not in self.flavor_of:
            self.bad(path + '.instance', 'no instance %r defined under '
                     'instances or by an earlier request' % instance)
        elif self.flavor_of[instance] is None:
            self.bad(path + '.instance', 'instance %r has no flavor; a move '
                     'needs the flavor it holds' % instance)
        elif action != 'resize':
            if 'flavor' in request:
                self.bad(path + '.flavor', 'only a resize changes the '
                         'flavor')
        elif 'flavor' not in request:
            self.bad(path + '.flavor', 'required field is missing (a resize '
                     'needs the new flavor)')
        elif request['flavor'] == self.flavor_of[instance]:
            self.bad(path + '.flavor', 'the instance has flavor %r already '
                     '(nova refuses a resize to the same flavor; use action: '
                     'migrate)' % request['flavor'])
        else:
            self.reference(request, 'flavor', path, self.flavors, 'flavor')
            if self.known(request['flavor'], self.flavors):
                self.flavor_of[instance] = request['flavor']

    def boot(self, request, path, index):
        if 'instance' in request:
            self.bad(path + '.instance', 'only a move names an instance '
                     '(action: %s)' % ', '.join(ACTIONS[1:]))
        if 'flavor' not in request:
            self.bad(path + '.flavor', 'required field is missing')
        self.reference(request, 'flavor', path, self.flavors, 'flavor')
        self.reference(request, 'group', path, self.groups, 'server group')
        for hint, raw in _map(request.get('hints')).items():
            for i, name in enumerate([raw] if isinstance(raw, str) else
                                     _list(raw)):
                if isinstance(name, str) and name not in self.flavor_of:
                    self.bad(_join(path + '.hints.' + str(hint), i)
                             if isinstance(raw, list) else
                             path + '.hints.' + str(hint),
                             'no instance %r defined under instances or by '
                             'an earlier request' % name)
        name = request.get('name')
        if not isinstance(name, str):
            name = 'request-%d' % (index + 1)
        flavor = self.known(request.get('flavor'), self.flavors)
        for instance in instance_names(name, _count_of(request)):
            if instance in self.flavor_of:
                self.bad(path + '.name', 'instance name %r is already taken '
                         '(by an instance or an earlier request)' % instance)
            self.flavor_of[instance] = flavor

    def extra_specs(self, specs, path):
        if not specs:
            return
        from nova.api.validation.extra_specs import validators
        from nova import exception
        for key, value in specs.items():
            if isinstance(key, str) and isinstance(value, (str, int, float)):
                try:
                    validators.validate(key, spec_value(value))
                except exception.ValidationError as e:
                    self.bad(_join(path, key),
                             'nova-api would refuse it: %s' % e)

    def config(self, config):
        settings = [(group, option, value) for group in CONFIG_GROUPS
                    for option, value in _map(config.get(group)).items()]
        if not settings:
            return
        import nova.conf
        from nova_vmw_sched import conf as vmw_conf
        conf = nova.conf.CONF
        vmw_conf.register_opts(conf)
        for group, option, value in settings:
            problem = _check_option(conf, group, option, value)
            if problem:
                self.bad(_path('config', group, option), problem)


def spec_value(value):
    """An extra spec's value as nova stores it: a string."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


def _check_option(conf, group, option, value):
    """Why ``[group] option = value`` cannot be set; None if it can."""
    try:
        getattr(conf[group], option)
    except Exception:
        return 'no such option in [%s]' % group
    try:
        conf.set_override(option, value, group)
    except Exception as e:  # oslo.config raises what its types raise
        return 'bad value %r: %s' % (value, str(e) or type(e).__name__)
    finally:
        try:
            conf.clear_override(option, group)
        except Exception:
            pass
    return None
