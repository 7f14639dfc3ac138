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

"""What differs between the nova releases nova-vmw-sched supports
(doc/source/install.rst), asked of nova by feature, not by version. Nothing
of nova is imported at import time: :func:`monkey_patch` runs first.
"""

#: the environment variable nova reads to choose its concurrency backend
DISABLE_EVENTLET_ENV = 'OS_NOVA_DISABLE_EVENTLET_PATCHING'


def monkey_patch():
    """Choose the concurrency backend as nova's own tests do (nova 31
    patches on import of ``nova.monkey_patch``, later ones in ``patch()``)"""
    from nova import monkey_patch as nova_monkey_patch
    patch = getattr(nova_monkey_patch, 'patch', None)
    if patch is not None:
        patch()


def eventlet_patched():
    """True when this process runs on eventlet (green threads)."""
    from nova import monkey_patch as nova_monkey_patch
    is_patched = getattr(nova_monkey_patch, 'is_patched', None)
    if is_patched is not None:
        return bool(is_patched())
    try:
        from eventlet import patcher
    except ImportError:
        return False
    return patcher.is_monkey_patched('thread')
