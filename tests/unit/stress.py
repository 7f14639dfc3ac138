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

"""Many requests at once through one set of our filters and weighers.

nova's scheduler (native threads, nova 33 and later) calls one instance of
each filter and weigher from several threads at once, over HostState
objects that all requests share. :func:`run` schedules the same requests
once one after another and once from many threads, through nova's own
filter and weigher handlers, and gives both results.

Run as a program (``python -m tests.unit.stress``) it runs on native
threads, without eventlet's monkey patching, whatever the calling test
process uses, and prints both results as JSON.
"""

import json
import random
import sys
import threading
import uuid


def _uuid(name):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def _requests(make_spec, group, node, rng, count):
    """A mix of requests: groups of each policy, hints, pins, multi-create.
    """
    policies = ('anti-affinity', 'affinity', 'soft-anti-affinity',
                'soft-affinity', None)
    placed = {}
    specs = []
    for index in range(count):
        members = [_uuid('m%d-%d' % (index, k)) for k in range(3)]
        for k, member in enumerate(members):
            # members settled, in flight (allocation only) or unknown
            placed[member] = (rng.choice(('node', 'allocation', None)),
                              node(rng.randrange(1, 13)))
        policy = policies[index % len(policies)]
        hints = {}
        if index % 3 == 0:
            hints['same_host'] = [members[0], members[1]]
        if index % 4 == 1:
            hints['different_host'] = [members[2]]
        pin = None
        if index % 5 == 2:
            pin = ','.join(node(n) for n in rng.sample(range(1, 13), 4))
        me = _uuid('me-%d' % index)
        spec_obj = make_spec(
            group(policy, members + [me]) if policy else None,
            instance_uuid=me, num_instances=1 + index % 2, hints=hints)
        if pin:
            spec_obj.flavor.extra_specs = {'vmware:cluster': pin}
        specs.append(spec_obj)
    return specs, placed


def run(threads=8, requests=60, rounds=3, seed=7):
    """``(serial, concurrent)``: per request, the weighed node names and
    weights of each instance index, from a serial run and from a run on
    ``threads`` threads (``rounds`` times each)."""
    from nova.scheduler import filters as nova_filters
    from nova.scheduler import weights as nova_weights

    from nova_vmw_sched.filters import affinity_filter
    from nova_vmw_sched.filters import anti_affinity_filter
    from nova_vmw_sched.filters import pin_filter
    from nova_vmw_sched.filters import different_host_filter
    from nova_vmw_sched.filters import same_host_filter
    from nova_vmw_sched import data
    from nova_vmw_sched import keeper
    from nova_vmw_sched.weights import preference_weigher
    from nova_vmw_sched.weights import soft_affinity_weigher
    from tests.unit import test_membership as fakes

    hosts = [fakes.host('svc%d' % (1 + (n - 1) // 4), fakes.node(n))
             for n in range(1, 13)]
    for n, host_state in enumerate(hosts):
        host_state.free_ram_mb = 4096 + 512 * n
    source = fakes.FakeSource()
    saved = data.replace(data.Data(members=source, keeper=keeper.Off()))
    filters = [pin_filter.VMwareClusterFilter(),
               affinity_filter.ServerGroupAffinityFilter(),
               anti_affinity_filter.ServerGroupAntiAffinityFilter(),
               same_host_filter.SameHostFilter(),
               different_host_filter.DifferentHostFilter()]
    weighers = [soft_affinity_weigher.VMwareClusterSoftAffinityWeigher(),
                soft_affinity_weigher.VMwareClusterSoftAntiAffinityWeigher(),
                preference_weigher.VMwareClusterPreferenceWeigher()]
    filter_handler = nova_filters.HostFilterHandler()
    weight_handler = nova_weights.HostWeightHandler()
    by_uuid = {h.nodename: h for h in hosts}

    def fresh_requests():
        specs, placed = _requests(fakes.spec, fakes.group, fakes.node,
                                  random.Random(seed), requests)
        source.nodes = {u: n for u, (how, n) in placed.items()
                        if how == 'node'}
        source.allocations = {u: [by_uuid[n].uuid]
                              for u, (how, n) in placed.items()
                              if how == 'allocation'}
        return specs

    def schedule(spec_obj):
        result = []
        candidates = list(hosts)
        me = spec_obj.instance_uuid
        for index in range(spec_obj.num_instances):
            if index:
                # nova claimed the previous instance on the best host
                # (nothing is consumed: HostStates are shared by all)
                source.allocations[me] = [candidates[0].uuid]
                spec_obj.instance_uuid = _uuid(me)
            filtered = filter_handler.get_filtered_objects(
                filters, candidates, spec_obj, index)
            if not filtered:
                result.append([])
                break
            weighed = weight_handler.get_weighed_objects(
                weighers, filtered, spec_obj)
            candidates = [w.obj for w in weighed]
            result.append([(w.obj.nodename[:10], round(w.weight, 9))
                           for w in weighed])
        return result

    try:
        serial = [schedule(s) for s in fresh_requests()]
        concurrent = None
        for _ in range(rounds):
            specs = fresh_requests()
            results = [None] * len(specs)
            barrier = threading.Barrier(threads)
            errors = []

            def worker(offset):
                try:
                    barrier.wait(30)
                    for i in range(offset, len(specs), threads):
                        results[i] = schedule(specs[i])
                except Exception as e:  # reported below
                    errors.append(repr(e))

            workers = [threading.Thread(target=worker, args=(k,))
                       for k in range(threads)]
            for w in workers:
                w.start()
            for w in workers:
                w.join(120)
            if errors:
                raise RuntimeError('; '.join(errors))
            if concurrent is not None and results != concurrent:
                return serial, results
            concurrent = results
        return serial, concurrent
    finally:
        data.replace(saved)


def main():
    # tests/__init__ (imported first) applied nova's concurrency backend:
    # native threads when OS_NOVA_DISABLE_EVENTLET_PATCHING=1, as
    # tests.unit.test_concurrency starts this program
    from nova_vmw_sched import compat
    import nova.conf
    from tests.unit import test_membership  # noqa: registers nova's test opts
    from nova import objects
    objects.register_all()
    conf = nova.conf.CONF
    conf([], project='nova', default_config_files=[])
    from nova_vmw_sched import conf as vmw_conf
    vmw_conf.register_opts(conf)
    conf.set_override('server_group_wait_timeout', 0,
                      group='vmware_scheduler')
    # switch threads often, to interleave the requests as much as possible
    sys.setswitchinterval(1e-6)
    serial, concurrent = run(threads=int(sys.argv[1]) if len(sys.argv) > 1
                             else 8)
    print('RESULT ' + json.dumps({
        'eventlet': compat.eventlet_patched(),
        'serial': serial, 'concurrent': concurrent}))


if __name__ == '__main__':
    main()
