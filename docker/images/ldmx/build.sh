#!/bin/sh
# Build the local stand-in images (dbgen-v4.sif, dbgen-v5.sif, ldmx-pro.sif) into DEST.
# Needs apptainer (e.g. `source /var/lib/hep-productions/condor-pool/env.sh`) and busybox.
# Production uses the real images (ldmx/dark-brem-lib-gen, ldmx/pro) as SIF files or from CVMFS.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
dest=${1:?usage: build.sh DEST [--only NAME...]}
shift
exec "$repo/.venv/bin/python" -m include.darkbrem.standin "$dest" "$@"
