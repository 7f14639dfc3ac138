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

"""A running nova as scenario data (``nova-vmw-sched snapshot``;
doc/source/cli.rst says what it reads and how): it never writes.
"""

import concurrent.futures
import contextlib
import re

from nova_vmw_sched import cluster as cluster_id

#: placement microversion of the reads
PLACEMENT_VERSION = '1.14'
RESOURCE_CLASSES = ('VCPU', 'MEMORY_MB', 'DISK_GB')
#: the words of a cluster's ``used`` for each resource class
USED = {'VCPU': 'vcpus', 'MEMORY_MB': 'memory_mb', 'DISK_GB': 'disk_gb'}
#: the option groups a scenario's ``config`` takes
CONFIG_GROUPS = ('filter_scheduler', 'scheduler', 'vmware_scheduler')
#: placement reads in flight at once
WORKERS = 8
_BAD = re.compile(r'[^A-Za-z0-9_.:-]')


class SnapshotError(Exception):
    """nova or placement could not be read; the text names what failed."""


class _Names:
    """Valid, unique scenario names for nova's free-form names."""

    def __init__(self, prefix=None):
        self.prefix = prefix
        self.given = {}
        self.used = set()

    def __call__(self, key, text=None):
        if key in self.given:
            return self.given[key]
        if self.prefix is not None:
            name = '%s-%d' % (self.prefix, len(self.given) + 1)
        else:
            name = _BAD.sub('-', str(text if text is not None else key))
            name = name.lstrip('_.:-')[:64] or 'unnamed'
        base, n = name, 1
        while name in self.used:
            n += 1
            suffix = '-%d' % n
            name = base[:64 - len(suffix)] + suffix
        self.used.add(name)
        self.given[key] = name
        return name


def _cells(context, fn):
    """``fn(cell context)`` in every cell but cell0; a cell that fails or
    does not answer ends the snapshot."""
    from nova import context as nova_context
    results = nova_context.scatter_gather_skip_cell0(context, fn)
    out = []
    for cell_uuid, result in sorted(results.items()):
        if result is nova_context.did_not_respond_sentinel:
            raise SnapshotError('cell %s did not respond (cell down)'
                                % cell_uuid)
        if isinstance(result, Exception):
            raise SnapshotError('cell %s: %s: %s' % (
                cell_uuid, type(result).__name__,
                (str(result).splitlines() or [''])[0]))
        out.extend(result)
    return out


class NovaReader:
    """What :func:`take` reads of nova's databases, as nova's objects; the
    one seam a test or a benchmark replaces."""

    def __init__(self, context):
        self.context = context

    def cells(self):
        """``(services, compute nodes, instances on a node)`` of every
        cell but cell0."""
        from nova import objects

        def services(cctx):
            return list(objects.ServiceList.get_by_binary(
                cctx, 'nova-compute', include_disabled=True))

        def nodes(cctx):
            return list(objects.ComputeNodeList.get_all(cctx))

        def instances(cctx):
            return [i for i in objects.InstanceList.get_by_filters(
                cctx, {'deleted': False}, expected_attrs=['flavor'])
                if i.node]
        return (_cells(self.context, services),
                _cells(self.context, nodes),
                _cells(self.context, instances))

    def api(self):
        """``(flavors, server groups, host aggregates)`` of the API
        database."""
        from nova import objects
        return (list(objects.FlavorList.get_all(self.context)),
                list(objects.InstanceGroupList.get_all(self.context)),
                list(objects.AggregateList.get_all(self.context)))

    def is_up(self):
        """``is_up(service)`` as nova's servicegroup API judges it."""
        from nova import servicegroup
        return servicegroup.API().service_is_up


def read_placement(client, context, rp_uuids, progress=None):
    """``{rp uuid: (inventories, usages)}`` of the providers of
    ``rp_uuids`` that exist (one ``GET /resource_providers``, two GETs per
    provider, :data:`WORKERS` at a time)."""
    from nova_vmw_sched import compat
    global_id = getattr(context, 'global_id', None)

    def get(url):
        resp = client.get(url, version=PLACEMENT_VERSION,
                          global_request_id=global_id)
        if resp.status_code != 200:
            raise SnapshotError('placement: GET %s: HTTP %d %s' % (
                url, resp.status_code, (resp.text or '').strip()[:200]))
        return resp.json()

    def provider(rp_uuid):
        base = '/resource_providers/%s' % rp_uuid
        return (get(base + '/inventories')['inventories'],
                get(base + '/usages')['usages'])

    existing = {rp['uuid'] for rp in
                get('/resource_providers')['resource_providers']}
    wanted = [u for u in rp_uuids if u in existing]
    progress = progress or (lambda done, total: None)
    progress(0, len(wanted))
    found = {}
    with contextlib.ExitStack() as stack:
        # a pool's workers wait on a queue eventlet does not make green
        if compat.eventlet_patched() or WORKERS <= 1:
            answers = ((u, provider(u)) for u in wanted)
        else:
            pool = stack.enter_context(
                concurrent.futures.ThreadPoolExecutor(WORKERS))
            futures = {pool.submit(provider, u): u for u in wanted}
            answers = ((futures[f], f.result())
                       for f in concurrent.futures.as_completed(futures))
        for done, (rp_uuid, answer) in enumerate(answers, start=1):
            found[rp_uuid] = answer
            progress(done, len(wanted))
    return found


