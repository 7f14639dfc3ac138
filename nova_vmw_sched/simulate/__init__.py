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

"""Dry-run scheduling of a described VMware estate through nova's own
filters and weighers (``nova-vmw-sched simulate``).

* :mod:`.schema` is the scenario format (a JSON schema in
  ``data/scenario.schema.yaml``) and finds every problem of a file;
  :mod:`.scenario` loads a file into plain objects; :mod:`.generate` makes
  random ones.
* :mod:`.topology` regroups the clusters of a scenario under services.
* :mod:`.estate` builds nova's ``HostState``, ``Service``,
  ``ComputeNode`` and ``RequestSpec`` objects from it and answers the seams
  (:data:`nova_vmw_sched.membership.source`, the inventory source of
  :mod:`nova_vmw_sched.inventory`); :mod:`.placement` stands in for
  placement's allocation candidates and claims.
* :mod:`.engine` loads the filters and weighers as nova's ``HostManager``
  does and runs nova's per-instance loop; :mod:`.probes` records which
  filter removed each cluster and why, and each weigher's share.
* :mod:`.report` prints the results.
"""
