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

"""oslo.messaging's fake driver, woken by messages instead of a timer.

nova's functional harness carries RPC over oslo.messaging's ``fake://``
driver, whose listeners look at their queues every 50 ms. Each service has
several listeners, and a test keeps every service it started running, so a
test process wakes hundreds of times a second for nothing and every RPC
waits 25 ms on average before its server sees it. On native threads each
of those wakes is a GIL hand-off that delays the threads doing work.

:class:`EventDrivenFakeBus` makes a listener sleep until a message is
delivered (or it is stopped, or its poll times out). Messages, queues and
the order in which they are taken are the driver's own: only the waiting
changes.
"""

import threading

import fixtures
from oslo_messaging._drivers import impl_fake
from oslo_utils import timeutils

#: notified whenever a message is delivered or a listener stops
_changed = threading.Condition()
#: counts those notifications, so that a listener that looked at its queues
#: before a delivery does not go to sleep after it
_generation = [0]


def _notify():
    with _changed:
        _generation[0] += 1
        _changed.notify_all()


def _deliver_message(original):
    def deliver_message(self, *args, **kwargs):
        original(self, *args, **kwargs)
        _notify()
    return deliver_message


def _stop(original):
    def stop(self):
        original(self)
        _notify()
    return stop


def _poll_one(self, timeout=None):
    """One message for this listener, or None once ``timeout`` is over."""
    with timeutils.StopWatch(timeout) as watch:
        while not self._stopped.is_set():
            with _changed:
                seen = _generation[0]
            for target in self._targets:
                exchange = self._exchange_manager.get_exchange(
                    target.exchange)
                ctxt, message, reply_q, requeue = exchange.poll(
                    target, self._pool)
                if message is not None:
                    return impl_fake.FakeIncomingMessage(
                        ctxt, message, reply_q, requeue)
            left = watch.leftover(return_none=True)
            if left is not None and left <= 0:
                return None
            with _changed:
                if _generation[0] == seen:
                    # a bounded wait: a listener never sleeps past a second
                    # even if a notification were lost
                    _changed.wait(1.0 if left is None else min(left, 1.0))
    return None


class EventDrivenFakeBus(fixtures.Fixture):
    """Patch oslo.messaging's fake driver for the duration of a test."""

    def _setUp(self):
        self.useFixture(fixtures.MonkeyPatch(
            'oslo_messaging._drivers.impl_fake.FakeExchange.deliver_message',
            _deliver_message(impl_fake.FakeExchange.deliver_message)))
        self.useFixture(fixtures.MonkeyPatch(
            'oslo_messaging._drivers.impl_fake.FakeListener.stop',
            _stop(impl_fake.FakeListener.stop)))
        self.useFixture(fixtures.MonkeyPatch(
            'oslo_messaging._drivers.impl_fake.FakeListener.poll',
            impl_fake.base.batch_poll_helper(_poll_one)))
