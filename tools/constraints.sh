#!/usr/bin/env bash
# `make constraints`: pin every package the course and its tests install, once per supported Python minor version,
# resolved on that Python (3.10 needs older numpy, IPython and matplotlib than 3.13 resolves). `make lab`, `make test`
# and CI install with the file of the Python they run, so a release of a dependency cannot change what was tested:
# every warning is an error in the suite, and a new DeprecationWarning would fail a working course.
# Usage: tools/constraints.sh [python ...]   (default: every python3.10 to python3.13 found on PATH or in pyenv)
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$REPO/constraints"
mkdir -p "$OUT"

find_pythons() {
    local minor
    local candidate
    for minor in 3.10 3.11 3.12 3.13; do
        # The system's own first: a learner's Debian Python is an early patch release (3.11.2), and a package may
        # need a later one (soupsieve 3 asks for 3.11.5): pins resolved there install on every later patch too.
        # Then pyenv's, oldest first (its shim on PATH fails for a version that is not selected).
        for candidate in "/usr/bin/python$minor" \
                         $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$minor".*/bin/python"$minor" 2>/dev/null | sort -V) \
                         "$(command -v "python$minor" || true)"; do
            if [ -n "$candidate" ] && "$candidate" -c pass 2>/dev/null; then
                echo "$candidate"
                break
            fi
        done
    done
}

pythons=("$@")
[ ${#pythons[@]} -gt 0 ] || mapfile -t pythons < <(find_pythons)
for python in "${pythons[@]}"; do
    minor="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    venv="$(mktemp -d /tmp/constraints-XXXXXX)"
    echo "constraints: resolving on $python ($minor)"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
    (cd "$REPO" && "$venv/bin/python" -m pip install --quiet ".[test,site]")
    {
        echo "# Resolved on CPython $("$python" -c 'import platform; print(platform.python_version())') by tools/constraints.sh on $(date -u +%Y-%m-%d); regenerate with make constraints."
        "$venv/bin/python" -m pip freeze --exclude flask-mail-performance-course | grep -v '^-e '
    } > "$OUT/py$minor.txt"
    rm -rf "$venv"
    echo "constraints: wrote constraints/py$minor.txt"
done
