#!/usr/bin/env bash
# The tests, from a fresh clone: `bash scripts/test.sh` (the README's test command; .ci/run calls it
# after fmt and clippy). Installs what the tests need when it is missing, saying what and why, then
# runs `cargo test --workspace --locked` (extra arguments are passed on to it) and prints its wall
# time. Needs root (or sudo) only when a Debian package is missing; run again, it installs nothing.
#
# Assumed present (as on the CI machine): Rust (cargo), Node.js >= 20 with npm, Python 3.11, and
# access to crates.io, npm, PyPI and Debian's apt repositories.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '== %s\n' "$*"; }
die() { printf 'scripts/test.sh: %s\n' "$*" >&2; exit 1; }

# ---- What cannot be installed here: checked, with what to do. ----
command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust (https://rustup.rs)"
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 \
  || die "node and npm not found: install Node.js 20 or later (the Node targets and the browser tests)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] \
  || die "Node.js $(node --version) is too old: the targets and playwright-core need Node.js 20 or later"
command -v python3 >/dev/null 2>&1 || die "python3 not found: install Python 3.11 (the Python targets)"

# ---- Debian packages: one line each (the check, the package, why the tests need it). ----
apt_pkgs=()
need_deb() { # PACKAGE WHY
  apt_pkgs+=("$1")
  say "missing: Debian package $1 ($2)"
}
command -v script >/dev/null 2>&1 \
  || need_deb bsdutils "util-linux \`script\`: a pseudo-terminal for the progress-bar and questionnaire tests"
python3 -c 'import venv, ensurepip' 2>/dev/null \
  || need_deb python3-venv "Python's venv module: each Python target installs into a venv of its own"
# Only as root: the remote-target test creates a network namespace (`ip netns add`), which needs it;
# as another user that test is skipped, saying why.
if [ "$(id -u)" -eq 0 ] && ! command -v ip >/dev/null 2>&1; then
  need_deb iproute2 "\`ip\`: the remote-target test (crates/stackwise/tests/remote_target.rs) runs a host in a network namespace"
fi
if [ -z "${STACKWISE_CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ]; then
  need_deb chromium "the browser tests (crates/stackwise/tests/ui_browser.rs) drive Debian's chromium with playwright-core"
fi
# PostgreSQL 15 (Debian's postgresql-15: initdb and postgres in /usr/lib/postgresql/15/bin,
# pg_stat_statements included): the database workloads and their tests start a throwaway cluster of
# their own. Never the `postgresql` meta-package (it follows Debian's default version). Debian creates
# and starts a system cluster on port 5432 when a server package is installed unless
# create_main_cluster is off, so postgresql-common is installed and that is turned off first.
pg_missing=0
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  pg_missing=1
  say "missing: Debian package postgresql-15 (the database workloads' tests start a PostgreSQL of their own)"
fi

if [ ${#apt_pkgs[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 \
    || die "apt-get not found: install ${apt_pkgs[*]} (or their equivalents) by hand, then run this again"
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 \
      || die "installing ${apt_pkgs[*]} needs root: run this script as root, or \`apt-get install -y ${apt_pkgs[*]}\` as root first"
    sudo=(sudo)
  fi
  say "installing Debian packages: ${apt_pkgs[*]} (apt-get update, then apt-get install${sudo:+ via sudo})"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_pkgs[@]}"
fi
if [ "$pg_missing" = 1 ]; then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 \
      || die "installing postgresql-15 needs root: run this script as root, or install it as root first"
    sudo=(sudo)
  fi
  say "installing postgresql-15 without Debian's system cluster (create_main_cluster = false)"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-common
  "${sudo[@]}" sed -i 's/^#* *create_main_cluster *=.*/create_main_cluster = false/' /etc/postgresql-common/createcluster.conf
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15
fi
if [ -x /usr/bin/chromium ] && [ -z "${STACKWISE_CHROMIUM:-}" ]; then
  say "browser: $(/usr/bin/chromium --version 2>/dev/null || echo 'chromium (version unknown)')"
fi

# ---- playwright-core for the browser tests: `npm ci` when node_modules is missing or stale. ----
ui=crates/stackwise/tests/ui
if ! (cd "$ui" && node -e '
  // Every package of package-lock.json installed at its locked version, else exit 1.
  const fs = require("fs");
  const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
  for (const [p, m] of Object.entries(lock.packages)) {
    if (!p) continue;
    let v;
    try { v = JSON.parse(fs.readFileSync(`${p}/package.json`, "utf8")).version; } catch { process.exit(1); }
    if (v !== m.version) process.exit(1);
  }' 2>/dev/null); then
  say "installing playwright-core for the browser tests: npm ci in $ui (node_modules missing or not what package-lock.json pins)"
  npm ci --prefix "$ui" --no-audit --no-fund
fi
say "playwright-core $(node -p "require('./$ui/node_modules/playwright-core/package.json').version")"

# ---- The reference backends: the end-to-end tests run them for real. ----
# npm ci ×5, a hashed pip install per Python target, the axum release build; installed targets are
# skipped. Installing them up front keeps install failures apart from test failures.
say "stackwise targets install (the reference backends the end-to-end tests run; installed ones are skipped)"
cargo run -q --locked -p stackwise -- targets install

# ---- The seed articles: the claims and adviser tests check every quote against them. ----
if [ -z "${STACKWISE_SEEDS:-}" ]; then
  for d in ../shared/seeds /work/shared/seeds; do
    if [ -d "$d" ]; then export STACKWISE_SEEDS="$(cd "$d" && pwd)"; break; fi
  done
fi
if [ -n "${STACKWISE_SEEDS:-}" ]; then
  say "seed articles: $STACKWISE_SEEDS"
else
  say "seed articles not found (../shared/seeds, /work/shared/seeds): set STACKWISE_SEEDS to their folder, or the quote-checking tests fail saying so"
fi

# ---- The tests. ----
say "node --test targets/dev/ (the Node targets' shared contract code and process layout)"
node --test targets/dev/

say "cargo test --workspace --locked --no-fail-fast $*"
start=$(date +%s)
status=0
cargo test --workspace --locked --no-fail-fast "$@" || status=$?
secs=$(( $(date +%s) - start ))
say "cargo test --workspace --locked: $([ "$status" -eq 0 ] && echo passed || echo "FAILED (exit $status)") in $((secs / 60)) min $((secs % 60)) s wall time"
exit "$status"
