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

"""``.. scenario-fields:: PART``: the field table of one part of the scenario
format (``scenario`` for the top level, else a name under ``$defs``),
rendered from its JSON schema (:mod:`nova_vmw_sched.simulate.schema`).

Type, default and the range of a number come from the schema; the meaning
is the field's ``description``. A field without one, or an allowed value
its description does not name, fails the build.
"""

from nova_vmw_sched.simulate import schema

HEADER = """.. list-table::
   :header-rows: 1
   :widths: 18 14 12 56

   * - Field
     - Type
     - Default
     - Meaning and constraints""".splitlines()
TYPES = {'object': 'mapping', 'array': 'list'}


def _number(value):
    if isinstance(value, int) and value >= 2 ** 20 and \
            value & (value - 1) == 0:
        return r'2\ :sup:`%d`' % (value.bit_length() - 1)
    return str(value)


def _range(spec):
    if 'exclusiveMinimum' in spec:
        return 'Above %s, at most %s.' % (spec['exclusiveMinimum'],
                                          _number(spec['maximum']))
    if 'minimum' not in spec:
        return ''
    if spec['maximum'] == schema.SCHEMA['$defs']['size']['maximum']:
        return 'At least %s.' % spec['minimum']
    return 'From %s to %s.' % (spec['minimum'], _number(spec['maximum']))


def _default(field, spec, part):
    if field in part.get('required', ()):
        return 'required'
    if 'x-default' in spec:
        return spec['x-default']
    value = spec.get('default')
    if value is None:
        return 'none'
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return '``%s``' % value if isinstance(value, str) else str(value)


def rows(name):
    """The lines of the list-table of one part of the format."""
    part = schema.SCHEMA if name == 'scenario' else schema.SCHEMA[
        '$defs'][name]
    lines = list(HEADER)
    for field, spec in part['properties'].items():
        if 'description' not in spec:
            raise ValueError('%s.%s has no description' % (name, field))
        target = schema.SCHEMA['$defs'][spec['$ref'].rsplit('/', 1)[1]] \
            if '$ref' in spec else {}
        spec_range = _range(dict(target, **spec))
        for value in spec.get('enum', ()):
            if '``%s``' % value not in spec['description']:
                raise ValueError('%s.%s: the description does not name '
                                 '``%s``' % (name, field, value))
        kinds = ['integer'] if 'const' in spec else [
            TYPES.get(t, t) for t in schema.types(spec) if t != 'null']
        lines += ['   * - ``%s``' % field,
                  '     - ' + ' or '.join(kinds),
                  '     - ' + _default(field, spec, part),
                  '     - ' + ' '.join(filter(None, (spec['description'],
                                                     spec_range)))]
    return lines


def setup(app):
    # docutils only here: the unit tests call rows() without it
    from docutils.parsers.rst import Directive
    from docutils import statemachine

    class ScenarioFields(Directive):
        """The field table of one part of the scenario format."""

        required_arguments = 1

        def run(self):
            try:
                lines = rows(self.arguments[0])
            except (KeyError, ValueError) as e:
                raise self.error('scenario-fields %s: %s'
                                 % (self.arguments[0], e))
            self.state_machine.insert_input(
                statemachine.StringList(lines, source=schema.PATH),
                schema.PATH)
            return []

    app.add_directive('scenario-fields', ScenarioFields)
    return {'parallel_read_safe': True, 'parallel_write_safe': True}
