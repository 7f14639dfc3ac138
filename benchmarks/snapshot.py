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

"""Time and memory of ``nova-vmw-sched snapshot`` on a large estate
(doc/source/benchmarks.rst, "Snapshot at scale"): ``python -m
benchmarks.run snapshot [--sizes 10000]``.

nova's objects built in memory (:func:`build`, 5 instances a cluster) and
:class:`benchmarks.Placement` stand in for nova's databases and placement.
:func:`snapshot_cost` times ``take``, the JSON written, reading it back
with a requests file, the simulator's estate, simulating one boot and,
beside it, nova's ``GET /allocation_candidates`` for that boot answered by
a real placement holding the same providers. Peak memory: ``ru_maxrss``,
stand-ins included, beside the figure before the snapshot.
"""

import datetime
import os
import resource
import tempfile
import types
import uuid as uuid_lib
import warnings

import benchmarks

CLUSTERS_PER_SERVICE = 64
CLUSTERS_PER_VCENTER = 500


def build(clusters, instances_per_cluster=5, seed=1):
    """``(reader, placement)`` of an estate of ``clusters`` clusters."""
    from nova import context as nova_context
    from nova import objects
    ctx = nova_context.get_admin_context()
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)

    def uid(kind, n):
        return str(uuid_lib.uuid5(uuid_lib.NAMESPACE_URL,
                                  '%s/%s/%s' % (seed, kind, n)))
    flavors = [objects.Flavor(
        ctx, id=i + 1, flavorid=str(i + 1), name='m1.f%d' % i,
        vcpus=2 ** (i % 4), memory_mb=2048 * 2 ** (i % 4), root_gb=20,
        ephemeral_gb=0, extra_specs={} if i else
        {'vmware:cluster': 'domain-c1'}) for i in range(8)]
    services, nodes, instances = [], [], []
    inventories, usages = {}, {}
    members = []
    for n in range(clusters):
        host = 'compute-%d' % (n // CLUSTERS_PER_SERVICE)
        if n % CLUSTERS_PER_SERVICE == 0:
            services.append(objects.Service(
                ctx, id=len(services) + 1, host=host, binary='nova-compute',
                disabled=len(services) % 50 == 7, disabled_reason='upgrade',
                forced_down=len(services) % 50 == 9, last_seen_up=now))
        vc = uid('vcenter', n // CLUSTERS_PER_VCENTER)
        rp = uid('node', n)
        nodes.append(objects.ComputeNode(
            ctx, id=n + 1, uuid=rp, host=host,
            hypervisor_hostname='domain-c%d.%s' % (n + 1, vc),
            hypervisor_type='VMware vCenter Server', deleted=False))
        hosts = 4 + n % 5
        inventories[rp] = {
            'VCPU': {'total': 64 * hosts, 'reserved': 0, 'min_unit': 1,
                     'max_unit': 64, 'step_size': 1,
                     'allocation_ratio': 4.0},
            'MEMORY_MB': {'total': 524288 * hosts, 'reserved': 512,
                          'min_unit': 1, 'max_unit': 524288, 'step_size': 1,
                          'allocation_ratio': 1.0},
            'DISK_GB': {'total': 20000, 'reserved': 0, 'min_unit': 1,
                        'max_unit': 20000, 'step_size': 1,
                        'allocation_ratio': 1.0}}
        used = {'VCPU': 0, 'MEMORY_MB': 0, 'DISK_GB': 0}
        for i in range(instances_per_cluster):
            flavor = flavors[(n + i) % len(flavors)]
            inst = objects.Instance(
                ctx, uuid=uid('instance', '%d-%d' % (n, i)), host=host,
                node=nodes[-1].hypervisor_hostname, flavor=flavor,
                project_id=uid('project', n % 97), created_at=now)
            instances.append(inst)
            used['VCPU'] += flavor.vcpus
            used['MEMORY_MB'] += flavor.memory_mb
            used['DISK_GB'] += flavor.root_gb
            if i == 0 and n % 10 == 0:
                members.append(inst.uuid)
        usages[rp] = used
    groups = [objects.InstanceGroup(
        ctx, id=g + 1, uuid=uid('group', g), name='group %d' % g,
        policy='anti-affinity', rules={}, project_id=uid('project', g),
        members=members[g::20]) for g in range(20)]
    aggregates = [objects.Aggregate(
        ctx, id=1, name='az-a', hosts=[s.host for s in services[::2]],
        metadata={'availability_zone': 'az-a'}),
        objects.Aggregate(ctx, id=2, name='ssd', hosts=[services[0].host],
                          metadata={'ssd': 'true'})]
    # nova's databases as take reads them (a NovaReader's seam)
    reader = types.SimpleNamespace(
        cells=lambda: (services, nodes, instances),
        api=lambda: (flavors, groups, aggregates),
        is_up=lambda: lambda service: not service.forced_down)
    return reader, benchmarks.Placement(inventories, usages)


def placement_query_s(placement, query, repeat=3):
    """Seconds of placement's own ``GET /allocation_candidates`` (its code
    and SQL, on in-memory SQLite) for ``query``, best of ``repeat``, with
    the stand-in's providers, inventories and usage loaded into it: the
    query nova-scheduler sends before it runs a filter."""
    import os_resource_classes as orc
    import requests
    from placement import db_api
    from placement.db.sqlalchemy import models
    from placement.tests.functional.fixtures import placement as fixture
    served = fixture.PlacementFixture()
    served.setUp()
    try:
        classes = {rc: orc.STANDARDS.index(rc)
                   for rc in ('VCPU', 'MEMORY_MB', 'DISK_GB')}
        rps, inventories, allocations, consumers = [], [], [], []
        for n, (uuid, inventory) in enumerate(
                placement.inventories.items(), 1):
            rps.append({'id': n, 'uuid': uuid, 'name': uuid, 'generation': 1,
                        'root_provider_id': n})
            consumer = str(uuid_lib.uuid5(uuid_lib.NAMESPACE_URL, uuid))
            consumers.append({'uuid': consumer, 'project_id': 1,
                              'user_id': 1, 'generation': 1})
            for rc, record in inventory.items():
                inventories.append(dict(record, resource_provider_id=n,
                                        resource_class_id=classes[rc]))
                allocations.append({
                    'resource_provider_id': n, 'consumer_id': consumer,
                    'resource_class_id': classes[rc],
                    'used': placement.usages[uuid][rc]})
        with db_api.get_placement_engine().begin() as db:
            db.execute(models.Project.__table__.insert(),
                       [{'id': 1, 'external_id': 'p'}])
            db.execute(models.User.__table__.insert(),
                       [{'id': 1, 'external_id': 'u'}])
            for model, rows in ((models.ResourceProvider, rps),
                                (models.Inventory, inventories),
                                (models.Consumer, consumers),
                                (models.Allocation, allocations)):
                db.execute(model.__table__.insert(), rows)
        seconds = []
        for _ in range(repeat):
            answer, took = benchmarks.timed(
                requests.get, served.endpoint + '/allocation_candidates?' +
                query, headers={'x-auth-token': 'admin',
                                'openstack-api-version': 'placement 1.36'})
            assert answer.status_code == 200, answer.text
            seconds.append(took)
        return min(seconds), len(answer.json()['allocation_requests'])
    finally:
        served.cleanUp()


def _rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def snapshot_cost(clusters, instances_per_cluster=5):
    """Snapshot, write and simulate one request; the figures (a dict)."""
    from nova import context as nova_context
    import nova.conf

    from nova_vmw_sched.cmd import progress
    from nova_vmw_sched.cmd import snapshot as snapshot_cmd
    from nova_vmw_sched.simulate import engine
    from nova_vmw_sched.simulate import scenario as scenario_mod
    from nova_vmw_sched.simulate import snapshot

    warnings.simplefilter('ignore')
    timed = benchmarks.timed
    (reader, placement), built = timed(build, clusters,
                                       instances_per_cluster)
    rss_before = _rss_mb()
    data, took = timed(lambda: snapshot.take(
        nova_context.get_admin_context(), placement, conf=nova.conf.CONF,
        reader=reader, progress=progress.Progress(what='providers')))
    text, dumped = timed(snapshot_cmd.dump, data)
    rss_after = _rss_mb()
    del data
    with tempfile.TemporaryDirectory() as tmp:
        estate = os.path.join(tmp, 'estate.json')
        ask = os.path.join(tmp, 'ask.yaml')
        with open(estate, 'w') as f:
            f.write(text)
        with open(ask, 'w') as f:
            f.write('requests:\n  - {name: one, flavor: m1.f1}\n')
        scenario, loaded = timed(scenario_mod.load, estate, ask)
    sim, estate_s = timed(engine.Simulation, scenario,
                          engine.configured(True), 'as-written')
    [(result,)], simulated = timed(
        lambda: list(engine.run_together([sim], scenario.requests)))
    flavor = scenario.flavors['m1.f1']
    query_s, candidates = placement_query_s(placement, (
        'resources=VCPU:%d,MEMORY_MB:%d,DISK_GB:%d'
        '&required=!COMPUTE_STATUS_DISABLED&limit=1000' % (
            flavor.vcpus, flavor.memory_mb, flavor.disk_gb)))
    return {
        'clusters': clusters, 'instances': clusters * instances_per_cluster,
        'placement_calls': placement.calls, 'build_s': built,
        'take_s': took, 'write_s': dumped, 'file_mb': len(text) / 2 ** 20,
        'rss_before_mb': rss_before, 'peak_rss_mb': rss_after,
        'load_s': loaded, 'estate_s': estate_s, 'simulate_one_s': simulated,
        'placement_query_s': query_s, 'candidates': candidates,
        'placed': bool(result.ok)}


def render(results):
    """One figure a line, as ``name value``."""
    return ''.join('%-16s %s\n' % (key, '%.2f' % value
                                   if isinstance(value, float) else value)
                   for figures in results for key, value in figures.items())
