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

"""Run one scenario against nova's real services in two topologies.

:class:`ClusterTestCase` starts nova's API, conductor, scheduler and
placement in process (nova's ``ProviderUsageBaseTestCase``). A test body is a
function ``scenario(estate)``; :meth:`ClusterTestCase.in_both_topologies`
runs it once with the clusters sharing one nova-compute service and once
with one service per cluster, and asserts that both runs give the same
outcome. Each run builds its own estate: its own vCenter uuid (so node
names, resource providers and flavors never collide with the other run),
its own services, flavors and groups; at its end the estate's services are
disabled and forced down, so the next run cannot land on them.

Outcomes name clusters by label (``c1`` is moref ``domain-c1``), so that
runs with different vCenter uuids compare equal.
"""

import faulthandler
import os
import sys
import threading
import time
import uuid

import fixtures
from oslo_messaging import opts as messaging_opts

import nova.conf
from nova import context as base_context
from nova import exception as nova_exception
from nova import objects
from nova.tests.functional.api import client as api_client
from nova import test as nova_test
from nova.tests.functional import integrated_helpers

from nova_vmw_sched import cluster
from nova_vmw_sched import compat
from nova_vmw_sched import conf as vmw_conf
from nova_vmw_sched import data
from nova_vmw_sched import duties
from nova_vmw_sched import inventory
from nova_vmw_sched import keeper
from nova_vmw_sched.simulate import defaults
from tests import data_fixture
from tests.functional import fake_bus
from tests.functional import fake_driver
from tests.functional import threads_harness

CONF = nova.conf.CONF

NO_VALID_HOST = 'NoValidHost'
#: threads of each RPC server on native threads: more than the most
#: requests a test posts at once (12, test_reserve_races), each of which
#: can hold a conductor and a scheduler thread at a time
RPC_THREADS = 16

#: the documented setup (etc/nova.conf.example), from its one place
AVAILABLE_FILTERS = defaults.AVAILABLE_FILTERS
ENABLED_FILTERS = defaults.ENABLED_FILTERS
WEIGHT_CLASSES = defaults.WEIGHT_CLASSES


def _find_api_paste():
    """nova's wheel installs api-paste.ini under <prefix>/etc/nova."""
    for prefix in (sys.prefix, sys.base_prefix, '/usr/local', '/usr'):
        path = os.path.join(prefix, 'etc', 'nova', 'api-paste.ini')
        if os.path.exists(path):
            return path
    return None


