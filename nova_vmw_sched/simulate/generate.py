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

"""Random scenarios from a seed, built as a file's YAML would hold them
and validated as one: for scale runs and the property test.
"""

import random

from nova_vmw_sched.simulate import scenario as scenario_mod
from nova_vmw_sched.simulate import schema

CLUSTERS_PER_VCENTER = 64
POLICIES = ('anti-affinity', 'affinity', 'soft-anti-affinity',
            'soft-affinity')
HOST_SIZES = ((32, 262144), (48, 524288), (64, 786432), (96, 1048576))
FLAVORS = (
    ('small', 2, 4096), ('medium', 4, 16384), ('large', 8, 65536),
    ('xlarge', 16, 196608), ('huge', 56, 600000),
)


def generate(clusters, requests, seed=0):
    """A valid :class:`~.scenario.Scenario` with these many clusters and
    requests, the same for the same seed."""
    data = generate_data(clusters, requests, seed)
    return scenario_mod.from_data(
        data, 'generated:%d:%d:%d' % (clusters, requests, seed))


def generate_data(clusters, requests, seed=0):
    """The scenario of :func:`generate` as YAML data (dicts and lists)."""
    rng = random.Random('nova-vmw-sched/%d/%d/%d'
                        % (clusters, requests, seed))
    vcenters, labels = _vcenters(rng, clusters)
    services = _services(rng, vcenters)
    flavors = _flavors(rng, vcenters, labels)
    groups, instances = _groups(rng, labels, requests)
    return {
        'version': schema.FORMAT_VERSION,
        'description': 'generated: %d clusters, %d requests, seed %d'
                       % (clusters, requests, seed),
        'vcenters': vcenters,
        'services': services,
        'flavors': flavors,
        'server_groups': groups,
        'instances': instances,
        'requests': _requests(rng, requests, flavors, groups, instances),
    }


