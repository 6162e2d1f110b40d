"""Würstchen v2 (diffusers) -> the Wuerstchen.PowerShell ONNX model folder. export_wuerstchen.py is the entry point.

Modules by concern: contract (names, ports, constants from docs/spec/model-contract.json), aa_resize, patches,
wrappers, inputs, onnx_io, fp16 (ONNX-level float16 conversion), runners, validation, exporter, folder, driver, cli;
selftest/ (interpreter, stand-ins, the self-test run) is only used by --self-test and the tests."""
