"""The tests exercise the package in this repository, not an installed copy: the directory
holding ``molecule_plugin`` goes first on the path (backend_process passes it on to the
processes the tests start), and this directory's helpers are importable by name."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(HERE), HERE]
