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

"""Validation of scenario data: every problem, with the path of its field.

:class:`Checker` turns parsed YAML into the plain objects of
:mod:`nova_vmw_sched.simulate.scenario`, collecting a ``(field.path,
problem)`` pair for everything that is wrong instead of stopping at the
first. The rules are documented in ``doc/source/scenario-format.rst``; keep
the two in step.
"""

import uuid as uuid_lib

from nova_vmw_sched import capacity
from nova_vmw_sched import cluster as cluster_id
from nova_vmw_sched.simulate.scenario import (
    ACTIONS, Amounts, Cluster, CONFIG_GROUPS, DEFAULT_RESERVED, Flavor,
    FORMAT_VERSION, Group, HINTS, Host, Instance, MAX_COUNT, NAME_RE,
    POLICIES, Ratios, Request, Scenario, Service, STATES, VCENTER_NAMESPACE)


#: the largest integer a scenario may give (sizes, amounts): a petabyte in
#: MB, well inside what a float holds exactly
MAX_INTEGER = 2 ** 50
#: resource classes a cluster's ``inventory`` may give
INVENTORY_CLASSES = ('VCPU', 'MEMORY_MB', 'DISK_GB')


def _join(path, key):
    if isinstance(key, int):
        return '%s[%d]' % (path, key)
    return '%s.%s' % (path, key) if path else str(key)


_MISSING = object()


