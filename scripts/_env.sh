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
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        echo "== installing trustnet $spec" >&2
        "$VENV/bin/python" -m pip install -q --upgrade pip >&2 || true
        "$VENV/bin/python" -m pip install -q -e "$spec" >&2
        touch "$stamp"
    fi
}
