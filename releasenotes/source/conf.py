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

"""Sphinx configuration of the nova-vmw-sched release notes.

reno reads the notes from git (releasenotes/notes/*.yaml, committed ones
only). Build with ``tox -e releasenotes`` or
``sphinx-build -W --keep-going -b html releasenotes/source
releasenotes/build/html``.
"""

extensions = [
    'reno.sphinxext',
]

project = 'nova-vmw-sched Release Notes'
copyright = 'nova-vmw-sched developers'
author = 'nova-vmw-sched developers'

root_doc = 'index'
source_suffix = {'.rst': 'restructuredtext'}
exclude_patterns = []
language = 'en'
pygments_style = 'sphinx'

html_theme = 'alabaster'
html_title = 'nova-vmw-sched Release Notes'
html_static_path = []
html_show_sourcelink = False
