#!/usr/bin/env bash
# Install the demo's tools that Debian 12 does not package, inside the checkout (run.sh calls it):
# apptainer, for ldmx_darkbrem_signal's containers and the apptainer backend (with its runtime
# image, .local/runtime.sif). docker/condor/setup-pool.sh builds its Debian sid root
# (HTCondor + apptainer; the pool is not started) into <repo>/.local/condor-pool; the host
# wrapper <repo>/.local/condor-pool/bin/apptainer is what scripts/env.sh then sets
# HEP_APPTAINER_BIN to. The demo (python -m include.demo) builds the stand-in images with it.
# Idempotent: about 80 s the first time (debootstrap + apt-get), well under a second after.
# Needs root (debootstrap, mount namespaces). When it cannot set apptainer up it says so in one
# line (details in <repo>/.local/condor-pool/setup.log) and exits 1.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
POOL=$REPO/.local/condor-pool
say() { printf '[demo-tools] %s\n' "$*" >&2; }
skip="ldmx_darkbrem_signal will say what is missing"

if [ "$(id -u)" != 0 ]; then
  say "not root: apptainer not set up in $POOL ($skip; run $REPO/scripts/install-demo-tools.sh as root)"
  exit 1
fi
mkdir -p "$POOL"
log=$POOL/setup.log
[ -x "$POOL/bin/apptainer" ] || say "setting up apptainer in $POOL (first time about 80 s; log: $log)"
if ! CONDOR_POOL_DIR=$POOL CONDOR_ROOT=$POOL/root bash "$REPO/docker/condor/setup-pool.sh" >"$log" 2>&1; then
  say "apptainer set-up failed: $(grep -m1 'ERROR' "$log" || tail -n1 "$log") ($skip; log: $log)"
  exit 1
fi
# the wrapper must run apptainer from this root, whatever CONDOR_POOL_DIR/CONDOR_ROOT the caller has
if ! version=$(env -u CONDOR_POOL_DIR -u CONDOR_ROOT "$POOL/bin/apptainer" --version 2>>"$log"); then
  say "$POOL/bin/apptainer does not run ($skip; log: $log)"
  exit 1
fi
say "apptainer: $POOL/bin/apptainer ($version)"
# The apptainer backend's runtime image (include/apptainer/runtime_image.py): scripts/env.sh sets
# HEP_RUNTIME_IMAGE to it. It binds this venv's Python in, so it is rebuilt when the venv is newer.
image=$REPO/.local/runtime.sif
if [ ! -s "$image" ] || [ "$REPO/.venv/pyvenv.cfg" -nt "$image" ]; then
  if (cd "$REPO" && env -u CONDOR_POOL_DIR -u CONDOR_ROOT HEP_APPTAINER_BIN="$POOL/bin/apptainer" \
      "$REPO/.venv/bin/python" -m include.apptainer.runtime_image "$image") >>"$log" 2>&1; then
    say "runtime image of the apptainer backend: $image"
  else
    say "runtime image not built: a form that chooses the apptainer backend says so (log: $log)"
  fi
fi
