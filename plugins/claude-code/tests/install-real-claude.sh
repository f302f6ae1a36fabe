#!/usr/bin/env bash
# Installs the real Claude Code CLI, pinned, for the claude-code backend's real-CLI tests
# (plugins/claude-code/tests/claude/real/). Everything comes from the npm registry; nothing is
# installed globally.
#
#   plugins/claude-code/tests/install-real-claude.sh [DIR]
#
# DIR defaults to plugins/claude-code/.real-claude (gitignored). Each version goes to
# DIR/<version>/, its executable at DIR/<version>/node_modules/.bin/claude; the tests find them
# there (or under $MOLECULE_REAL_CLAUDE_DIR). Running it again is a no-op that takes well under
# a second.
#
# Versions:
# - OLDEST (2.1.197) is the newest release that still declares Node.js >= 18 (from 2.1.198 on,
#   the package declares Node.js >= 22): what `npm install -g @anthropic-ai/claude-code` gives
#   on Node 18-21. It is installed with the machine's own node.
# - NEWEST (2.1.332) is the latest release tested. It is installed with a Node.js >= 22: the
#   machine's own if it is new enough, otherwise Node 22 from the npm registry's
#   `node-linux-<arch>` package, put under DIR/node22/.
# Both releases ship a native executable (the npm package only copies it in place at install
# time), so the Node.js version matters for the install, not for running the CLI.
set -euo pipefail

OLDEST=2.1.197
NEWEST=2.1.332
NODE_MAJOR=22

here="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-${MOLECULE_REAL_CLAUDE_DIR:-$here/.real-claude}}"
mkdir -p "$dir"

say() { echo "install-real-claude: $*" >&2; }

# Prints the version `claude --version` reports, or nothing.
installed_version() {
  local bin="$dir/$1/node_modules/.bin/claude"
  [ -x "$bin" ] || return 0
  "$bin" --version 2>/dev/null | awk '{print $1}'
}

# npm-installs @anthropic-ai/claude-code@$1 into $dir/$1 with the node found first on PATH.
install_claude() {
  local version="$1"
  if [ "$(installed_version "$version")" = "$version" ]; then
    return 0
  fi
  say "installing @anthropic-ai/claude-code@$version with node $(node --version)"
  rm -rf "$dir/$version"
  mkdir -p "$dir/$version"
  npm install --prefix "$dir/$version" --no-audit --no-fund --no-save --loglevel=error \
    "@anthropic-ai/claude-code@$version" >&2
  local got
  got="$(installed_version "$version")"
  if [ "$got" != "$version" ]; then
    say "@anthropic-ai/claude-code@$version did not install (claude --version says '${got:-nothing}')"
    exit 1
  fi
}

# Prints a directory holding a node >= $NODE_MAJOR, installing one from npm when needed.
node_bin_dir() {
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  if [ "$major" -ge "$NODE_MAJOR" ]; then
    dirname "$(command -v node)"
    return 0
  fi
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) say "no Node.js $NODE_MAJOR package for $(uname -m) on npm"; exit 1 ;;
  esac
  local pkg="node-linux-$arch" bin="$dir/node$NODE_MAJOR/node_modules/node-linux-$arch/bin"
  if ! [ -x "$bin/node" ] || [ "$("$bin/node" -p 'process.versions.node.split(".")[0]')" != "$NODE_MAJOR" ]; then
    say "installing Node.js $NODE_MAJOR from npm ($pkg@$NODE_MAJOR)"
    rm -rf "$dir/node$NODE_MAJOR"
    npm install --prefix "$dir/node$NODE_MAJOR" --no-audit --no-fund --no-save --loglevel=error \
      "$pkg@$NODE_MAJOR" >&2
  fi
  echo "$bin"
}

command -v node >/dev/null || { say "node is required (Node.js 18 or later)"; exit 1; }
command -v npm >/dev/null || { say "npm is required"; exit 1; }

install_claude "$OLDEST"
if [ "$(installed_version "$NEWEST")" != "$NEWEST" ]; then
  node22="$(node_bin_dir)"
  PATH="$node22:$PATH" install_claude "$NEWEST"
fi
say "ready in $dir: $OLDEST, $NEWEST"
