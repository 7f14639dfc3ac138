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

"""The ``[vmware_scheduler]`` options of nova_vmw_sched.

Nothing is registered at import time: the plugins call
:func:`register_opts` on nova's ``CONF`` when they are loaded, and the
sample-config generator calls :func:`list_opts`.
"""

from oslo_config import cfg

GROUP = cfg.OptGroup(
    'vmware_scheduler',
    title='VMware cluster scheduling options',
    help="""
Options of the nova_vmw_sched scheduler filters and weighers, which treat
each vSphere cluster (a nova compute node named
``domain-cN.<vCenter uuid>``) as the unit of scheduling, whether clusters
share a nova-compute service or not.
""")

OPTS = [
    cfg.DictOpt(
        'cluster_aliases',
        default={},
        help="""
Operator names for clusters.

Each entry maps an alias to one cluster reference, so that flavors can say
``vmware:cluster=gold`` instead of a node name. An alias is a letter or
``_`` followed by up to 63 letters, digits, ``_``, ``.`` or ``-``, and must
not start with ``domain-``. The reference is one of:

* a full node name, ``domain-c7.6f1c2a6e-2f6b-4c39-9d55-3b1f4c1e7a01``:
  that cluster of that vCenter;
* a legacy node name, ``domain-c7(Gold)``;
* a bare moref, ``domain-c7``: that moref in every vCenter.

An alias cannot stand for another alias or for a list. An entry that is not
valid is ignored and logged once as a WARNING; a flavor that names an alias
that is not defined here fails to schedule (nothing passes), with a WARNING
naming the alias.

This option only affects scheduling if ``VMwareClusterFilter`` is in
``[filter_scheduler] enabled_filters`` or
``VMwareClusterPreferenceWeigher`` is in ``[filter_scheduler]
weight_classes``. nova-api does not read it: the API checks only that an
alias name is well formed.

Possible values:

* A comma-separated list of ``alias:reference`` pairs, e.g.
  ``gold:domain-c7.6f1c2a6e-2f6b-4c39-9d55-3b1f4c1e7a01,silver:domain-c8``

Related options:

* ``[filter_scheduler] enabled_filters``
"""),
    cfg.FloatOpt(
        'cluster_preference_weight_multiplier',
        default=1000.0,
        min=0.0,
        help="""
Weight of the order of clusters in a flavor's ``vmware:cluster`` list.

Among the clusters that pass the filters, the first one listed weighs most,
then the next. nova normalises each weigher's weights to the range 0..1
and multiplies them by the weigher's multiplier, so with ``N`` listed
clusters two neighbours in the list differ by ``multiplier / (N - 1)``. The
default, 1000, is far above the sum of nova's default spreading multipliers
(about 10), so the list order wins over free RAM, CPU and disk for lists of
up to 100 clusters, while nova's build-failure and cross-cell weighers
(multiplier 1000000) still win over it. 0 turns the preference off, so
nova's other weighers choose among the listed clusters.

The value can be overridden per host aggregate with the metadata key
``cluster_preference_weight_multiplier``.

This option only affects scheduling if ``VMwareClusterPreferenceWeigher``
is enabled in ``[filter_scheduler] weight_classes``.

Possible values:

* A float, 0 or greater.

Related options:

* ``[filter_scheduler] weight_classes``
* ``[filter_scheduler] ram_weight_multiplier`` and the other multipliers
"""),
]


def register_opts(conf):
    """Register the ``[vmware_scheduler]`` options on ``conf``."""
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    """The options for oslo-config-generator and the docs."""
    return [(GROUP, OPTS)]
