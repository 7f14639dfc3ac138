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
(doc/source/benchmarks.rst, "Snapshot at scale")."""

import collections
import datetime
import pathlib
import resource
import tempfile
import types
import uuid as uuid_lib
import warnings

from nova import context as nova_context
from nova import objects
import nova.conf

import benchmarks
from nova_vmw_sched.cmd import progress
from nova_vmw_sched.cmd import snapshot as snapshot_cmd
from nova_vmw_sched.simulate import engine
from nova_vmw_sched.simulate import scenario as scenario_mod
from nova_vmw_sched.simulate import snapshot

CLUSTERS_PER_SERVICE = 64
CLUSTERS_PER_VCENTER = 500


def build(clusters, instances_per_cluster=5, seed=1):
    """``(reader, placement)`` of an estate of ``clusters`` clusters."""
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
    services, nodes, instances, members = [], [], [], []
    inventories, usages = {}, {}
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
            'VCPU': benchmarks.inventory(64 * hosts, 64, ratio=4.0),
            'MEMORY_MB': benchmarks.inventory(524288 * hosts, 524288,
                                              reserved=512),
            'DISK_GB': benchmarks.inventory(20000, 20000)}
        used = collections.Counter(VCPU=0, MEMORY_MB=0, DISK_GB=0)
        for i in range(instances_per_cluster):
            flavor = flavors[(n + i) % len(flavors)]
            instances.append(objects.Instance(
                ctx, uuid=uid('instance', '%d-%d' % (n, i)), host=host,
                node=nodes[-1].hypervisor_hostname, flavor=flavor,
                project_id=uid('project', n % 97), created_at=now))
            used.update(VCPU=flavor.vcpus, MEMORY_MB=flavor.memory_mb,
                        DISK_GB=flavor.root_gb)
            if i == 0 and n % 10 == 0:
                members.append(instances[-1].uuid)
        usages[rp] = dict(used)
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


def placement_query_s(placement, query):
    """Seconds of a real placement's ``GET /allocation_candidates?query``
    (best of three) holding the stand-in's providers, and how many
    candidates it answered."""
    import os_resource_classes as orc
    import requests
    from placement import db_api
    from placement.db.sqlalchemy import models
    from placement.tests.functional.fixtures import placement as fixture

    with fixture.PlacementFixture() as served:
        classes = {rc: orc.STANDARDS.index(rc)
                   for rc in ('VCPU', 'MEMORY_MB', 'DISK_GB')}
        consumer = str(uuid_lib.uuid4())  # holds every provider's usage
        rps, inventories, allocations = [], [], []
        for n, (uuid, inventory) in enumerate(
                placement.inventories.items(), 1):
            rps.append({'id': n, 'uuid': uuid, 'name': uuid, 'generation': 1,
                        'root_provider_id': n})
            for rc, record in inventory.items():
                inventories.append(dict(record, resource_provider_id=n,
                                        resource_class_id=classes[rc]))
                allocations.append({
                    'resource_provider_id': n, 'consumer_id': consumer,
                    'resource_class_id': classes[rc],
                    'used': placement.usages[uuid][rc]})
        tables = ((models.Project, [{'id': 1, 'external_id': 'p'}]),
                  (models.User, [{'id': 1, 'external_id': 'u'}]),
                  (models.ResourceProvider, rps),
                  (models.Inventory, inventories),
                  (models.Consumer, [{'uuid': consumer, 'project_id': 1,
                                      'user_id': 1, 'generation': 1}]),
                  (models.Allocation, allocations))
        with db_api.get_placement_engine().begin() as db:
            for model, rows in tables:
                db.execute(model.__table__.insert(), rows)
        seconds = []
        for _ in range(3):
            answer, took = benchmarks.timed(
                requests.get, served.endpoint + '/allocation_candidates?' +
                query, headers={'x-auth-token': 'admin',
                                'openstack-api-version': 'placement 1.36'})
            assert answer.status_code == 200, answer.text
            seconds.append(took)
        return min(seconds), len(answer.json()['allocation_requests'])


def _rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def snapshot_cost(clusters, instances_per_cluster=5):
    """Snapshot, write and simulate one request; the figures (a dict)."""
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
        estate = pathlib.Path(tmp, 'estate.json')
        ask = pathlib.Path(tmp, 'ask.yaml')
        estate.write_text(text)
        ask.write_text('requests:\n  - {name: one, flavor: m1.f1}\n')
        scenario, loaded = timed(scenario_mod.load, str(estate), str(ask))
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
