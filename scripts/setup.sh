#!/usr/bin/env bash
# Set up ganfill in ./.venv on a fresh machine. `--test` also installs what the test suite needs.
# torch is pinned through constraints.txt: on this CPU-only kind of machine torch 2.13.0 is a
# local CPU wheel, while an unpinned torch would pull several GB of CUDA packages.
set -euo pipefail
cd "$(dirname "$0")/.."
extras=""
if [ "${1:-}" = "--test" ]; then
  extras="[test]"
  # the browser tests drive Debian's chromium (Playwright's own browser download is not used)
  if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi
python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -c constraints.txt -e ".${extras}"
.venv/bin/python -c "import ganfill, torch; print(f'ganfill {ganfill.__version__} ready (torch {torch.__version__})')"
