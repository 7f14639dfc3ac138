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

"""Flavor extra spec validators for nova-api (entry point
``nova.api.extra_spec_validators``): from microversion 2.86 nova refuses
the keys of the ``vmware`` namespace it does not know. Syntax only: an
alias is resolved by the scheduler.
"""

from nova.api.validation.extra_specs import base
from nova import exception

from nova_vmw_sched import cluster
from nova_vmw_sched import request


class ClusterListValidator(base.ExtraSpecValidator):
    """Validate a comma-separated list of cluster references."""

    def validate(self, name, value):
        super().validate(name, value)
        try:
            cluster.parse_reference_list(value)
        except cluster.InvalidClusterReference as e:
            raise exception.ValidationError(
                "Validation failed; extra spec '%s': %s." % (name, e))


def register():
    return [
        ClusterListValidator(
            name=request.CLUSTER_EXTRA_SPEC,
            description=(
                'The VMware clusters this flavor may be scheduled to, in '
                'order of preference: a comma-separated list of full node '
                'names (domain-cN.<vCenter uuid> or domain-cN(<name>)), bare '
                'morefs (domain-cN, that moref in every vCenter) or aliases '
                'from [vmware_scheduler] cluster_aliases. Only affects '
                'scheduling if VMwareClusterFilter is enabled.'),
            value={
                'type': str,
                'description': 'comma-separated cluster references',
            },
        ),
    ]
