"""The delegate's tests use the SDK's test helpers (backend_process) and the SDK in this
repository, as the SDK's own tests do (see plugins/sdk/python/tests/conftest.py)."""
import os
import sys

SDK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sdk", "python")
sys.path[:0] = [SDK, os.path.join(SDK, "tests")]
