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

"""nova_vmw_sched scheduler weighers.

Operators add them beside nova's own::

    [filter_scheduler]
    weight_classes = nova.scheduler.weights.all_weighers,
                     nova_vmw_sched.weights.all_weighers
"""

import threading

from nova import loadables
from nova.scheduler import weights


class OncePerWeighing:
    """A configured multiplier, read once per weighing, not once per host.

    nova's weight handler calls a weigher's ``weigh_objects()`` once per
    request (per instance) and then its ``weight_multiplier()`` once per
    host; reading an oslo.config option costs more than the rest of a
    cheap weigher. ``refresh()`` reads it in ``weigh_objects()``;
    ``get()`` gives that value to ``weight_multiplier()``. The value is kept
    per thread (per greenthread under eventlet), so concurrent requests do
    not see each other's.
    """

    def __init__(self, read):
        self._read = read
        self._local = threading.local()

    def refresh(self):
        self._local.value = value = self._read()
        return value

    def get(self):
        value = getattr(self._local, 'value', None)
        return self._read() if value is None else value


class _WeigherLoader(loadables.BaseLoader):
    def __init__(self):
        super().__init__(weights.BaseHostWeigher)


def all_weighers():
    """All weigher classes of nova_vmw_sched, for ``weight_classes``."""
    classes = {}
    for cls in _WeigherLoader().get_all_classes():
        if cls.__module__.startswith(__name__ + '.'):
            classes[cls.__name__] = cls
    return list(classes.values())
