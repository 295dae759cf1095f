#!/usr/bin/env bash
# What an installed ganfill does (issue 27): the wheel and the sdist carry the LICENSE; a model
# exported by name goes to the user's folder (GANFILL_HOME), not into site-packages; `pip
# uninstall ganfill` leaves nothing of ganfill in site-packages; after a reinstall `ganfill
# models` lists the exported model. Prints each fact and exits 1 if one does not hold.
#
#   bash scripts/check_package.sh [SOURCE_DIR]     # default: this checkout
#
# The wheel is installed with --no-deps into a throwaway venv whose path also holds this
# checkout's .venv packages (torch and the rest: nothing is downloaded). SOURCE_DIR may be an
# older tree (e.g. `git archive REV | tar -x -C DIR`) to see how it behaved.
set -uo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
SRC=$(cd "${1:-$REPO}" && pwd)
PY=${PY:-$REPO/.venv/bin/python}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
failed=0
fact() { if eval "$2"; then echo "ok    $1"; else echo "FAIL  $1"; failed=1; fi; }

echo "== build from $SRC"
(cd "$SRC" && "$PY" -m pip wheel --no-deps --no-build-isolation -q -w "$W/dist" . >/dev/null 2>&1)
(cd "$SRC" && "$PY" -c "from setuptools import build_meta as b; b.build_sdist('$W/dist')" >/dev/null 2>&1)
WHEEL=$(ls "$W"/dist/*.whl) SDIST=$(ls "$W"/dist/*.tar.gz)
echo "$(basename "$WHEEL") ($(du -h "$WHEEL" | cut -f1)), $(basename "$SDIST")"
"$PY" -m zipfile -l "$WHEEL" > "$W/wheel.txt"
tar tzf "$SDIST" > "$W/sdist.txt"
grep -i licen "$W/wheel.txt" "$W/sdist.txt"
fact "the wheel holds the LICENSE" 'grep -q "dist-info/licenses/LICENSE" "$W/wheel.txt"'
fact "the sdist holds the LICENSE" 'grep -q "/LICENSE$" "$W/sdist.txt"'
fact "the wheel's metadata says MIT and has project URLs" \
  '"$PY" -c "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); m=[n for n in z.namelist() if n.endswith(\"METADATA\")][0]; t=z.read(m).decode(); sys.exit(not (\"License-Expression: MIT\" in t and \"Project-URL:\" in t))" "$WHEEL"'

echo "== install into a throwaway venv"
"$PY" -m venv "$W/venv"
SITE=$("$W/venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
DEPS=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
echo "$DEPS" > "$SITE/zz-worktree-deps.pth"  # a plain path: the dependencies, never the editable checkout
"$W/venv/bin/pip" install -q --no-deps --disable-pip-version-check "$WHEEL"
export GANFILL_HOME="$W/home"
G="$W/venv/bin/ganfill"
"$W/venv/bin/python" -c "
import ganfill, torch
from ganfill.models import files
from ganfill.models.config import ModelConfig
from ganfill.models.dcgan import GANModel, build
print('ganfill imported from', ganfill.__file__)
torch.manual_seed(0)
G, D = build(ModelConfig(resolution=32, z_dim=8, g_width=8, d_width=8))
files.save('$W/tiny.safetensors', GANModel.from_nets(G=G, D=D))
"
(cd "$W" && "$G" export tiny.safetensors mine32)
echo "-- ganfill models"
"$G" models
fact "the export went to GANFILL_HOME" '[ -n "$(find "$W/home" -name mine32.safetensors 2>/dev/null)" ]'
fact "the export did not go into site-packages" '[ -z "$(find "$SITE" -name "mine32*")" ]'
fact "ganfill models lists mine32" '"$G" models > "$W/models.txt" && grep -q "^mine32 " "$W/models.txt"'

echo "== pip uninstall ganfill"
"$W/venv/bin/pip" uninstall -y -q ganfill
echo "-- left in site-packages: $(find "$SITE" -iname '*ganfill*' | tr '\n' ' ')"
fact "nothing of ganfill is left in site-packages" '[ -z "$(find "$SITE" -iname "*ganfill*")" ]'
fact "the user's model survives the uninstall" '[ -n "$(find "$W/home" -name mine32.safetensors 2>/dev/null)" ]'

echo "== reinstall"
"$W/venv/bin/pip" install -q --no-deps --disable-pip-version-check "$WHEEL"
"$G" models
fact "after a reinstall, ganfill models lists mine32" '"$G" models > "$W/models.txt" && grep -q "^mine32 " "$W/models.txt"'
fact "and finds it by name" '"$G" sample mine32 -n 4 --out "$W/grid.png" >/dev/null'
exit $failed
