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

"""Write the hostile scenario corpus of ``tests/unit/simulate/hostile``.

Every field of a small scenario (with a move request), replaced in turn by
two values of the wrong kind or size, plus some whole-file oddities. Run it
(``python -m tests.unit.simulate.make_hostile``) to write the files again;
``test_hostile`` runs each through the CLI.
"""

import copy
import os

import yaml

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'hostile')
VC = '6f1c2a6e-2f6b-4c39-9d55-3b1f4c1e7a01'

BASE = {
    'version': 1,
    'config': {'vmware_scheduler': {'cluster_aliases': {
        'gold': 'domain-c7'}}},
    'vcenters': {'vc1': {'uuid': VC, 'clusters': {
        'domain-c7': {'hosts': [{'cpus': 32, 'memory_mb': 262144}],
                      'used': {'vcpus': 4, 'memory_mb': 8192},
                      'disk_gb': 1000},
        'domain-c8': {'hosts': [{'cpus': 32, 'memory_mb': 262144,
                                 'count': 2}]},
    }}},
    'services': {'svc1': {'clusters': ['vc1/domain-c7', 'vc1/domain-c8']}},
    'flavors': {'small': {'vcpus': 2, 'memory_mb': 4096,
                          'extra_specs': {'vmware:cluster': 'gold'}},
                'big': {'vcpus': 4, 'memory_mb': 8192}},
    'server_groups': {'web': {'policy': 'anti-affinity',
                              'rules': {'max_server_per_host': 1}}},
    'instances': {'web-0': {'cluster': 'vc1/domain-c7', 'group': 'web',
                            'flavor': 'small'}},
    'requests': [
        {'name': 'web', 'flavor': 'small', 'group': 'web', 'count': 2,
         'hints': {'different_host': ['web-0']}},
        {'name': 'move', 'action': 'resize', 'instance': 'web-0',
         'flavor': 'big'}],
}

#: values of the wrong kind or size, by name
ODD = {
    'list': ['x', ['y']],
    'mapping': {'k': {'v': 1}},
    'null': None,
    'huge': 10 ** 400,
    'negative': -7,
    'text': 'three',
    'unicode': '\u00e9\u4e2d\u0000',
    'bool': True,
    'float': 1e308,
    'empty': '',
}


def _paths(value, path=()):
    """Every path to a value in a nested structure."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, path + (index,))


def _set(data, path, value):
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def cases():
    """``{file name: YAML text}``."""
    out = {}
    names = sorted(ODD)
    for index, path in enumerate(p for p in _paths(BASE) if p):
        # two kinds of odd value per field, in turn, so that every kind
        # meets many fields
        for odd_name in (names[index % len(names)],
                         names[(index + 3) % len(names)]):
            odd = ODD[odd_name]
            data = copy.deepcopy(BASE)
            _set(data, path, odd)
            name = '-'.join(str(p) for p in path) + '--' + odd_name
            out[name.replace('/', '_').replace(':', '_') + '.yaml'] = \
                yaml.safe_dump(data, allow_unicode=True)
    out['not-a-mapping.yaml'] = '- just\n- a list\n'
    out['empty.yaml'] = ''
    out['tabs.yaml'] = 'version:\t1\n'
    out['duplicate-key.yaml'] = 'version: 1\nversion: 1\n'
    out['anchor-bomb.yaml'] = (
        'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
        'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n'
        'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n'
        'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n'
        'version: *d\n')
    out['python-tag.yaml'] = 'version: !!python/object/apply:os.system ' \
        '["true"]\n'
    out['binary.yaml'] = 'version: !!binary AAEC\n'
    return out


def main():
    os.makedirs(HERE, exist_ok=True)
    for name in os.listdir(HERE):
        if name.endswith('.yaml'):
            os.unlink(os.path.join(HERE, name))
    for name, text in sorted(cases().items()):
        with open(os.path.join(HERE, name), 'w', encoding='utf-8') as f:
            f.write(text)
    print('%d files in %s' % (len(cases()), HERE))


if __name__ == '__main__':
    main()