def _vcenters(rng, count):
    vcenters = {}
    labels = []
    for index in range(count):
        vc = 'vc%d' % (index // CLUSTERS_PER_VCENTER + 1)
        moref = 'domain-c%d' % (7 + index % CLUSTERS_PER_VCENTER * 3)
        vcenters.setdefault(vc, {'clusters': {}})['clusters'][moref] = \
            _cluster(rng)
        labels.append('%s/%s' % (vc, moref))
    return vcenters, labels


def _cluster(rng):
    cpus, memory = rng.choice(HOST_SIZES)
    count = rng.randint(2, 16)
    hosts = [{'cpus': cpus, 'memory_mb': memory, 'count': count}]
    if rng.random() < 0.1:
        hosts.append({'cpus': cpus, 'memory_mb': memory,
                      'maintenance': True})
    fill = rng.uniform(0.1, 0.9)
    ratio = rng.choice((1.0, 2.0, 4.0, 4.0, 8.0))
    spec = {
        'hosts': hosts,
        'used': {'vcpus': int(cpus * count * ratio * fill * 0.5),
                 'memory_mb': int(memory * count * fill),
                 'instances': int(count * 10 * fill)},
        'allocation_ratios': {'vcpu': ratio},
    }
    roll = rng.random()
    if roll < 0.15:
        spec['ha_policy'] = 'host_failures=%d' % rng.randint(0, 2)
    elif roll < 0.25:
        spec['ha_policy'] = 'percentage=%d/%d' % (rng.randint(0, 40),
                                                  rng.randint(0, 40))
    elif roll < 0.3:
        spec['ha_policy'] = 'none'
    return spec


def _services(rng, vcenters):
    services = {}
    for vc, spec in vcenters.items():
        morefs = list(spec['clusters'])
        while morefs:
            size = min(len(morefs), rng.choice((1, 1, 2, 4, 8)))
            chunk, morefs = morefs[:size], morefs[size:]
            service = {'clusters': ['%s/%s' % (vc, m) for m in chunk]}
            roll = rng.random()
            if roll < 0.03:
                service['state'] = 'down'
            elif roll < 0.06:
                service['disabled'] = True
                service['disabled_reason'] = 'maintenance'
            services['%s-svc%d' % (vc, len(services) + 1)] = service
    return services


def _flavors(rng, vcenters, labels):
    flavors = {name: {'vcpus': vcpus, 'memory_mb': memory}
               for name, vcpus, memory in FLAVORS}
    uuids = {vc: schema.vcenter_uuid(vc) for vc in vcenters}
    for n in range(3):
        picks = rng.sample(labels, min(len(labels), rng.randint(1, 3)))
        refs = ['%s.%s' % (label.split('/')[1], uuids[label.split('/')[0]])
                for label in picks]
        flavors['pinned%d' % n] = {
            'vcpus': 4, 'memory_mb': 16384,
            'extra_specs': {'vmware:cluster': ','.join(refs)}}
    moref = rng.choice(labels).split('/')[1]
    flavors['pinned-moref'] = {'vcpus': 2, 'memory_mb': 8192,
                               'extra_specs': {'vmware:cluster': moref}}
    return flavors


def _groups(rng, labels, requests):
    groups = {}
    instances = {}
    for n in range(max(2, min(40, requests // 10))):
        policy = POLICIES[n % len(POLICIES)]
        name = 'g%d' % n
        groups[name] = {'policy': policy}
        if policy == 'anti-affinity' and rng.random() < 0.3:
            groups[name]['rules'] = {'max_server_per_host': 2}
        members = rng.randint(0, 3)
        if policy == 'affinity':
            spots = [rng.choice(labels)] * members
        else:
            spots = rng.sample(labels, min(members, len(labels)))
        for i, label in enumerate(spots):
            instances['%s-m%d' % (name, i)] = {
                'cluster': label, 'flavor': 'small', 'group': name}
    for n in range(max(2, min(50, requests // 5))):
        instances['app%d' % n] = {'cluster': rng.choice(labels),
                                  'flavor': rng.choice(('small', 'medium'))}
    return groups, instances


def _requests(rng, count, flavors, groups, instances):
    plain = [f for f in flavors if f != 'huge']
    apps = [n for n in instances if n.startswith('app')]
    result = []
    for n in range(count):
        request = {'name': 'r%d' % (n + 1),
                   'flavor': rng.choice(plain if rng.random() < 0.9
                                        else list(flavors))}
        roll = rng.random()
        if roll < 0.4:
            request['group'] = rng.choice(list(groups))
            request['count'] = rng.randint(1, 3)
        elif roll < 0.5:
            request['count'] = rng.randint(2, 3)
        elif roll < 0.6:
            request['hints'] = {'same_host': rng.choice(apps)}
        elif roll < 0.7:
            request['hints'] = {'different_host': rng.sample(
                apps, min(2, len(apps)))}
        result.append(request)
    return result


def generate_reproducible(clusters, requests, seed=0):
    """A small scenario that nova's functional harness can also build
    (doc/source/cli.rst says what it leaves out): one vCenter, one
    service, empty clusters of differing sizes, so that weights seldom
    tie."""
    data = generate_reproducible_data(clusters, requests, seed)
    return scenario_mod.from_data(
        data, 'reproducible:%d:%d:%d' % (clusters, requests, seed))


def generate_reproducible_data(clusters, requests, seed=0):
    """The scenario of :func:`generate_reproducible` as YAML data."""
    rng = random.Random('nova-vmw-sched/reproducible/%d/%d/%d'
                        % (clusters, requests, seed))
    vcenter = schema.vcenter_uuid('vc1')
    morefs = ['domain-c%d' % n for n in range(1, clusters + 1)]
    specs = {}
    for index, moref in enumerate(morefs):
        memory = rng.choice((4096, 6144, 8192)) + 7 * index
        specs[moref] = {
            'hosts': [{'cpus': rng.choice((4, 8, 16)), 'memory_mb': memory,
                       'count': rng.randint(1, 3)}],
            'disk_gb': rng.choice((200, 500, 1000)) + index,
            'reserved': {'vcpus': 0, 'memory_mb': 0, 'disk_gb': 0},
        }
    flavors = {
        'tiny': {'vcpus': 1, 'memory_mb': 512, 'disk_gb': 1},
        'small': {'vcpus': 2, 'memory_mb': 1024, 'disk_gb': 10},
        'medium': {'vcpus': 4, 'memory_mb': 2048, 'disk_gb': 20},
        'large': {'vcpus': 8, 'memory_mb': 5120, 'disk_gb': 40},
    }
    picks = rng.sample(morefs, min(len(morefs), rng.randint(1, 2)))
    flavors['pinned'] = {
        'vcpus': 1, 'memory_mb': 1024, 'disk_gb': 1,
        'extra_specs': {'vmware:cluster': ','.join(
            '%s.%s' % (m, vcenter) for m in picks)}}
    flavors['pinned-moref'] = {
        'vcpus': 1, 'memory_mb': 512, 'disk_gb': 1,
        'extra_specs': {'vmware:cluster': rng.choice(morefs)}}
    groups = {}
    for n, policy in enumerate(rng.sample(POLICIES, 2)):
        groups['g%d' % n] = {'policy': policy}
    result = []
    names = []
    for n in range(requests):
        request = {'name': 'r%d' % (n + 1), 'flavor': rng.choice(
            list(flavors))}
        roll = rng.random()
        count = 1
        if roll < 0.45:
            request['group'] = rng.choice(list(groups))
            count = rng.randint(1, 3)
        elif roll < 0.6:
            count = rng.randint(2, 3)
        elif roll < 0.7 and names:
            request['hints'] = {'same_host': rng.choice(names)}
        elif roll < 0.8 and names:
            request['hints'] = {'different_host': rng.sample(
                names, min(2, len(names)))}
        if count > 1:
            request['count'] = count
            names += ['r%d-%d' % (n + 1, i) for i in range(1, count + 1)]
        else:
            names.append('r%d' % (n + 1))
        result.append(request)
    return {
        'version': schema.FORMAT_VERSION,
        'description': 'reproducible: %d clusters, %d requests, seed %d'
                       % (clusters, requests, seed),
        # nova's io ops of a host count its builds until nova-compute's
        # next resource audit, a matter of timing: not weighed here
        'config': {'filter_scheduler': {'io_ops_weight_multiplier': 0.0}},
        'vcenters': {'vc1': {'uuid': vcenter, 'clusters': specs}},
        'services': {'svc1': {'clusters': ['vc1/%s' % m for m in morefs]}},
        'flavors': flavors,
        'server_groups': groups,
        'requests': result,
    }