def _plain(value):
    """An option value as YAML writes it."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return str(value)


def read_config(conf):
    """The options of :data:`CONFIG_GROUPS` worth writing: those that
    differ from nova's default and those the documented setup sets."""
    from nova_vmw_sched.simulate import defaults
    documented = defaults.options()
    config = {}
    for group in CONFIG_GROUPS:
        try:
            names = sorted(conf[group])
        except Exception:  # a group nobody registered
            continue
        for name in names:
            opt = conf._get_opt_info(name, group)['opt']
            value = getattr(conf[group], name)
            if value is None:
                continue
            if value != opt.default or (group, name) in documented:
                config.setdefault(group, {})[name] = _plain(value)
    return config


def _inventory(records):
    inventory = {}
    for rc in RESOURCE_CLASSES:
        record = records.get(rc)
        if record is None:
            continue
        inventory[rc] = {
            'total': int(record['total']),
            'reserved': int(record.get('reserved', 0)),
            'max_unit': int(record.get('max_unit', record['total'])),
            'allocation_ratio': float(record.get('allocation_ratio', 1.0))}
    return inventory


def _demand(flavor):
    return {'VCPU': flavor.vcpus, 'MEMORY_MB': flavor.memory_mb,
            'DISK_GB': flavor.root_gb + flavor.ephemeral_gb}


def _flavor_data(flavor):
    data = {'vcpus': flavor.vcpus, 'memory_mb': flavor.memory_mb}
    if flavor.root_gb:
        data['disk_gb'] = flavor.root_gb
    if flavor.ephemeral_gb:
        data['ephemeral_gb'] = flavor.ephemeral_gb
    specs = dict(flavor.extra_specs or {}) if flavor.obj_attr_is_set(
        'extra_specs') else {}
    if specs:
        data['extra_specs'] = {str(k): str(v) for k, v in specs.items()}
    return data


