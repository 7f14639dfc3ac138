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

"""Sphinx configuration of the nova-vmw-sched documentation.

Build with ``tox -e docs`` or
``sphinx-build -W --keep-going -b html doc/source doc/build/html``.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '_exts'))

# -- General -----------------------------------------------------------------

extensions = [
    # ``.. show-options:: nova_vmw_sched`` renders the options from the
    # code, through the oslo.config.opts entry point in setup.cfg.
    'oslo_config.sphinxext',
    # ``.. scenario-fields:: PART`` renders a field table of the scenario
    # format from its JSON schema (_exts/scenario_fields.py).
    'scenario_fields',
]

project = 'nova-vmw-sched'
copyright = 'nova-vmw-sched developers'
author = 'nova-vmw-sched developers'

root_doc = 'index'
source_suffix = {'.rst': 'restructuredtext'}
exclude_patterns = []
language = 'en'
pygments_style = 'sphinx'

# -- HTML --------------------------------------------------------------------

html_theme = 'alabaster'
html_title = 'nova-vmw-sched'
html_static_path = []
html_show_sourcelink = False
