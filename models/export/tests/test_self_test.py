import argparse
import unittest

from wuerstchen_export.selftest.run import run_self_test


class SelfTest(unittest.TestCase):
    def test_self_test_passes(self):
        args = argparse.Namespace(output=None, device="cpu", opset=17, validator="auto", rtol=None, ort_provider=None)
        self.assertEqual(run_self_test(args), 0)