def take(context, client, conf=None, anonymize=False, progress=None,
         reader=None):
    """The estate nova holds, as scenario data (no ``requests``), read with
    an admin ``context``, nova's ``SchedulerReportClient`` and ``reader``
    (default :class:`NovaReader`); ``progress(done, total)`` while
    placement is read.

    :raises SnapshotError: a cell, a database or placement failed; other
        errors of nova's database and placement layers pass through
    """
    if conf is None:
        import nova.conf
        conf = nova.conf.CONF
    reader = reader or NovaReader(context)
    services, nodes, instances = reader.cells()
    flavors, groups, aggregates = reader.api()
    nodes.sort(key=lambda n: (n.id, n.uuid))
    placed = read_placement(client, context, [n.uuid for n in nodes],
                            progress)

    projects = _Names('project') if anonymize else (lambda key: key)
    group_names = _Names('group') if anonymize else _Names()
    host_names = _Names()
    flavor_names = _Names()

    # -- flavors: the API database's, then those only instances still
    # carry (deleted or changed since)
    data_flavors = {}
    by_flavor = {}
    for flavor in flavors:
        name = flavor_names(('flavor', flavor.flavorid), flavor.name)
        data_flavors[name] = _flavor_data(flavor)
        by_flavor[flavor.flavorid] = name

    def flavor_of(inst):
        flavor = inst.flavor
        name = by_flavor.get(flavor.flavorid)
        data = _flavor_data(flavor)
        if name is not None and data_flavors[name] == data:
            return name
        name = flavor_names(('embedded', flavor.flavorid,
                             tuple(sorted(data.items(), key=str))),
                            flavor.name)
        data_flavors.setdefault(name, data)
        return name

    # -- services
    is_up = reader.is_up()
    data_services = {}
    service_of_host = {}
    for service in sorted(services, key=lambda s: (s.host, s.id)):
        if service.host in service_of_host:
            continue   # one per host and binary; a second cell's is stale
        name = host_names(service.host)
        service_of_host[service.host] = name
        item = {'clusters': []}
        if not is_up(service):
            item['state'] = 'down'
        if service.forced_down:
            item['forced_down'] = True
        if service.disabled:
            item['disabled'] = True
            if service.disabled_reason:
                item['disabled_reason'] = service.disabled_reason
        data_services[name] = item

    # -- zones and host aggregates, per service host
    data_aggregates = {}
    aggregate_names = _Names('aggregate') if anonymize else _Names()
    for agg in sorted(aggregates, key=lambda a: a.id):
        metadata = dict(agg.metadata or {})
        zone = metadata.pop('availability_zone', None)
        members = [service_of_host[host] for host in agg.hosts or ()
                   if host in service_of_host]
        for name in members:
            if zone:
                data_services[name].setdefault('availability_zone', zone)
        if zone and not metadata:
            continue
        if anonymize:   # tenant isolation names projects
            metadata = {key: ','.join(projects(p.strip())
                                      for p in value.split(','))
                        if key.startswith('filter_tenant_id') else value
                        for key, value in metadata.items()}
        name = aggregate_names(agg.id, agg.name)
        data_aggregates[name] = {'metadata': metadata} if metadata else {}
        for member in members:
            data_services[member].setdefault('aggregates', []).append(name)

    # -- clusters and other nodes
    vcenters = {}
    vc_names = {}
    other_nodes = {}
    label_of = {}
    # {label: (its item, {resource class: placement's usage})}
    usage_of = {}
    for node in nodes:
        service = service_of_host.get(node.host)
        if service is None or node.deleted:
            continue   # deleted, or without a nova-compute service
        records, usages = placed.get(node.uuid, ({}, {}))
        inventory = _inventory(records)
        found = cluster_id.parse_nodename(node.hypervisor_hostname)
        if found is not None and found.vcenter_uuid:
            vc_uuid = found.vcenter_uuid.lower()
            vc = vc_names.get(vc_uuid)
            if vc is None:
                vc = vc_names[vc_uuid] = 'vc%d' % (len(vc_names) + 1)
                vcenters[vc] = {'uuid': vc_uuid, 'clusters': {}}
            clusters = vcenters[vc]['clusters']
            if found.moref in clusters:
                continue   # a stale second record of the same cluster
            item = clusters[found.moref] = {'inventory': inventory}
            label = '%s/%s' % (vc, found.moref)
        else:
            label = node.hypervisor_hostname
            if label in other_nodes or '/' in label:
                continue
            item = other_nodes[label] = {
                'inventory': inventory,
                'hypervisor_type': node.hypervisor_type or 'unknown'}
        label_of[(node.host, node.hypervisor_hostname)] = label
        usage_of[label] = (item, {rc: int(usages.get(rc, 0))
                                  for rc in inventory})
        data_services[service]['clusters'].append(label)

    # -- server groups
    member_of = {}
    data_groups = {}
    for group in sorted(groups, key=lambda g: g.id):
        name = group_names(group.uuid, group.name)
        item = {'policy': group.policy}
        if group.rules:
            item['rules'] = {k: int(v) if str(v).isdigit() else v
                             for k, v in group.rules.items()}
        if group.project_id:
            item['project'] = projects(group.project_id)
        data_groups[name] = item
        for member in group.members or ():
            member_of[member] = name

    # -- instances, each on its cluster; their flavors leave ``used``
    data_instances = {}
    for inst in sorted(instances, key=lambda i: (i.created_at is None,
                                                 i.created_at, i.uuid)):
        label = label_of.get((inst.host, inst.node))
        if label is None:
            continue
        item = {'cluster': label}
        if inst.obj_attr_is_set('flavor') and inst.flavor is not None:
            item['flavor'] = flavor_of(inst)
            used = usage_of[label][1]
            for rc, amount in _demand(inst.flavor).items():
                if rc in used:
                    used[rc] = max(0, used[rc] - amount)
        group = member_of.get(inst.uuid)
        if group is not None:
            item['group'] = group
        if inst.project_id:
            item['project'] = projects(inst.project_id)
        data_instances[inst.uuid] = item

    # ``used`` in the format's words; empty parts left out
    for item, used in usage_of.values():
        words = {USED[rc]: amount for rc, amount in used.items() if amount}
        if words:
            item['used'] = words

    # services with no node of their own say nothing to a scheduler
    data_services = {k: v for k, v in data_services.items()
                     if v['clusters']}
    description = ('Snapshot of a running nova: %d clusters, %d other '
                   'nodes, %d services, %d instances.' % (
                       sum(len(v['clusters']) for v in vcenters.values()),
                       len(other_nodes), len(data_services),
                       len(data_instances)))
    data = {'version': 1, 'description': description,
            'config': read_config(conf), 'vcenters': vcenters,
            'nodes': other_nodes, 'services': data_services,
            'aggregates': data_aggregates, 'flavors': data_flavors,
            'server_groups': data_groups, 'instances': data_instances}
    # the optional sections only when they hold something
    return {key: value for key, value in data.items()
            if value or key in ('services', 'flavors')}