class Checker:
    """Collects every problem of one file, with the path of its field."""

    def __init__(self, source):
        self.source = source
        self.problems = []

    def bad(self, path, problem):
        self.problems.append((path, problem))

    # -- primitives -----------------------------------------------------------

    def mapping(self, value, path, fields, required=()):
        """A dict with only ``fields``; None (and a problem) otherwise."""
        if not isinstance(value, dict):
            self.bad(path, 'expected a mapping, got %s' % _kind(value))
            return None
        for key in value:
            if key not in fields:
                self.bad(_join(path, key), 'unknown field (expected one of: '
                         '%s)' % ', '.join(fields))
        for key in required:
            if key not in value:
                self.bad(_join(path, key), 'required field is missing')
        return value

    def named(self, value, path, what, allow_empty=False):
        """A dict of ``{name: item}`` with well-formed names."""
        if value is _MISSING:  # said already: required field is missing
            return {}
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.bad(path, 'expected a mapping of %s names, got %s'
                     % (what, _kind(value)))
            return {}
        if not value and not allow_empty:
            self.bad(path, 'at least one %s is required' % what)
        good = {}
        for name, item in value.items():
            if not isinstance(name, str) or not NAME_RE.fullmatch(name):
                self.bad(_join(path, name), 'bad %s name %r (a letter or '
                         'digit, then up to 63 letters, digits, "_", ".", '
                         '":", "-")' % (what, name))
                continue
            good[name] = item
        return good

    def integer(self, value, path, low, high=MAX_INTEGER, default=_MISSING):
        """An integer from ``low`` to ``high``; checked before anything is
        built from it (an out-of-range value gives the default)."""
        if value is _MISSING:
            return default
        fallback = default if default is not _MISSING else low
        if isinstance(value, bool) or not isinstance(value, int):
            self.bad(path, 'expected an integer, got %s' % _kind(value))
            return fallback
        if value < low or value > high:
            shown = str(value) if abs(value) < 10 ** 30 else \
                'a %d-digit number' % len(str(abs(value)))
            self.bad(path, '%s is out of range (%d to %d)' % (
                shown, low, high))
            return fallback
        return value

    def ratio(self, value, path, default):
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.bad(path, 'expected a number, got %s' % _kind(value))
            return default
        if not 0 < value <= 1000:
            self.bad(path, '%s is out of range (above 0, at most 1000)'
                     % value)
            return default
        return float(value)

    def boolean(self, value, path, default=False):
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            self.bad(path, 'expected true or false, got %s' % _kind(value))
            return default
        return value

    def text(self, value, path, default=None, choices=None):
        if value is _MISSING or (value is None and choices is None):
            return default
        if not isinstance(value, str) or not value.strip():
            self.bad(path, 'expected a non-empty string, got %s'
                     % _kind(value))
            return default
        if choices is not None and value not in choices:
            self.bad(path, '%r is not one of: %s' % (value,
                                                     ', '.join(choices)))
            return default
        return value

    def zone(self, value, path):
        """An availability zone name as nova-api takes it: printable, at
        most 255 characters, no ':' (nova reads ``zone:host:node``), no
        whitespace at either end."""
        name = self.text(value, path)
        if name is None:
            return None
        if ':' in name:
            self.bad(path, 'bad availability zone %r (nova reserves ":" '
                     'for zone:host:node)' % name)
        elif (len(name) > 255 or not name.isprintable() or
              name != name.strip()):
            self.bad(path, 'bad availability zone %r (1 to 255 printable '
                     'characters, no whitespace at either end)' % name)
        else:
            return name
        return None

    def reference(self, value, path, known, what):
        """A name that must be a key of ``known``."""
        name = self.text(value, path)
        if name is not None and name not in known:
            self.bad(path, 'no %s named %r' % (what, name))
            return None
        return name

    # -- the file -------------------------------------------------------------

    def scenario(self, data):
        top = self.mapping(data, '', (
            'version', 'description', 'config', 'vcenters', 'nodes',
            'services', 'flavors', 'server_groups', 'instances',
            'requests'),
            required=('version', 'vcenters', 'services', 'flavors',
                      'requests'))
        if top is None:
            return None
        version = top.get('version', _MISSING)
        if version is not _MISSING and version != FORMAT_VERSION:
            self.bad('version', 'unsupported format version %r (this '
                     'release reads version %d)' % (version, FORMAT_VERSION))
        description = self.text(top.get('description', _MISSING),
                                'description')
        config = self.config(top.get('config', _MISSING))
        clusters = self.vcenters(top.get('vcenters', _MISSING))
        clusters += self.nodes(top.get('nodes', _MISSING))
        by_label = {c.label: c for c in clusters}
        services = self.services(top.get('services', _MISSING), by_label)
        flavors = self.flavors(top.get('flavors', _MISSING))
        groups = self.groups(top.get('server_groups', _MISSING))
        instances = self.instances(top.get('instances', _MISSING), by_label,
                                   flavors, groups)
        requests = self.requests(top.get('requests', _MISSING), flavors,
                                 groups, instances)
        return Scenario(self.source, clusters, services, flavors, groups,
                        instances, requests, config, description)

    def config(self, value):
        if value is _MISSING or value is None:
            return {}
        groups = self.mapping(value, 'config', CONFIG_GROUPS)
        if groups is None:
            return {}
        import nova.conf
        from nova_vmw_sched import conf as vmw_conf
        conf = nova.conf.CONF
        vmw_conf.register_opts(conf)
        result = {}
        for group, options in groups.items():
            if group not in CONFIG_GROUPS:
                continue
            path = _join('config', group)
            if not isinstance(options, dict):
                self.bad(path, 'expected a mapping of option names, got %s'
                         % _kind(options))
                continue
            for option, setting in options.items():
                problem = _check_option(conf, group, option, setting)
                if problem:
                    self.bad(_join(path, option), problem)
                else:
                    result.setdefault(group, {})[option] = setting
        return result

    def vcenters(self, value):
        clusters = []
        seen_uuids = {}
        for name, item in self.named(value, 'vcenters', 'vCenter').items():
            path = _join('vcenters', name)
            item = self.mapping(item, path, ('uuid', 'clusters'),
                                required=('clusters',))
            if item is None:
                continue
            vc_uuid = self.text(item.get('uuid', _MISSING),
                                _join(path, 'uuid'))
            if vc_uuid is None:
                vc_uuid = str(uuid_lib.uuid5(VCENTER_NAMESPACE, name))
            elif cluster_id.parse_nodename('domain-c1.%s' % vc_uuid) is None:
                self.bad(_join(path, 'uuid'), '%r is not a UUID '
                         '(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)' % vc_uuid)
                continue
            vc_uuid = vc_uuid.lower()
            if vc_uuid in seen_uuids:
                self.bad(_join(path, 'uuid'), 'vCenter %s has the same uuid '
                         '%s (a vCenter\'s instanceUuid names its clusters '
                         'in nova; two cannot share one)'
                         % (seen_uuids[vc_uuid], vc_uuid))
                continue
            seen_uuids[vc_uuid] = name
            clusters_path = _join(path, 'clusters')
            raw = item.get('clusters', _MISSING)
            if raw is _MISSING:
                continue
            if not isinstance(raw, dict) or not raw:
                self.bad(clusters_path, 'expected a mapping of cluster '
                         'morefs (domain-cN), got %s' % _kind(raw))
                continue
            for moref, spec in raw.items():
                found = self.cluster(name, vc_uuid, moref, spec,
                                     _join(clusters_path, moref))
                if found is not None:
                    clusters.append(found)
        return clusters

    def cluster(self, vcenter, vc_uuid, moref, spec, path):
        node = cluster_id.parse_nodename('%s.%s' % (moref, vc_uuid))
        if (not isinstance(moref, str) or node is None or
                node.moref != moref):
            self.bad(path, 'bad cluster moref %r (expected domain-c '
                     'followed by digits)' % (moref,))
            return None
        return self._node(vcenter, vc_uuid, moref, spec, path)

    def nodes(self, value):
        """Compute nodes that are no vSphere cluster, by node name."""
        if value is _MISSING or value is None:
            return []
        if not isinstance(value, dict):
            self.bad('nodes', 'expected a mapping of node names, got %s'
                     % _kind(value))
            return []
        found = []
        for name, spec in value.items():
            path = _join('nodes', name)
            if (not isinstance(name, str) or not name.strip() or
                    '/' in name or len(name) > 255):
                self.bad(path, 'bad node name %r (1 to 255 characters, '
                         'no "/")' % (name,))
                continue
            if cluster_id.parse_nodename(name) is not None:
                self.bad(path, 'node %s is a vSphere cluster: write it '
                         'under vcenters' % name)
                continue
            node = self._node(None, None, name, spec, path, other=True)
            if node is not None:
                found.append(node)
        return found

    def _node(self, vcenter, vc_uuid, moref, spec, path, other=False):
        fields = ('name', 'hosts', 'inventory', 'used', 'reserved',
                  'allocation_ratios', 'disk_gb', 'ha_policy')
        if other:
            fields = ('inventory', 'used', 'hypervisor_type')
        spec = self.mapping(spec, path, fields)
        if spec is None:
            return None
        if 'inventory' in spec:
            for key in ('hosts', 'reserved', 'allocation_ratios', 'disk_gb'):
                if key in spec:
                    self.bad(_join(path, key), 'not with inventory (the '
                             'inventory gives it)')
            inventory = self.inventory(spec['inventory'],
                                       _join(path, 'inventory'))
            hosts = ()
        else:
            if 'hosts' not in spec:
                self.bad(_join(path, 'hosts'), 'required field is missing '
                         '(or give inventory)')
            inventory = None
            hosts = self.hosts(spec.get('hosts', _MISSING),
                               _join(path, 'hosts'))
        ha_policy = self.text(spec.get('ha_policy', _MISSING),
                              _join(path, 'ha_policy'))
        if ha_policy is not None:
            try:
                ha_policy = str(capacity.parse_policy(ha_policy))
            except ValueError as e:
                self.bad(_join(path, 'ha_policy'), str(e))
                ha_policy = None
        used = self.amounts(spec.get('used', _MISSING),
                            _join(path, 'used'), Amounts())
        extra = {}
        if other:
            extra['hypervisor_type'] = self.text(
                spec.get('hypervisor_type', _MISSING),
                _join(path, 'hypervisor_type'), 'QEMU')
        if inventory is not None:
            def part(rc, key, default):
                return inventory.get(rc, {}).get(key, default)
            disk = part('DISK_GB', 'total', None)
            return Cluster(
                vcenter, vc_uuid, moref,
                name=self.text(spec.get('name', _MISSING),
                               _join(path, 'name')),
                used=used,
                reserved=Amounts(vcpus=part('VCPU', 'reserved', 0),
                                 memory_mb=part('MEMORY_MB', 'reserved', 0),
                                 disk_gb=part('DISK_GB', 'reserved', 0)),
                ratios=Ratios(vcpu=part('VCPU', 'allocation_ratio', 1.0),
                              memory_mb=part('MEMORY_MB',
                                             'allocation_ratio', 1.0),
                              disk_gb=part('DISK_GB', 'allocation_ratio',
                                           1.0)),
                disk_gb=disk or None, ha_policy=ha_policy,
                inventory=inventory, **extra)
        disk = spec.get('disk_gb', _MISSING)
        return Cluster(
            vcenter, vc_uuid, moref,
            name=self.text(spec.get('name', _MISSING), _join(path, 'name')),
            hosts=hosts,
            used=used,
            reserved=self.amounts(spec.get('reserved', _MISSING),
                                  _join(path, 'reserved'), DEFAULT_RESERVED,
                                  instances=False),
            ratios=self.ratios(spec.get('allocation_ratios', _MISSING),
                               _join(path, 'allocation_ratios')),
            disk_gb=None if disk is None else self.integer(
                disk, _join(path, 'disk_gb'), 0, default=None),
            ha_policy=ha_policy, **extra)

    def inventory(self, value, path):
        """Placement inventories: {VCPU|MEMORY_MB|DISK_GB: record}."""
        value = self.mapping(value, path, INVENTORY_CLASSES)
        if value is None:
            return {}
        result = {}
        for rc, record in value.items():
            if rc not in INVENTORY_CLASSES:
                continue
            rc_path = _join(path, rc)
            record = self.mapping(record, rc_path, (
                'total', 'reserved', 'max_unit', 'allocation_ratio'),
                required=('total',))
            if record is None:
                continue
            total = self.integer(record.get('total', _MISSING),
                                 _join(rc_path, 'total'), 0, default=0)
            result[rc] = {
                'total': total,
                'reserved': self.integer(record.get('reserved', _MISSING),
                                         _join(rc_path, 'reserved'), 0,
                                         default=0),
                'min_unit': 1,
                'max_unit': self.integer(record.get('max_unit', _MISSING),
                                         _join(rc_path, 'max_unit'), 1,
                                         default=max(total, 1)),
                'step_size': 1,
                'allocation_ratio': self.ratio(
                    record.get('allocation_ratio', _MISSING),
                    _join(rc_path, 'allocation_ratio'), 1.0),
            }
        return result

    def hosts(self, value, path):
        if value is _MISSING:
            return ()
        if not isinstance(value, list) or not value:
            self.bad(path, 'expected a non-empty list of ESXi hosts, got %s'
                     % _kind(value))
            return ()
        hosts = []
        for index, item in enumerate(value):
            item_path = _join(path, index)
            item = self.mapping(item, item_path, (
                'cpus', 'memory_mb', 'count', 'maintenance'),
                required=('cpus', 'memory_mb'))
            if item is None:
                continue
            hosts.append(Host(
                self.integer(item.get('cpus', _MISSING),
                             _join(item_path, 'cpus'), 1, 4096, default=1),
                self.integer(item.get('memory_mb', _MISSING),
                             _join(item_path, 'memory_mb'), 1, 2 ** 40,
                             default=1),
                self.integer(item.get('count', _MISSING),
                             _join(item_path, 'count'), 1, 1000, default=1),
                self.boolean(item.get('maintenance', _MISSING),
                             _join(item_path, 'maintenance'))))
        return tuple(hosts)

    def amounts(self, value, path, default, instances=True):
        if value is _MISSING or value is None:
            return default
        fields = ('vcpus', 'memory_mb', 'disk_gb') + (
            ('instances',) if instances else ())
        value = self.mapping(value, path, fields)
        if value is None:
            return default
        return Amounts(**{
            f: self.integer(value.get(f, _MISSING), _join(path, f), 0,
                            default=getattr(default, f))
            for f in fields})

    def ratios(self, value, path):
        default = Ratios()
        if value is _MISSING or value is None:
            return default
        value = self.mapping(value, path, Ratios._fields)
        if value is None:
            return default
        return Ratios(**{
            f: self.ratio(value.get(f, _MISSING), _join(path, f),
                          getattr(default, f))
            for f in Ratios._fields})

    def services(self, value, by_label):
        services = []
        owner = {}
        for name, item in self.named(value, 'services', 'service').items():
            path = _join('services', name)
            item = self.mapping(item, path, (
                'clusters', 'state', 'disabled', 'disabled_reason',
                'availability_zone', 'forced_down'), required=('clusters',))
            if item is None:
                continue
            labels = []
            raw = item.get('clusters', _MISSING)
            if raw is not _MISSING and (not isinstance(raw, list) or
                                        not raw):
                self.bad(_join(path, 'clusters'), 'expected a non-empty '
                         'list of clusters (vcenter/domain-cN), got %s'
                         % _kind(raw))
                raw = []
            for index, label in enumerate(raw if raw is not _MISSING
                                          else []):
                item_path = _join(_join(path, 'clusters'), index)
                if not isinstance(label, str):
                    self.bad(item_path, 'expected a cluster '
                             '(vcenter/domain-cN), got %s' % _kind(label))
                elif label not in by_label:
                    self.bad(item_path, 'no cluster %r (write it as '
                             'vcenter/domain-cN, as under vcenters)'
                             % (label,))
                elif label in owner:
                    self.bad(item_path, 'cluster %s is already managed by '
                             'service %s' % (label, owner[label]))
                else:
                    owner[label] = name
                    labels.append(label)
            services.append(Service(
                name, tuple(labels),
                state=self.text(item.get('state', _MISSING),
                                _join(path, 'state'), 'up', STATES),
                disabled=self.boolean(item.get('disabled', _MISSING),
                                      _join(path, 'disabled')),
                disabled_reason=self.text(
                    item.get('disabled_reason', _MISSING),
                    _join(path, 'disabled_reason')),
                availability_zone=self.zone(
                    item.get('availability_zone', _MISSING),
                    _join(path, 'availability_zone')),
                forced_down=self.boolean(item.get('forced_down', _MISSING),
                                         _join(path, 'forced_down'))))
        for label in by_label:
            if label not in owner and by_label:
                self.bad('services', 'cluster %s is not managed by any '
                         'service' % label)
        return services

    def flavors(self, value):
        flavors = {}
        for name, item in self.named(value, 'flavors', 'flavor').items():
            path = _join('flavors', name)
            item = self.mapping(item, path, (
                'vcpus', 'memory_mb', 'disk_gb', 'ephemeral_gb',
                'extra_specs'), required=('vcpus', 'memory_mb'))
            if item is None:
                continue
            flavors[name] = Flavor(
                name,
                self.integer(item.get('vcpus', _MISSING),
                             _join(path, 'vcpus'), 1, 4096, default=1),
                self.integer(item.get('memory_mb', _MISSING),
                             _join(path, 'memory_mb'), 1, 2 ** 40,
                             default=1),
                self.integer(item.get('disk_gb', _MISSING),
                             _join(path, 'disk_gb'), 0, default=0),
                self.integer(item.get('ephemeral_gb', _MISSING),
                             _join(path, 'ephemeral_gb'), 0, default=0),
                self.extra_specs(item.get('extra_specs', _MISSING),
                                 _join(path, 'extra_specs')))
        return flavors

    def extra_specs(self, value, path):
        if value is _MISSING or value is None:
            return {}
        if not isinstance(value, dict):
            self.bad(path, 'expected a mapping, got %s' % _kind(value))
            return {}
        from nova.api.validation.extra_specs import validators
        from nova import exception
        specs = {}
        for key, spec in value.items():
            key_path = _join(path, key)
            if isinstance(spec, bool):
                spec = 'true' if spec else 'false'
            if not isinstance(key, str) or isinstance(
                    spec, (dict, list)) or spec is None:
                self.bad(key_path, 'expected a string key and a scalar '
                         'value')
                continue
            spec = str(spec)
            try:
                validators.validate(key, spec)
            except exception.ValidationError as e:
                self.bad(key_path, 'nova-api would refuse it: %s' % e)
                continue
            specs[key] = spec
        return specs

    def groups(self, value):
        groups = {}
        for name, item in self.named(value, 'server_groups', 'server group',
                                     allow_empty=True).items():
            path = _join('server_groups', name)
            item = self.mapping(item, path, ('policy', 'rules', 'project'),
                                required=('policy',))
            if item is None:
                continue
            policy = self.text(item.get('policy', _MISSING),
                               _join(path, 'policy'), None, POLICIES)
            rules = {}
            raw = item.get('rules', _MISSING)
            if raw is not _MISSING and raw is not None:
                rules_path = _join(path, 'rules')
                raw = self.mapping(raw, rules_path, ('max_server_per_host',))
                if raw and 'max_server_per_host' in raw:
                    if policy != 'anti-affinity':
                        self.bad(_join(rules_path, 'max_server_per_host'),
                                 'only the anti-affinity policy takes this '
                                 'rule')
                    rules['max_server_per_host'] = self.integer(
                        raw['max_server_per_host'],
                        _join(rules_path, 'max_server_per_host'), 1,
                        default=1)
            if policy is not None:
                groups[name] = Group(name, policy, rules, self.text(
                    item.get('project', _MISSING), _join(path, 'project')))
        return groups

    def instances(self, value, by_label, flavors, groups):
        instances = {}
        for name, item in self.named(value, 'instances', 'instance',
                                     allow_empty=True).items():
            path = _join('instances', name)
            item = self.mapping(item, path, ('cluster', 'flavor', 'group',
                                             'project'),
                                required=('cluster',))
            if item is None:
                continue
            label = self.reference(item.get('cluster', _MISSING),
                                   _join(path, 'cluster'), by_label,
                                   'cluster (vcenter/domain-cN)')
            flavor = self.reference(item.get('flavor', _MISSING),
                                    _join(path, 'flavor'), flavors, 'flavor')
            group = self.reference(item.get('group', _MISSING),
                                   _join(path, 'group'), groups,
                                   'server group')
            if label is not None:
                instances[name] = Instance(
                    name, label, flavor, group, self.text(
                        item.get('project', _MISSING),
                        _join(path, 'project')))
        return instances

    def requests(self, value, flavors, groups, instances):
        if value is _MISSING:
            return []
        if not isinstance(value, list) or not value:
            self.bad('requests', 'expected a non-empty list of requests, '
                     'got %s' % _kind(value))
            return []
        known = set(instances)
        #: {instance name: flavor name or None}, for moves
        flavor_of = {name: inst.flavor for name, inst in instances.items()}
        requests = []
        for index, item in enumerate(value):
            path = _join('requests', index)
            item = self.mapping(item, path, (
                'name', 'action', 'flavor', 'instance', 'group', 'count',
                'hints', 'availability_zone'))
            if item is None:
                continue
            name = self.text(item.get('name', _MISSING), _join(path, 'name'),
                             'request-%d' % (index + 1))
            if not NAME_RE.fullmatch(name):
                self.bad(_join(path, 'name'), 'bad request name %r' % name)
            action = self.text(item.get('action', _MISSING),
                               _join(path, 'action'), 'boot', ACTIONS)
            if action != 'boot':
                request = self.move(item, path, name, action, flavors,
                                    known, flavor_of)
                if request is not None:
                    requests.append(request)
                continue
            if 'instance' in item:
                self.bad(_join(path, 'instance'), 'only a move names an '
                         'instance (action: %s)' % ', '.join(ACTIONS[1:]))
            if 'flavor' not in item:
                self.bad(_join(path, 'flavor'), 'required field is missing')
            request = Request(
                name,
                self.reference(item.get('flavor', _MISSING),
                               _join(path, 'flavor'), flavors, 'flavor'),
                self.reference(item.get('group', _MISSING),
                               _join(path, 'group'), groups, 'server group'),
                self.integer(item.get('count', _MISSING),
                             _join(path, 'count'), 1, MAX_COUNT, default=1),
                *self.hints(item.get('hints', _MISSING),
                            _join(path, 'hints'), known),
                availability_zone=self.zone(
                    item.get('availability_zone', _MISSING),
                    _join(path, 'availability_zone')))
            for instance_name in request.instance_names:
                if instance_name in known:
                    self.bad(_join(path, 'name'), 'instance name %r is '
                             'already taken (by an instance or an earlier '
                             'request)' % instance_name)
                known.add(instance_name)
                flavor_of[instance_name] = request.flavor
            if request.flavor is not None:
                requests.append(request)
        return requests

    def move(self, item, path, name, action, flavors, known, flavor_of):
        """A request that moves one existing instance."""
        for field in ('group', 'count', 'hints', 'availability_zone'):
            if field in item:
                self.bad(_join(path, field), 'a move takes the instance\'s '
                         'own %s; only a boot sets it' % (
                             'server group' if field == 'group' else
                             field.replace('_', ' ')))
        instance = self.text(item.get('instance', _MISSING),
                             _join(path, 'instance'))
        if instance is None:
            if 'instance' not in item:
                self.bad(_join(path, 'instance'), 'required field is '
                         'missing (a %s names the instance it moves)'
                         % action)
            return None
        if instance not in known:
            self.bad(_join(path, 'instance'), 'no instance %r defined under '
                     'instances or by an earlier request' % instance)
            return None
        if flavor_of.get(instance) is None:
            self.bad(_join(path, 'instance'), 'instance %r has no flavor; '
                     'a move needs the flavor it holds' % instance)
            return None
        flavor = None
        if action == 'resize':
            if 'flavor' not in item:
                self.bad(_join(path, 'flavor'), 'required field is '
                         'missing (a resize needs the new flavor)')
                return None
            flavor = self.reference(item['flavor'], _join(path, 'flavor'),
                                    flavors, 'flavor')
            if flavor is None:
                return None
            if flavor == flavor_of[instance]:
                self.bad(_join(path, 'flavor'), 'the instance has flavor '
                         '%r already (nova refuses a resize to the same '
                         'flavor; use action: migrate)' % flavor)
                return None
            flavor_of[instance] = flavor
        elif 'flavor' in item:
            self.bad(_join(path, 'flavor'), 'only a resize changes the '
                     'flavor')
            return None
        return Request(name, flavor, action=action, instance=instance)

    def hints(self, value, path, known):
        if value is _MISSING or value is None:
            return (), ()
        value = self.mapping(value, path, HINTS)
        if value is None:
            return (), ()
        found = []
        for hint in HINTS:
            raw = value.get(hint, [])
            names = [raw] if isinstance(raw, str) else raw
            hint_path = _join(path, hint)
            if not isinstance(names, list):
                self.bad(hint_path, 'expected an instance name or a list '
                         'of them, got %s' % _kind(raw))
                names = []
            for i, name in enumerate(names):
                if not isinstance(name, str):
                    self.bad(_join(hint_path, i) if isinstance(raw, list)
                             else hint_path,
                             'expected an instance name, got %s'
                             % _kind(name))
                elif name not in known:
                    self.bad(_join(hint_path, i) if isinstance(raw, list)
                             else hint_path,
                             'no instance %r defined under instances or by '
                             'an earlier request' % (name,))
            found.append(tuple(n for n in names
                               if isinstance(n, str) and n in known))
        return tuple(found)


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


def _kind(value):
    if value is _MISSING:
        return 'nothing'
    if value is None:
        return 'an empty value'
    return {dict: 'a mapping', list: 'a list', str: 'a string',
            bool: 'a boolean', int: 'an integer',
            float: 'a number'}.get(type(value), type(value).__name__)