class Estate:
    """One topology's compute services, clusters, flavors and servers."""

    def __init__(self, test, name, index, services, clusters):
        self.test = test
        self.name = name
        self.vcenter = str(uuid.uuid4())
        #: {vCenter name: uuid} of labels ``<vCenter name>/<moref>``
        self.vcenters = {}
        self.clusters = clusters
        #: {service host: (labels)}
        self.services = {
            '%s-%d' % (name, n): tuple(labels)
            for n, labels in enumerate(services, start=1)}
        self.index = index

    # -- naming --------------------------------------------------------------

    def node(self, label):
        """The node name of cluster ``label``: ``c1`` -> domain-c1.<vc>;
        ``<vCenter name>/<moref>`` -> <moref>.<that vCenter's uuid> (each
        name a uuid of its own, for estates of several vCenters)."""
        if '/' in label:
            name, moref = label.split('/', 1)
            return '%s.%s' % (moref, self.vcenter_of(name))
        return 'domain-%s.%s' % (label, self.vcenter)

    def vcenter_of(self, name):
        """The uuid this estate gives the vCenter called ``name``."""
        return self.vcenters.setdefault(name, str(uuid.uuid4()))

    def pin(self, *labels):
        """A ``vmware:cluster`` value listing these clusters by node name."""
        return ','.join(self.node(label) for label in labels)

    def label_of(self, nodename):
        found = cluster.parse_nodename(nodename)
        if found is not None:
            if found.vcenter_uuid == self.vcenter:
                return found.moref[len('domain-'):]
            for name, vc_uuid in self.vcenters.items():
                if found.vcenter_uuid == vc_uuid:
                    return '%s/%s' % (name, found.moref)
        return 'foreign:%s' % nodename

    def service_of(self, label):
        for host, labels in self.services.items():
            if label in labels:
                return host
        raise KeyError(label)

    # -- lifecycle -------------------------------------------------------------

    def start(self):
        for host, labels in self.services.items():
            fake_driver.VMwareClusterFakeDriver.estate[host] = {
                self.node(label): self.clusters[label] for label in labels}
            self.test._start_compute(host)

    def retire(self):
        for host in self.services:
            self.set_service(host, disabled=True, forced_down=True)

    def start_service(self, host, labels):
        """Start another compute service, managing ``labels``.

        nova's harness needs a service to have at least one node.
        """
        fake_driver.VMwareClusterFakeDriver.estate[host] = {
            self.node(label): self.clusters[label] for label in labels}
        self.services[host] = tuple(labels)
        self.test._start_compute(host)

    def take_over(self, label, new_host):
        """Hand cluster ``label`` to the running service ``new_host``.

        The old service stops reporting the cluster; the new one reports it
        and its resource tracker re-homes the compute node (nova moves a
        node record whose uuid it finds under another host). Instances on
        the cluster keep naming the old service host.
        """
        estate = fake_driver.VMwareClusterFakeDriver.estate
        old_host = self.service_of(label)
        node = self.node(label)
        del estate[old_host][node]
        self.services[old_host] = tuple(
            x for x in self.services[old_host] if x != label)
        estate[new_host][node] = self.clusters[label]
        self.services[new_host] = self.services[new_host] + (label,)
        for host in (old_host, new_host):
            compute = self.test.computes[host]
            compute.driver._set_nodes(list(estate[host]))
        # Only the new service runs its periodic task: a surviving old one
        # would delete the record it no longer reports as an orphan.
        compute = self.test.computes[new_host]
        ctxt = base_context.get_admin_context()
        with base_context.target_cell(
                ctxt, self.test.host_mappings[new_host].cell_mapping) as cctx:
            compute.manager.update_available_resource(cctx)

    def fail_over(self, label, standby_labels=('c5',)):
        """failover.rst steps 1 and 3: the service of cluster ``label`` is
        forced down and a running standby (started here with
        ``standby_labels``) takes all its clusters over.

        :returns: ``(dead host, standby host)``
        """
        dead = self.service_of(label)
        self.set_service(dead, forced_down=True)
        standby = '%s-standby' % self.name
        self.start_service(standby, list(standby_labels))
        for taken in self.services[dead]:
            self.take_over(taken, standby)
        return dead, standby

    def add_stale_record(self, label, ghost_host):
        """A second, stale compute node record of cluster ``label``.

        As a cluster that moved leaves behind: a service ``ghost_host``
        (enabled, and up as far as its heartbeat goes) holding a compute
        node of the same name that was never updated since, with its own
        resource provider in placement, so that both records are candidates.
        """
        ctxt = base_context.get_admin_context()
        cell = self.test.cell_mappings[nova_test.CELL1_NAME]
        node = self.node(label)
        spec = self.clusters[label]
        with base_context.target_cell(ctxt, cell) as cctxt:
            service = objects.Service(cctxt, host=ghost_host,
                                      binary='nova-compute',
                                      topic='compute', report_count=0)
            service.create()
            record = objects.ComputeNode(
                cctxt, host=ghost_host, hypervisor_hostname=node,
                uuid=str(uuid.uuid4()), service_id=service.id,
                vcpus=spec.vcpus, memory_mb=spec.memory_mb,
                local_gb=spec.disk_gb, vcpus_used=0, memory_mb_used=0,
                local_gb_used=0, free_ram_mb=spec.memory_mb,
                free_disk_gb=spec.disk_gb, current_workload=0,
                running_vms=0, disk_available_least=spec.disk_gb,
                hypervisor_type='VMware vCenter Server',
                hypervisor_version=1000, cpu_info='{}', host_ip='127.0.0.1',
                supported_hv_specs=[], pci_device_pools=None, metrics='[]',
                extra_resources=None, stats={}, numa_topology=None,
                cpu_allocation_ratio=4.0, ram_allocation_ratio=1.0,
                disk_allocation_ratio=1.0, mapped=1)
            record.create()
        placement = self.test.placement
        placement.post('/resource_providers', version='1.20', body={
            'uuid': record.uuid, 'name': node + ' (stale)'})
        placement.put('/resource_providers/%s/inventories' % record.uuid,
                      version='1.26', body={
                          'resource_provider_generation': 0,
                          'inventories': {
                              'VCPU': {'total': spec.vcpus,
                                       'allocation_ratio': 4.0},
                              'MEMORY_MB': {'total': spec.memory_mb},
                              'DISK_GB': {'total': spec.disk_gb}}})
        placement.put('/resource_providers/%s/traits' % record.uuid,
                      version='1.6', body={
                          'resource_provider_generation': 1,
                          'traits': ['COMPUTE_NODE', 'OWNER_NOVA']})
        return record

    def set_service(self, host, disabled=None, forced_down=None):
        api = self.test.admin_api
        service = api.get_services(binary='nova-compute', host=host)[0]
        body = {}
        if disabled is not None:
            body['status'] = 'disabled' if disabled else 'enabled'
            if disabled:
                body['disabled_reason'] = 'test'
        if forced_down is not None:
            body['forced_down'] = forced_down
        api.put_service(service['id'], body)

    # -- API helpers -----------------------------------------------------------

    def flavor(self, name, memory_mb=1024, vcpus=1, disk=1, pin=None,
               extra_specs=None):
        specs = dict(extra_specs or {})
        if pin is not None:
            specs['vmware:cluster'] = pin
        return self.test._create_flavor(
            name='%s-%s' % (self.name, name), memory_mb=memory_mb,
            vcpu=vcpus, disk=disk, ephemeral=0,
            extra_spec=specs or None)

    def group(self, name, policy, rules=None):
        body = {'name': '%s-%s' % (self.name, name), 'policy': policy}
        if rules:
            body['rules'] = rules
        return self.test.admin_api.post_server_groups(body)['id']

    def boot(self, flavor_id, name='vm', group=None, hints=None,
             min_count=None):
        """Boot and wait; return the landing cluster label of each server.

        A server that ends in ERROR because no host was valid gives
        ``NoValidHost``; any other error fails the test.
        """
        return [self.outcome(s) for s in self.boot_servers(
            flavor_id, name, group, hints, min_count)]

    def boot_servers(self, flavor_id, name='vm', group=None, hints=None,
                     min_count=None, on=None, zone=None):
        """Boot and wait; return the servers, ordered by name.

        :param on: a cluster label: the server is forced onto it (the
            admin's ``availability_zone`` ``nova:<host>:<node>``, which
            nova schedules without filters), as an instance that was there
            before
        :param zone: the availability zone the request asks for
        """
        request = self.create_request(flavor_id, name, group, hints)
        if zone is not None:
            request['server']['availability_zone'] = zone
        if on is not None:
            request['server']['availability_zone'] = 'nova:%s:%s' % (
                self.service_of(on), self.node(on))
        if min_count:
            request['server'].update(min_count=min_count,
                                     max_count=min_count,
                                     return_reservation_id=True)
        created = self.test.admin_api.post_server(request)
        if min_count:
            servers = sorted(
                self.test.admin_api.get_servers(
                    search_opts={'reservation_id':
                                 created['reservation_id']}),
                key=lambda s: s['name'])
        else:
            servers = [created]
        return [self.wait(s) for s in servers]

    def post(self, flavor_id, name, group=None, hints=None):
        """Post one server create request; return the server (BUILD)."""
        return self.test.admin_api.post_server(
            self.create_request(flavor_id, name, group, hints))

    def create_request(self, flavor_id, name, group=None, hints=None):
        """The body of a server create request.

        Built in the calling thread: nova's helper briefly changes the API
        client's microversion while it looks up the image.
        """
        body = self.test._build_server(
            name='%s-%s' % (self.name, name), flavor_id=flavor_id,
            networks='none')
        request = {'server': body}
        all_hints = dict(hints or {})
        if group:
            all_hints['group'] = group
        if all_hints:
            request['os:scheduler_hints'] = all_hints
        return request

    def boot_at_once(self, flavor_id, names, group=None, hints=None,
                     before_wait=None):
        """Post one create request per name, all at the same moment, each
        from its own thread (as an orchestrator does); wait for all.

        ``before_wait(servers)``, if given, is called once all are posted,
        before waiting for them.

        :returns: the landing cluster label of each, in the order of
            ``names``
        """
        created = self.post_at_once(
            [self.create_request(flavor_id, name, group, hints)
             for name in names])
        if before_wait is not None:
            before_wait(created)
        return [self.outcome(self.wait(server, timeout=60))
                for server in created]

    def post_at_once(self, requests):
        """Post the create request bodies ``requests`` at the same moment,
        each from its own thread; the waiting is the caller's (in its own
        thread: nova's harness gives database access to the test's).

        :returns: what the API answered to each, in order: the server, or
            for a multi-create (``min_count``) its reservation
        """
        barrier = threading.Barrier(len(requests))
        created = [None] * len(requests)
        failed = []

        def post(index):
            try:
                barrier.wait(timeout=30)
                created[index] = self.test.admin_api.post_server(
                    requests[index])
            except Exception as e:  # reported by the test thread
                failed.append('request %d: %r' % (index, e))

        threads = [threading.Thread(target=post, args=(i,))
                   for i in range(len(requests))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        if failed:
            self.test.fail('posting failed: %s' % '; '.join(failed))
        return created

    def multi_request(self, flavor_id, name, count):
        """The body of a multi-create of ``count`` (all or nothing)."""
        request = self.create_request(flavor_id, name)
        request['server'].update(min_count=count, max_count=count,
                                 return_reservation_id=True)
        return request

    def outcomes_of_reservation(self, reservation_id):
        """Wait for the servers of a multi-create; their outcomes, in name
        order."""
        servers = sorted(
            self.test.admin_api.get_servers(
                search_opts={'reservation_id': reservation_id}),
            key=lambda s: s['name'])
        return [self.outcome(self.wait(s, timeout=60)) for s in servers]

    def server(self, name):
        """The server called ``name`` in this estate."""
        servers = self.test.admin_api.get_servers(
            search_opts={'name': '^%s-%s$' % (self.name, name)})
        if len(servers) != 1:
            self.test.fail('%d servers called %s' % (len(servers), name))
        return self.test.admin_api.get_server(servers[0]['id'])

    def where(self, name):
        """The cluster label of server ``name`` now."""
        return self.label_of(
            self.server(name)['OS-EXT-SRV-ATTR:hypervisor_hostname'])

    def migrate(self, name, flavor_id=None):
        """Cold migrate (or, with ``flavor_id``, resize) server ``name`` and
        confirm; return the cluster it lands on.

        ``NoValidHost`` when nova-api refuses for want of a host; the server
        must then still be ACTIVE where it was.
        """
        test = self.test
        server = self.server(name)
        before = server['OS-EXT-SRV-ATTR:hypervisor_hostname']
        action = {'resize': {'flavorRef': flavor_id}} if flavor_id else \
            {'migrate': None}
        known = {m['id'] for m in self._migrations(server)}
        try:
            test.admin_api.post_server_action(server['id'], action)
        except api_client.OpenStackApiException as e:
            if 'No valid host' not in e.response.text:
                raise
            return self._stayed(name, before)
        # nova-conductor answers NoValidHost by setting the migration to
        # 'error' and the server back to ACTIVE
        deadline = time.monotonic() + 60
        while True:
            new = [m for m in self._migrations(server)
                   if m['id'] not in known]
            status = new[0]['status'] if new else None
            if status in ('finished', 'error'):
                break
            if time.monotonic() > deadline:
                test.fail('migration of %s stuck in %s' % (name, status))
            time.sleep(0.05)
        if status == 'error':
            return self._stayed(name, before)
        server = test._wait_for_state_change(server, 'VERIFY_RESIZE')
        test.admin_api.post_server_action(server['id'],
                                          {'confirmResize': None})
        server = test._wait_for_state_change(server, 'ACTIVE')
        return self.label_of(server['OS-EXT-SRV-ATTR:hypervisor_hostname'])

    def migrations(self, server):
        """The migrations of ``server``, newest first."""
        return sorted(self._migrations(server), key=lambda m: -m['id'])

    def _migrations(self, server):
        return self.test.admin_api.api_get(
            '/os-migrations?instance_uuid=%s' % server['id']
        ).body['migrations']

    def _stayed(self, name, before):
        server = self.test._wait_for_state_change(self.server(name),
                                                  'ACTIVE')
        self.test.assertEqual(
            before, server['OS-EXT-SRV-ATTR:hypervisor_hostname'])
        return NO_VALID_HOST

    def allocation_of(self, server):
        """The resource providers holding ``server``'s allocation."""
        found = self.test.placement.get(
            '/allocations/%s' % server['id']).body['allocations']
        return sorted(found)

    def wait_for_allocation(self, server, timeout=30.0):
        """Wait until the scheduler has claimed ``server`` in placement."""
        deadline = time.monotonic() + timeout
        while not self.allocation_of(server):
            if time.monotonic() > deadline:
                self.test.fail('server %s got no allocation' % server['id'])
            time.sleep(0.05)

    def wait(self, server, timeout=30.0):
        """Wait until ``server`` is ACTIVE, or in ERROR with its fault;
        return it as the API shows it.

        The loop looks at the database (:meth:`_settled`), which costs a
        fraction of an API call, and asks the API once the record says the
        build has ended: polling through the API took a third of the CPU of
        a functional run, CPU that nova's services, on the same CPUs and
        under the same GIL, then lacked.
        """
        deadline = time.monotonic() + timeout
        status = 'BUILD'
        while True:
            if self._settled(server['id']):
                server = self.test.admin_api.get_server(server['id'])
                status = server['status']
                if status == 'ACTIVE':
                    return server
                if status == 'ERROR' and 'fault' in server:
                    return server
            if time.monotonic() > deadline:
                self.test.fail('server %s stuck in %s' % (
                    server['id'], status))
            time.sleep(0.05)

    @staticmethod
    def _settled(server_id):
        """True once the instance record says its build has ended (active
        with no task, or error); False while it is a build request or
        building."""
        ctxt = base_context.get_admin_context()
        try:
            mapping = objects.InstanceMapping.get_by_instance_uuid(
                ctxt, server_id)
        except nova_exception.InstanceMappingNotFound:
            return False
        if mapping.cell_mapping is None:
            return False
        with base_context.target_cell(ctxt, mapping.cell_mapping) as cctxt:
            try:
                instance = objects.Instance.get_by_uuid(
                    cctxt, server_id, expected_attrs=[])
            except nova_exception.InstanceNotFound:
                return False
        if instance.vm_state == 'error':
            return True
        return instance.vm_state == 'active' and instance.task_state is None

    def outcome(self, server):
        if server['status'] == 'ACTIVE':
            return self.label_of(
                server['OS-EXT-SRV-ATTR:hypervisor_hostname'])
        message = server['fault']['message']
        if 'No valid host' in message:
            return NO_VALID_HOST
        self.test.fail('server %s failed: %s' % (server['id'], message))


class ClusterTestCase(integrated_helpers.ProviderUsageBaseTestCase):
    """nova's in-process cloud with VMware-style cluster compute nodes."""

    compute_driver = 'fake.VMwareClusterFakeDriver'
    microversion = 'latest'

    #: {label: ClusterSpec}; ``c1`` is moref domain-c1
    CLUSTERS = {
        'c%d' % n: fake_driver.ClusterSpec() for n in range(1, 5)}
    #: (name, services): each service a tuple of the labels it manages
    TOPOLOGIES = (
        ('shared', (('c1', 'c2', 'c3', 'c4'),)),
        ('split', (('c1',), ('c2',), ('c3',), ('c4',))),
    )
    AVAILABLE_FILTERS = AVAILABLE_FILTERS
    #: [vmware_scheduler] cluster_failover_policy for this test case; None
    #: keeps the option's default. Most estates here have clusters of one
    #: ESXi host, where the default (hold back one host) would hold back
    #: everything: the HA reserve is test_capacity's business.
    FAILOVER_POLICY = 'none'
    #: [vmware_scheduler] placement_sync_interval in these tests
    KEEPER_INTERVAL = 2.0
    ENABLED_FILTERS = ENABLED_FILTERS
    WEIGHT_CLASSES = WEIGHT_CLASSES

    def setUp(self):
        self._watchdog()
        if not compat.eventlet_patched():
            if not threads_harness.harness_supports_native_threads():
                self.skipTest(
                    "nova's functional harness of this release does not run "
                    "on native threads (its SQLite databases are in memory, "
                    "one connection shared by all threads; nova 34's are "
                    "files in WAL mode with one writer at a time): run it on "
                    "eventlet (OS_NOVA_DISABLE_EVENTLET_PATCHING unset)")
            # before nova's fixtures create their cell lock (threads_harness)
            harness = self.useFixture(threads_harness.NativeThreadsHarness())
            # oslo.messaging's pool of each RPC server (futurist) starts a
            # thread at every message until it has executor_thread_pool_size
            # (64), and each idle one wakes every second: the services a
            # test keeps running ended with hundreds of threads taking the
            # GIL in turn, which cost more than half of a functional test's
            # CPU time (test_shipped_scenario: 5.3 CPU minutes, 2.4 with 16)
            CONF.register_opts([o for o in dict(messaging_opts.list_opts())[
                None] if o.name == 'executor_thread_pool_size'])
            self.flags(executor_thread_pool_size=RPC_THREADS)
        else:
            harness = None
        vmw_conf.register_opts(CONF)
        # RPC listeners woken by messages, not every 50 ms (fake_bus)
        self.useFixture(fake_bus.EventDrivenFakeBus())
        self.useFixture(fixtures.MonkeyPatch(
            'nova.virt.fake.VMwareClusterFakeDriver',
            fake_driver.VMwareClusterFakeDriver))
        self.useFixture(fixtures.MockPatchObject(
            fake_driver.VMwareClusterFakeDriver, 'estate', {}))
        self.scheduler_flags()
        paste = _find_api_paste()
        if paste:
            self.flags(api_paste_config=paste, group='wsgi')
        # Each test has its own placement keeper, started when nova's
        # scheduler loads the filters (as in nova-scheduler), running every
        # KEEPER_INTERVAL seconds, and its own inventory cache (and its
        # threads), reading this test's placement: a Data of its own.
        self.flags(placement_sync_interval=self.KEEPER_INTERVAL,
                   group='vmware_scheduler')
        self.keeper_runs = data_fixture.CountedRuns(duties.run_once)
        self.keeper = keeper.Keeper(self.keeper_runs)
        self.inventory_cache = self.make_inventory_cache()
        self.useFixture(data_fixture.DataFixture(
            members=data.NovaSource(), lookup=data.DatabaseLookup(),
            inventory=self.inventory_cache, keeper=self.keeper))
        super().setUp()
        # stopped before nova's services and placement go away
        self.addCleanup(self.keeper.stop)
        if harness is not None and not harness.created:
            self.fail("nova's CellDatabases fixture did not take the "
                      "reader-preferring lock (tests/functional/"
                      "threads_harness.py): nova's harness has changed")
        # stopped before nova's services and placement go away
        self.addCleanup(self.inventory_cache.stop)

    def converge(self, timeout=30.0):
        """Run the placement keeper now and wait until a run that started
        after this call has completed (the one under way may have started
        before)."""
        target = self.keeper_runs.runs + 2
        data_fixture.poke(self.keeper)
        if not self.keeper_runs.wait_for(target, timeout):
            self.fail('the placement keeper did not complete a run in %s s'
                      % timeout)

    def wait_until(self, condition, timeout=30.0, what='condition'):
        """Wait until ``condition()`` is true; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                self.fail('%s not met within %s s' % (what, timeout))
            time.sleep(0.05)

    def _watchdog(self):
        """End the test process, with every thread's stack on stderr, if
        this test (cleanups included) is still running a minute after
        ``OS_TEST_TIMEOUT``.

        nova's timeout fixture raises in the test's main thread; a test
        stuck where that cannot reach (a cleanup, a lock in C) would
        otherwise hold the whole run until CI gives up. Registered first,
        so cancelled last.
        """
        try:
            timeout = int(os.environ.get('OS_TEST_TIMEOUT', 0))
        except ValueError:
            timeout = 0
        if timeout <= 0:
            return
        faulthandler.dump_traceback_later(timeout + 60, exit=True)
        self.addCleanup(faulthandler.cancel_dump_traceback_later)

    def make_inventory_cache(self):
        """The process-wide inventory cache for this test: the real one."""
        return inventory.InventoryCache(
            inventory.PlacementSource(),
            usage_source=inventory.PlacementUsageSource(
                held=self.keeper.held))

    def scheduler_flags(self):
        """Set the scheduler options of the test case (again)."""
        self.flags(available_filters=self.AVAILABLE_FILTERS,
                   enabled_filters=self.ENABLED_FILTERS,
                   weight_classes=self.WEIGHT_CLASSES,
                   group='filter_scheduler')
        # The rest of the documented setup: nova's soft weighers count group
        # members per service host, so they are loaded (the conductor
        # demands it) but add nothing; ours count per cluster.
        for (group, name), value in defaults.OTHER_OPTIONS.items():
            self.flags(**{name: value, 'group': group})
        # nova's resource tracker counts reserved_host_memory_mb as used; the
        # vmwareapi driver reports the same amount as the inventory's
        # reserved, the fake driver reports 0: keep them equal.
        self.flags(reserved_host_memory_mb=0, reserved_host_cpus=0)
        if self.FAILOVER_POLICY is not None:
            self.flags(cluster_failover_policy=self.FAILOVER_POLICY,
                       group='vmware_scheduler')
        # Scenarios boot more servers and group members than the defaults.
        self.flags(instances=-1, cores=-1, ram=-1, server_groups=-1,
                   server_group_members=-1, group='quota')
        # nova-compute's late group check counts members per service host.
        self.flags(disable_group_policy_check_upcall=True,
                   group='workarounds')

    def in_both_topologies(self, scenario, topologies=None):
        """Run ``scenario(estate)`` in each topology; assert equal outcomes.

        :returns: the (common) outcome
        """
        outcomes = []
        for index, (name, services) in enumerate(
                topologies or self.TOPOLOGIES):
            estate = Estate(self, name, index, services, self.CLUSTERS)
            estate.start()
            outcomes.append((name, scenario(estate)))
            estate.retire()
        first_name, first = outcomes[0]
        for name, outcome in outcomes[1:]:
            self.assertEqual(
                first, outcome,
                'topology %r gave %r but %r gave %r'
                % (first_name, first, name, outcome))
        return first

    def assertBadRequest(self, call, *needles):
        """``call()`` fails with HTTP 400 whose message has ``needles``."""
        exc = self.assertRaises(api_client.OpenStackApiException, call)
        self.assertEqual(400, exc.response.status_code)
        text = exc.response.text
        for needle in needles:
            self.assertIn(needle, text)
        return text
