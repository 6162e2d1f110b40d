"""Self-test tooling: the built-in ONNX interpreter, stand-in networks and the --self-test run."""
