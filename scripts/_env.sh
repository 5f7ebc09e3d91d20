# Shared by scripts/test and scripts/demo: one virtual environment in .venv,
# created when missing and refreshed when pyproject.toml changes.
VENV="${TRUSTNET_VENV:-$PWD/.venv}"

# The interpreter a new environment is made from: $PYTHON when set; else the distribution's
# own python3.11 (or newer) when it can make environments and build the compiled parts (its
# headers are installed); else python3 on PATH. Debian
# builds its interpreter with profile-guided and link-time optimisation and links it
# statically, where a default pyenv or source build has neither: the node's whole analysis
# runs ~10 % faster on it, gossip ~3 % (docs/benchmarks.md, issue 15, stop 31).
pick_python() {
    if [ -n "${PYTHON:-}" ]; then
        echo "$PYTHON"
        return
    fi
    local candidate
    for candidate in /usr/bin/python3 /usr/bin/python3.11; do
        if [ -x "$candidate" ] && "$candidate" -c 'import os, sys, sysconfig, venv, ensurepip
headers = os.path.join(sysconfig.get_paths()["include"], "Python.h")
sys.exit(sys.version_info < (3, 11) or not os.path.exists(headers))' >/dev/null 2>&1; then
            echo "$candidate"
            return
        fi
    done
    echo python3
}
PY="$(pick_python)"

# The interpreter an environment was made from (its pyvenv.cfg), resolved; empty if unknown.
venv_base() {
    local exe
    exe="$(sed -n 's/^executable *= *//p' "$VENV/pyvenv.cfg" 2>/dev/null | head -n 1)"
    [ -n "$exe" ] && readlink -f "$exe"
}

ensure_venv() {
    local extra="${1:-}"
    local spec="."
    [ -n "$extra" ] && spec=".[$extra]"
    local stamp="$VENV/.trustnet-installed-$extra"
    local want base
    want="$("$PY" -c 'import os, sys; print(os.path.realpath(sys.executable))' 2>/dev/null || true)"
    if [ -x "$VENV/bin/python" ] && [ -n "$want" ] && base="$(venv_base)" && [ "$base" != "$want" ]; then
        # An environment from another interpreter is kept, unless PYTHON asks for another
        # one and these scripts made it (never one they did not, nor the one active now).
        if [ -n "${PYTHON:-}" ] && [ -f "$VENV/.trustnet-python" ] \
                && [ "$(readlink -f "$VENV")" != "$(readlink -f "${VIRTUAL_ENV:-/nonexistent}")" ]; then
            echo "== $VENV was made from $base; making it again from $want (PYTHON=$PYTHON)" >&2
            rm -rf "$VENV"
        else
            echo "== $VENV was made from $base, not $want: kept (remove it to make it from $want)" >&2
        fi
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        echo "== creating virtual environment in $VENV ($("$PY" -c 'import sys; print(sys.version.split()[0])') at $want)" >&2
        "$PY" -m venv "$VENV"
        echo "$want" >"$VENV/.trustnet-python"
    fi
    # setup.py and the C files: the compiled parts are built at install (editable); the
    # analysis's Python sources are followed below.
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ setup.py -nt "$stamp" ] \
            || [ trustnet/_canonical.c -nt "$stamp" ] || [ trustnet/_numeric.c -nt "$stamp" ]; then
        echo "== installing trustnet $spec (log: $VENV/install.log)" >&2
        "$VENV/bin/python" -m pip install -q --upgrade pip >"$VENV/install.log" 2>&1 || true
        if ! "$VENV/bin/python" -m pip install -q -e "$spec" >>"$VENV/install.log" 2>&1; then
            tail -n 30 "$VENV/install.log" >&2
            echo "== installing trustnet failed; the whole log is $VENV/install.log" >&2
            return 1
        fi
        touch "$stamp"
    fi
    # The analysis, compiled by mypyc at install (setup.py): compiled again when one of its
    # sources changed since (trustnet/_source.py would run it interpreted, slower).
    local why
    why="$("$VENV/bin/python" -c 'from trustnet._source import interpreted_because as w
print(w() or "")' 2>/dev/null || true)"
    case "$why" in
        *"since it was built"*|*"was not built"*|*"is unknown"*|*"another list"*)
            echo "== compiling the analysis again (mypyc, about a minute; log: $VENV/install.log): $why" >&2
            if ! "$VENV/bin/python" -m pip install -q --no-deps -e "$spec" >"$VENV/install.log" 2>&1; then
                echo "== compiling failed: the analysis runs interpreted (slower); see $VENV/install.log" >&2
            fi
            ;;
    esac
}

# Headless Chromium from Debian, for the dashboard's browser test. Installed when
# missing and we are root with apt-get (CI, fresh machines); otherwise that one test
# skips and says why.
ensure_chromium() {
    command -v chromium >/dev/null 2>&1 && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "== installing chromium (Debian) for the dashboard test" >&2
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
            >/tmp/trustnet-apt.log 2>&1 || echo "   (chromium install failed; see /tmp/trustnet-apt.log)" >&2
    fi
}
