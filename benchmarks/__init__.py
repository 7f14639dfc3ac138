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

"""Scheduler cost benchmarks of nova_vmw_sched, against nova's own plugins.

Run ``tox -e bench`` (or ``python -m benchmarks.run``); see
``doc/source/benchmarks.rst``.

* :mod:`benchmarks.estate` builds nova ``HostState`` objects for a VMware
  estate (node names ``domain-cN.<vCenter uuid>``) in two layouts;
* :mod:`benchmarks.profiles` says, per plugin, how to build a realistic
  request for it and what to set up first;
* :mod:`benchmarks.calls` counts database and placement calls;
* :mod:`benchmarks.run` measures, checks the targets and writes the report.
"""
