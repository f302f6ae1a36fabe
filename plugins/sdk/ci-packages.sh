#!/usr/bin/env bash
# Proves the SDK packages work as their users get them, not as they sit in this repository.
#
#   python  builds the sdist and, from it, the wheel (python -m build), installs the wheel into
#           a fresh virtual environment, runs the echo example from there through
#           `molecule backend-check`, and type-checks the examples against the installed
#           package with mypy --strict (which reads its types only because of py.typed).
#   node    packs the npm tarball, installs it into a fresh project, runs the echo example from
#           there through `molecule backend-check`, and type-checks the examples against the
#           installed declarations with tsc --strict.
#   rust    `cargo package` of molecule-protocol and molecule-plugin together (see
#           plugins/README.md for why together).
#
# Usage: plugins/sdk/ci-packages.sh [python] [node] [rust]   (all three without arguments)
# The examples are copied out of the repository and PYTHONPATH / NODE_PATH are cleared, so only
# the installed package can satisfy their imports. Network: PyPI and npm only (build, flit_core,
# mypy, typescript, @types/node). The host is target/debug/molecule (MOLECULE_BIN overrides).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
molecule=${MOLECULE_BIN:-$root/target/debug/molecule}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

say() { printf '\nci-packages: %s\n' "$*"; }
fail() {
  echo "ci-packages: $*" >&2
  exit 1
}

need_molecule() {
  if [ ! -x "$molecule" ]; then
    say "building $molecule"
    (cd "$root" && cargo build --quiet --bin molecule)
  fi
}

# Runs a command with neither PYTHONPATH nor NODE_PATH, in $1.
isolated() {
  local dir=$1
  shift
  (cd "$dir" && env -u PYTHONPATH -u NODE_PATH "$@")
}

python_package() {
  need_molecule
  say "python: building the sdist and the wheel"
  python3 -m venv "$work/py-build"
  "$work/py-build/bin/pip" install --quiet build
  "$work/py-build/bin/python" -m build --outdir "$work/dist" "$root/plugins/sdk/python"
  local wheel
  wheel=$(echo "$work"/dist/molecule_plugin-*-py3-none-any.whl)
  [ -f "$wheel" ] || fail "python: no wheel in $work/dist"
  # Listed into a variable first: `grep -q` exits at its first match, and under pipefail the
  # lister's broken pipe would fail the check whenever the match comes early.
  local listing
  listing=$(python3 -m zipfile -l "$wheel")
  grep -q 'molecule_plugin/py.typed' <<<"$listing" \
    || fail "python: the wheel has no molecule_plugin/py.typed"

  say "python: installing $(basename "$wheel") into a fresh virtual environment"
  local env=$work/py-env app=$work/py-app
  python3 -m venv "$env"
  "$env/bin/pip" install --quiet --no-index "$wheel"
  mkdir -p "$app"
  cp "$root/plugins/echo/python/echo.py" "$root/plugins/delegate/python/delegate.py" "$app/"
  local found
  found=$(isolated "$app" "$env/bin/python" -c 'import molecule_plugin; print(molecule_plugin.__file__)')
  case $found in
    "$env"/*) ;;
    *) fail "python: molecule_plugin was imported from $found, not the virtual environment" ;;
  esac

  say "python: the installed echo through molecule backend-check"
  isolated "$app" "$molecule" backend-check -- "$env/bin/python" echo.py

  say "python: mypy --strict on the examples, against the installed package"
  "$env/bin/pip" install --quiet mypy
  isolated "$app" "$env/bin/mypy" --strict echo.py delegate.py
}

node_package() {
  need_molecule
  say "node: packing the npm tarball"
  local tarball
  tarball=$(cd "$root/plugins/sdk/node" && npm pack --silent --pack-destination "$work")
  tarball=$work/$tarball
  [ -f "$tarball" ] || fail "node: npm pack made no tarball"
  local contents
  contents=$(tar -tzf "$tarball")
  grep -q '^package/molecule-plugin.d.ts$' <<<"$contents" \
    || fail "node: the tarball has no molecule-plugin.d.ts"
  if grep -q '^package/tests/' <<<"$contents"; then
    fail "node: the tarball ships the tests"
  fi

  say "node: installing $(basename "$tarball") into a fresh project"
  local app=$work/node-app
  mkdir -p "$app"
  cp "$root/plugins/echo/node/echo.js" "$root/plugins/delegate/node/delegate.js" "$app/"
  isolated "$app" npm init --yes >/dev/null
  isolated "$app" npm install --no-audit --no-fund --silent "$tarball"
  local found
  found=$(isolated "$app" node -e "console.log(require.resolve('molecule-plugin'))")
  case $found in
    "$app"/node_modules/*) ;;
    *) fail "node: molecule-plugin resolved to $found, not the project's node_modules" ;;
  esac

  say "node: the installed echo through molecule backend-check"
  isolated "$app" "$molecule" backend-check -- node echo.js

  say "node: tsc --strict on the examples, against the installed declarations"
  # TypeScript 5 (plain JavaScript; 7 is a native binary per platform) and the Node types of
  # the oldest Node the package supports.
  isolated "$app" npm install --no-audit --no-fund --silent typescript@5 @types/node@18
  isolated "$app" npx --no-install tsc --noEmit --allowJs --checkJs --strict \
    --module node16 --moduleResolution node16 --target es2022 echo.js delegate.js
}

rust_packages() {
  say "rust: cargo package of molecule-protocol and molecule-plugin"
  (cd "$root" && cargo package --quiet -p molecule-protocol -p molecule-plugin --allow-dirty)
}

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(python node rust)
for part in "${parts[@]}"; do
  case $part in
    python) python_package ;;
    node) node_package ;;
    rust) rust_packages ;;
    *) fail "unknown part '$part': give python, node or rust" ;;
  esac
done
say "ok: ${parts[*]}"
