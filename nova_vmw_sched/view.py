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

"""The one per-request view that all our filters and weighers share.

nova shares its filter, weigher and HostState objects between requests that
run at once, so what one request needs (its ``'pin'``, ``'members'``,
``'move'`` and ``'explanation'``) lives here, keyed weakly by its
``RequestSpec``: nova hands the same one to every filter and weigher and to
every instance of a multi-create. Each part is built once, on first use.
"""

import threading
import weakref

_views = weakref.WeakKeyDictionary()
_lock = threading.Lock()


class RequestView:
    """The parts of one request's view, each built once."""

    def __init__(self):
        self._lock = threading.RLock()
        self._parts = {}

    def part(self, name, build=None):
        """The part ``name``, built by ``build()`` on first use (without
        ``build``, None until someone has built it)."""
        try:
            return self._parts[name]
        except KeyError:
            if build is None:
                return None
        with self._lock:
            if name not in self._parts:
                self._parts[name] = build()
            return self._parts[name]


def of(spec_obj):
    """The :class:`RequestView` of this request (created on first use; a
    new one on every call for an object that cannot be weakly referenced)"""
    try:
        return _views[spec_obj]
    except KeyError:
        pass
    except TypeError:
        return RequestView()
    with _lock:
        return _views.setdefault(spec_obj, RequestView())


class Refused(str):
    """Why every host fails: a hard rule cannot be judged for the request."""
