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

"""``vmware:cluster`` through nova-api's extra spec validation.

Every check goes through nova's own ``validators.validate``, which only
knows our validator if the ``nova.api.extra_spec_validators`` entry point
was loaded.
"""

from nova.api.validation.extra_specs import validators
from nova import exception
from nova import test

from nova_vmw_sched import extra_spec_validators

KEY = 'vmware:cluster'
VC1 = '6f1c2a6e-2f6b-4c39-9d55-3b1f4c1e7a01'
VC2 = '0b7e4d2c-91a3-4f5e-8c6d-2e1f3a4b5c6d'


class TestClusterValidator(test.NoDBTestCase):

    def _error(self, value):
        e = self.assertRaises(exception.ValidationError,
                              validators.validate, KEY, value)
        message = str(e)
        self.assertIn("extra spec 'vmware:cluster'", message)
        return message

    def test_loaded_through_the_entry_point(self):
        self.assertIsInstance(validators.VALIDATORS[KEY],
                              extra_spec_validators.ClusterListValidator)

    def test_register(self):
        [validator] = extra_spec_validators.register()
        self.assertEqual(KEY, validator.name)
        self.assertIn('VMwareClusterFilter', validator.description)

    def test_good_values(self):
        for value in ('domain-c7',
                      'domain-c7.' + VC1,
                      'domain-c7.' + VC1.upper(),
                      'domain-c7(Gold Cluster)',
                      'gold',
                      'gold, domain-c7.%s , domain-c7.%s,domain-c8' % (
                          VC1, VC2)):
            validators.validate(KEY, value)

    def test_other_vmware_keys_still_refused(self):
        # Registering vmware:cluster must not open the vmware namespace.
        e = self.assertRaises(exception.ValidationError,
                              validators.validate, 'vmware:clusters',
                              'domain-c7')
        self.assertIn('does not appear to be a valid extra spec', str(e))
        validators.validate('vmware:hw_version', 'vmx-13')

    def test_empty_value(self):
        self.assertIn('empty value', self._error(''))
        self.assertIn('empty value', self._error('   '))

    def test_empty_element(self):
        self.assertIn('element 2: empty cluster reference',
                      self._error('domain-c7,,domain-c8'))
        self.assertIn('element 1: empty cluster reference',
                      self._error(',domain-c7'))

    def test_bad_moref(self):
        self.assertIn("element 2: 'domain-x8': bad cluster moref 'domain-x8'",
                      self._error('domain-c7,domain-x8'))

    def test_bad_uuid(self):
        self.assertIn(
            "element 1: 'domain-c7.%s': bad vCenter uuid '%s'" % (
                VC1[:-1], VC1[:-1]),
            self._error('domain-c7.%s,domain-c8' % VC1[:-1]))

    def test_duplicates(self):
        self.assertIn("element 3: 'domain-c7.%s' repeats element 1" % VC1,
                      self._error('domain-c7.%s,domain-c8,domain-c7.%s' % (
                          VC1.upper(), VC1)))
        self.assertIn("element 2: 'gold' repeats element 1",
                      self._error('gold,gold'))

    def test_bad_alias_name(self):
        message = self._error('domain-c7,1gold')
        self.assertIn("element 2: '1gold' is neither a cluster", message)
        self.assertIn("'x%s' is neither" % ('y' * 64),
                      self._error('x' + 'y' * 64))

    def test_bad_display_name(self):
        self.assertIn("element 1: 'domain-c7()': bad display name",
                      self._error('domain-c7()'))
        self.assertIn("element 1: 'domain-c7(Gold': bad display name",
                      self._error('domain-c7(Gold'))
