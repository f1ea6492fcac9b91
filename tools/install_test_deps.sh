#!/usr/bin/env bash
# What the test suite needs besides Python packages, for `make test` and `.ci/run` alike:
#   a Chromium       browser tests (Playwright drives it)                  apt: chromium
#   redis-server     the queue pattern on Redis                            apt: redis-server
#   ab               the HTTP benchmark test (ApacheBench)                 apt: apache2-utils
#   configurable-http-proxy   the proxy of the real JupyterHub test        npm (Node from apt: npm)
#   mermaid, axe-core         the website's diagrams, and its accessibility check   npm, into build/ (no root needed)
# As root on a machine with apt-get it installs what is missing, and says so. Otherwise it installs
# nothing and lists what is missing: the tests that need it are skipped, each with one reason.
# With SANDBOX_REQUIRE_ALL=1 (as .ci/run sets) anything still missing is an error, here and in the tests.
set -uo pipefail

CHP_VERSION="~5.2.0"  # 5.2 is the newest whose dependencies all support Node 20
REPO="$(cd "$(dirname "$0")/.." && pwd)"
# The website's npm packages live in the repository's build/ folder: tools/site/build.py and tests/test_site.py find them there.
MERMAID="$REPO/build/site-tools/node_modules/mermaid/dist/mermaid.min.js"
AXE="$REPO/build/test-tools/node_modules/axe-core/axe.min.js"
CHROMIUM_NAMES=(chromium chromium-browser google-chrome)

say() { printf 'test deps: %s\n' "$*"; }

have_chromium() {
    if [ -n "${CHROMIUM_PATH:-}" ]; then
        [ -x "$CHROMIUM_PATH" ]
        return
    fi
    local name
    for name in "${CHROMIUM_NAMES[@]}"; do
        command -v "$name" >/dev/null 2>&1 && return 0
    done
    # One that `python -m playwright install chromium` downloaded.
    compgen -G "${PLAYWRIGHT_BROWSERS_PATH:-$HOME/.cache/ms-playwright}/chromium-*/chrome-linux*/chrome" >/dev/null
}

have() { command -v "$1" >/dev/null 2>&1; }

# What is missing: "thing|apt package|what skips without it".
missing_list() {
    have_chromium || echo "a Chromium|chromium|the browser tests"
    have redis-server || echo "redis-server|redis-server|the Redis queue tests"
    have ab || echo "ab (ApacheBench)|apache2-utils|the HTTP benchmark test"
    have configurable-http-proxy || echo "configurable-http-proxy|npm|the JupyterHub tests"
    [ -f "$MERMAID" ] || echo "mermaid.js|npm|the website tests"
    [ -f "$AXE" ] || echo "axe-core|npm|the website's accessibility test"
}

# npm packages into build/: any user may, wherever npm is.
install_npm_packages() {
    have npm || return 0
    if [ ! -f "$MERMAID" ]; then
        say "installing with npm into build/site-tools: mermaid@11"
        npm install --prefix "$REPO/build/site-tools" --no-save --no-fund --no-audit --loglevel=error mermaid@11 \
            || say "npm could not install mermaid"
    fi
    if [ ! -f "$AXE" ]; then
        say "installing with npm into build/test-tools: axe-core@4"
        npm install --prefix "$REPO/build/test-tools" --no-save --no-fund --no-audit --loglevel=error axe-core@4 \
            || say "npm could not install axe-core"
    fi
}

install_npm_packages
missing="$(missing_list)"
if [ -z "$missing" ]; then
    say "all present (a Chromium, redis-server, ab, configurable-http-proxy, mermaid, axe-core)"
    exit 0
fi

if [ -n "${CHROMIUM_PATH:-}" ] && [ ! -x "$CHROMIUM_PATH" ]; then
    say "CHROMIUM_PATH is '$CHROMIUM_PATH', which is not an executable: point it at a Chromium, or unset it"
fi

if [ "$(id -u)" = 0 ] && have apt-get; then
    packages=()
    while IFS='|' read -r _thing package _skips; do
        [ -n "$package" ] || continue
        if [ "$package" = npm ]; then
            have npm || packages+=(npm)
        else
            packages+=("$package")
        fi
    done <<<"$missing"
    if [ "${#packages[@]}" -gt 0 ]; then
        say "installing with apt-get: ${packages[*]}"
        export DEBIAN_FRONTEND=noninteractive
        if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null; }; then
            say "apt-get could not install ${packages[*]}"
        fi
    fi
    install_npm_packages  # npm may have come with apt just now
    if ! have configurable-http-proxy && have npm; then
        say "installing with npm: configurable-http-proxy@$CHP_VERSION"
        npm install --global --no-fund --no-audit --loglevel=error "configurable-http-proxy@$CHP_VERSION" \
            || say "npm could not install configurable-http-proxy"
    fi
    missing="$(missing_list)"
elif [ "$(id -u)" = 0 ]; then
    say "no apt-get here: install these yourself"
else
    say "not root: installing nothing (run \`make test-deps\` as root, or install these yourself)"
fi

if [ -z "$missing" ]; then
    say "all present now"
    exit 0
fi
while IFS='|' read -r thing package skips; do
    say "missing $thing ($package): $skips will be skipped"
done <<<"$missing"
if [ "${SANDBOX_REQUIRE_ALL:-}" = 1 ]; then
    say "SANDBOX_REQUIRE_ALL=1: nothing may be missing"
    exit 1
fi
exit 0
