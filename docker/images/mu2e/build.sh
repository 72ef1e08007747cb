#!/bin/sh
# Build the stand-in Mu2e image: bash docker/images/mu2e/build.sh [DEST]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
python=${PYTHON:-$repo/.venv/bin/python}
cd "$repo"
if [ $# -gt 0 ]; then
    exec "$python" -m include.mu2e.image "$1"
fi
exec "$python" -m include.mu2e.image
