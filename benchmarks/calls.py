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

"""Count the database and placement calls a plugin makes.

Database: every nova database access, main or API database, through an
object method, ``nova.db.main.api`` or a model query, enters an oslo.db
``enginefacade`` transaction scope. :func:`install` wraps
``_TransactionContextManager._transaction_scope`` so that each *outermost*
scope counts as one call, named after the nova function that opened it.
The benchmark configures no database, so a call also fails (oslo.db cannot
start an engine); the failure is recorded here even when the plugin
catches it, so a plugin that swallows the error is still seen.

Placement: ``SchedulerReportClient.get/put/post/delete`` are wrapped; each
call counts. A profile may set :attr:`Counter.placement_responder` to answer
them with canned responses; without one the original method runs and fails
(the report client is given a transport that raises
:class:`NoPlacementService`), which is recorded too.

Seams: where a profile replaces a plugin's database access by a stand-in
(``nova_vmw_sched.data.Data.members``), the stand-in calls
:meth:`Counter.lookup`; each lookup is a database query in production.
"""

import collections
import contextlib
import os
import re
import sys
import threading

from oslo_db.sqlalchemy import enginefacade

from nova.scheduler.client import report

_PLACEMENT_METHODS = ('get', 'put', 'post', 'delete')
#: the names of the inventory cache's threads
#: (nova_vmw_sched.inventory): their calls are counted apart
BACKGROUND_THREADS = 'vmw-inventory-'

_UUID = re.compile(r'[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}')


class Counter:
    """Calls seen since the last :meth:`reset`."""

    def __init__(self):
        self._local = threading.local()
        self.placement_responder = None
        self.reset()

    def reset(self):
        self.db = 0
        #: placement calls made on a request's thread
        self.placement = 0
        #: placement calls made by the inventory cache's own threads (its
        #: refresher and readers): not a request's calls
        self.placement_background = 0
        #: lookups through a seam a profile installed in place of the
        #: database (e.g. ``data.get().members``): each is a database query
        #: in production
        self.lookups = 0
        self.db_names = collections.Counter()
        self.placement_names = collections.Counter()
        self.lookup_names = collections.Counter()
        #: failures of those calls: 'where: error', first few only
        self.errors = []

    def snapshot(self):
        return {'db': self.db, 'placement': self.placement,
                'placement_background': self.placement_background,
                'lookups': self.lookups,
                'db_names': dict(self.db_names),
                'placement_names': dict(self.placement_names),
                'lookup_names': dict(self.lookup_names),
                'errors': list(self.errors)}

    def lookup(self, name):
        """Count one lookup through a seam that stands in for the DB."""
        self.lookups += 1
        self.lookup_names[name] += 1

    def _error(self, where, exc):
        if len(self.errors) < 5:
            self.errors.append('%s: %s: %s' % (
                where, type(exc).__name__, str(exc).splitlines()[0][:200]
                if str(exc) else ''))


class NoPlacementService(Exception):
    """The benchmark runs without a placement service."""


class _NoPlacement:
    """The report client's transport when no profile answers placement."""

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise NoPlacementService(
                'no placement service in the benchmark (%s %s); a profile '
                'can answer with Counter.placement_responder'
                % (name.upper(), args[0] if args else ''))
        return fail


COUNTER = Counter()
_installed = False


def _caller_name():
    """The first nova / nova_vmw_sched function on the stack."""
    frame = sys._getframe(2)
    skip = (os.sep + 'oslo_db' + os.sep, os.sep + 'contextlib.py',
            __file__)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not any(s in filename for s in skip):
            return '%s.%s' % (
                os.path.splitext(os.path.basename(filename))[0],
                frame.f_code.co_name)
        frame = frame.f_back
    return '?'


def install():
    """Wrap the database and placement entry points (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    counter = COUNTER
    cls = enginefacade._TransactionContextManager
    original_scope = cls._transaction_scope

    @contextlib.contextmanager
    def counting_scope(self, context):
        local = counter._local
        depth = getattr(local, 'depth', 0)
        outermost = depth == 0
        if outermost:
            counter.db += 1
            name = _caller_name()
            counter.db_names[name] += 1
        local.depth = depth + 1
        try:
            with original_scope(self, context) as resource:
                yield resource
        except Exception as e:
            if outermost:
                counter._error('database (%s)' % name, e)
            raise
        finally:
            local.depth = depth

    cls._transaction_scope = counting_scope

    # Without placement configured, SchedulerReportClient() itself fails
    # (no auth plugin) before any call could be counted; give it a
    # transport that fails each call instead, so that calls are counted.
    report.SchedulerReportClient._create_client = \
        lambda self: _NoPlacement()

    for method in _PLACEMENT_METHODS:
        original = getattr(report.SchedulerReportClient, method)

        def counting(self, url, *args, _method=method, _original=original,
                     **kwargs):
            background = threading.current_thread().name.startswith(
                BACKGROUND_THREADS)
            if background:
                counter.placement_background += 1
            else:
                counter.placement += 1
                counter.placement_names['%s %s' % (
                    _method.upper(),
                    _UUID.sub('{uuid}', str(url).split('?')[0]))] += 1
            try:
                if counter.placement_responder is not None:
                    return counter.placement_responder(
                        _method, url, *args, **kwargs)
                return _original(self, url, *args, **kwargs)
            except Exception as e:
                if not background:  # the cache logs its own failures
                    counter._error('placement %s %s' % (_method.upper(),
                                                        url), e)
                raise

        counting.__name__ = method
        setattr(report.SchedulerReportClient, method, counting)
