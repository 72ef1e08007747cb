#!/bin/sh
# Stand-in of the ldmx images' /etc/entry.sh: set up the environment, cd to $1, eval the rest.
set -e
export LDMX_SW_INSTALL="${LDMX_SW_INSTALL:-/usr/local}"
if [ -z "${LDMX_BASE}" ]; then
  echo "WARNING: LDMX_BASE is not set" >&2
fi
export PATH="${LDMX_SW_INSTALL}/bin:${PATH}"
export PYTHONPATH="${LDMX_SW_INSTALL}/python${PYTHONPATH:+:${PYTHONPATH}}"
export MPLCONFIGDIR="${LDMX_BASE}/.config/matplotlib"
cd "$1"
shift
eval "$@"
