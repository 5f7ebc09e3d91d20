# Shared by scripts/test and scripts/demo: one virtual environment in .venv,
# created when missing and refreshed when pyproject.toml changes.
VENV="${TRUSTNET_VENV:-$PWD/.venv}"
PY="${PYTHON:-python3}"

ensure_venv() {
    local extra="${1:-}"
    local spec="."
    [ -n "$extra" ] && spec=".[$extra]"
    local stamp="$VENV/.trustnet-installed-$extra"
    if [ ! -x "$VENV/bin/python" ]; then
        echo "== creating virtual environment in $VENV" >&2
        "$PY" -m venv "$VENV"
    fi
    # setup.py and the C files: the compiled parts are built at install (editable).
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
