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

"""A one-line progress display of the commands, on a terminal only."""

import sys
import time


class Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, stream=None, enabled=True, what='requests'):
        self.what = what
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.stream.isatty()
        self.start = time.monotonic()
        self.shown = 0.0

    def __call__(self, done, total):
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self.shown < 0.2:
            return
        self.shown = now
        width = 30
        filled = width * done // max(total, 1)
        self.stream.write('\r[%s%s] %d/%d %s, %.0f s ' % (
            '#' * filled, '.' * (width - filled), done, total, self.what,
            now - self.start))
        if done >= total:
            self.stream.write('\r' + ' ' * 70 + '\r')
        self.stream.flush()
