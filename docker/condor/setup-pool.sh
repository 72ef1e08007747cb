#!/bin/bash
# setup-pool.sh -- build (idempotently) the project's personal HTCondor pool: a debootstrapped
# Debian sid root holding HTCondor 25.x (master, collector, negotiator, schedd, startd) and
# apptainer, plus the host-side client config, CLI wrappers, env.sh and a small test SIF.
# Host: root on Debian 12 (bookworm) with access to the Debian archive. The host's apt
# sources are not changed; only `debootstrap` (and `zstd` with a cache) is installed if missing.
# See docker/condor/README.md.
#
# Environment (all optional):
#   CONDOR_POOL_DIR    where everything lives           (default /var/lib/hep-productions/condor-pool)
#   CONDOR_ROOT        the Debian root                  (default $CONDOR_POOL_DIR/root)
#   DEBIAN_MIRROR      archive URL                      (default http://deb.debian.org/debian)
#   CONDOR_ROOT_CACHE  .tar.zst of a finished root: extracted instead of building when it
#                      exists; written from the finished root when it does not (default unset)
#   CONDOR_POOL_VENV   1: also make $CONDOR_POOL_DIR/venv with htcondor + pytest (default 0;
#                      the project's .venv already has the bindings)
#   HTCONDOR_PIP_SPEC  pip requirement for that venv    (default htcondor==<pool version>)
#   FORCE_REBUILD      1: stop the pool, throw the root away and rebuild it
#   CONDOR_POOL_PORT   the collector's (shared) port on 127.0.0.1 (default 9618); a second pool
#                      on the same machine needs a pool dir and a port of its own
# The host dirs that the pool and its jobs see (CONDOR_ROOT_BINDS, CONDOR_EXTRA_BINDS) are
# read at run time by start-pool.sh and bin/condor-root-exec; the default list
# "/tmp /var/tmp /root /home $CONDOR_POOL_DIR <project checkout>" is baked into the latter.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJECT_DIR=$(cd "$SCRIPT_DIR/../.." && pwd)
CONDOR_POOL_DIR=${CONDOR_POOL_DIR:-/var/lib/hep-productions/condor-pool}
CONDOR_ROOT=${CONDOR_ROOT:-$CONDOR_POOL_DIR/root}
CONDOR_SUITE=sid
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CONDOR_ROOT_CACHE=${CONDOR_ROOT_CACHE:-}
CONDOR_POOL_VENV=${CONDOR_POOL_VENV:-0}
FORCE_REBUILD=${FORCE_REBUILD:-0}
CONDOR_POOL_PORT=${CONDOR_POOL_PORT:-9618}
DEFAULT_BINDS="/tmp /var/tmp /root /home $CONDOR_POOL_DIR $PROJECT_DIR"
POOL_UID=1000
STATE=$CONDOR_POOL_DIR/state
BIN=$CONDOR_POOL_DIR/bin
MARKER=$CONDOR_ROOT/.root-complete
export CONDOR_POOL_DIR CONDOR_ROOT
# A client configuration in the caller's environment (a site's, or another pool's env.sh) is not
# this pool's and is not visible inside its root: condor's postinst and the daemons would read it.
unset CONDOR_CONFIG

# Packages for the root. minicondor pulls condor; the libraries are what a host (pyenv or
# python.org style) CPython's extension modules link against, so that the project's .venv
# python can run as a job inside the root.
ROOT_PACKAGES="minicondor apptainer squashfuse fuse2fs e2fsprogs busybox-static procps
  libffi8 libsqlite3-0 libbz2-1.0 liblzma5 zlib1g libuuid1 libssl3t64 libreadline8t64
  libncursesw6 libgdbm6t64 libexpat1"

log()  { printf '[setup-pool %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die()  { log "ERROR: $*"; exit 1; }
now()  { date +%s.%N; }
TIMINGS=()
timed() {  # timed LABEL [--log FILE] CMD...   (returns CMD's exit status)
  local label=$1; shift; local logf=""
  if [ "$1" = --log ]; then logf=$2; shift 2; fi
  local t0 rc=0; t0=$(now)
  if [ -n "$logf" ]; then "$@" > "$logf" 2>&1 || rc=$?; else "$@" || rc=$?; fi
  local dt; dt=$(awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}')
  TIMINGS+=("$label: ${dt}s"); log "$label took ${dt}s (rc=$rc)"
  return $rc
}

[ "$(id -u)" = 0 ] || die "must run as root"
[[ "$CONDOR_POOL_PORT" =~ ^[0-9]+$ ]] && [ "$CONDOR_POOL_PORT" -ge 1024 ] && [ "$CONDOR_POOL_PORT" -le 65535 ] \
  || die "CONDOR_POOL_PORT=$CONDOR_POOL_PORT is not a port number in 1024-65535"
mkdir -p "$CONDOR_POOL_DIR" "$STATE" "$BIN" "$CONDOR_POOL_DIR/client" "$CONDOR_POOL_DIR/images"

# Remove a directory tree that may still have mounts below it (e.g. a failed debootstrap).
safe_rm() {
  local dir=$1 m
  [ -e "$dir" ] || return 0
  for m in $(findmnt -rn -o TARGET | awk -v d="$dir" 'index($0, d"/")==1 || $0==d' | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m"
  done
  if findmnt -rn -o TARGET | awk -v d="$dir" 'index($0, d"/")==1 || $0==d' | grep -q .; then
    die "refusing to delete $dir: still has mounts"
  fi
  rm -rf --one-file-system "$dir"
}

# ---------------------------------------------------------------- namespace helper
write_root_exec() {
  {
    echo '#!/bin/bash'
    echo "# written by $SCRIPT_DIR/setup-pool.sh -- do not edit"
    printf 'DEFAULT_POOL_DIR=%q\nDEFAULT_BINDS=%q\n' "$CONDOR_POOL_DIR" "$DEFAULT_BINDS"
    cat <<'CONDOR_ROOT_EXEC_EOF'
# condor-root-exec [--pool-user] CMD [ARGS...]
#
# Run CMD inside the Debian root that holds HTCondor + apptainer:
#  * in a private mount namespace: nothing is mounted in the host namespace, and the mounts
#    disappear with the last process inside;
#  * /proc, /sys, /dev, a fresh /run and the host dirs of the bind list are mounted into the
#    root at the same paths, so host paths (the project's .venv, test dirs) stay valid;
#  * entered with pivot_root, not chroot (apptainer refuses a "weak chrooted environment").
# Bind list: $CONDOR_ROOT_BINDS if set; else the running pool's list ($STATE/binds, written
# by start-pool.sh); else the default baked in at setup time; plus $CONDOR_EXTRA_BINDS.
# /tmp must stay in it: HTCondor's FS authentication happens there.
# --pool-user: also enter a user namespace mapping uid/gid 1000 ("ci" in the root) to host
#    root. HTCondor then runs as an ordinary personal pool, while its files and jobs act as
#    host root on the host's files (HTCondor never runs jobs as uid 0 itself).
set -euo pipefail
CONDOR_POOL_DIR=${CONDOR_POOL_DIR:-$DEFAULT_POOL_DIR}
CONDOR_ROOT=${CONDOR_ROOT:-$CONDOR_POOL_DIR/root}
if [ -n "${CONDOR_ROOT_BINDS+set}" ]; then binds=$CONDOR_ROOT_BINDS
elif [ -s "$CONDOR_POOL_DIR/state/binds" ]; then binds=$(cat "$CONDOR_POOL_DIR/state/binds")
else binds=$DEFAULT_BINDS
fi
binds="$binds ${CONDOR_EXTRA_BINDS:-}"
POOL_UID=${POOL_UID:-1000}
pool_user=0
if [ "${1:-}" = "--pool-user" ]; then pool_user=1; shift; fi
if [ $# -eq 0 ]; then echo "usage: $0 [--pool-user] CMD [ARGS...]" >&2; exit 2; fi
if [ ! -x "$CONDOR_ROOT/usr/bin/apt-get" ]; then
  echo "condor-root-exec: no root filesystem at $CONDOR_ROOT (run setup-pool.sh)" >&2; exit 1
fi
if [ "$(id -u)" != 0 ]; then echo "condor-root-exec: must be run as root" >&2; exit 1; fi
# never shadow the root's own system directories with host ones
ok_binds=""
for d in $binds; do
  case "$d" in
    /|/bin|/bin/*|/boot|/dev|/dev/*|/etc|/etc/*|/lib|/lib/*|/lib32|/lib64|/lib64/*|/proc|/proc/*| \
    /run|/run/*|/sbin|/sbin/*|/sys|/sys/*|/usr|/usr/*|/var|/var/lib|/var/log|/var/spool|/var/cache| \
    /var/lib/condor|/var/lib/condor/*|/var/log/condor|/var/log/condor/*|/var/spool/condor| \
    /var/spool/condor/*|/var/lib/dpkg|/var/lib/dpkg/*|/var/lib/apt|/var/lib/apt/*)
      echo "condor-root-exec: not binding $d (it would hide the root's own files)" >&2 ;;
    /*) case " $ok_binds " in *" $d "*) ;; *) ok_binds="$ok_binds $d" ;; esac ;;
    *) echo "condor-root-exec: not binding $d (not an absolute path)" >&2 ;;
  esac
done

exec unshare --mount --propagation private -- /bin/bash -c '
set -e
R=$1; binds=$2; pool_user=$3; uid=$4; shift 4
mount --bind "$R" "$R"                       # pivot_root needs a mount point
for d in $binds; do
  [ -d "$d" ] || continue
  mkdir -p "$R$d"
  mount --rbind "$d" "$R$d"
done
mount -t proc proc "$R/proc"
mount --rbind /sys "$R/sys"
mount --rbind /dev "$R/dev"
mount -t tmpfs -o mode=755 tmpfs "$R/run"
mkdir -p "$R/run/lock/condor" "$R/run/condor" "$R/.oldroot"
cwd=$PWD
cd "$R"
pivot_root . .oldroot
cd /
umount -l /.oldroot
cd "$cwd" 2>/dev/null || cd /
# the host PATH may hold the wrappers, which call this script: do not let it leak in
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
if [ "$pool_user" = 1 ]; then
  exec unshare --user --map-user="$uid" --map-group="$uid" -- "$@"
fi
exec "$@"
' condor-root-exec "$CONDOR_ROOT" "$ok_binds" "$pool_user" "$POOL_UID" "$@"
CONDOR_ROOT_EXEC_EOF
  } > "$BIN/condor-root-exec.tmp"
  chmod 755 "$BIN/condor-root-exec.tmp"
  mv "$BIN/condor-root-exec.tmp" "$BIN/condor-root-exec"
}

# ---------------------------------------------------------------- host tools
host_tools() {
  local missing=()
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v unshare >/dev/null || missing+=(util-linux)
  if [ -n "$CONDOR_ROOT_CACHE" ]; then command -v zstd >/dev/null || missing+=(zstd); fi
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing host packages: ${missing[*]}"
    timed "host apt-get update + install ${missing[*]}" --log "$STATE/host-apt.log" /bin/sh -c \
      "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${missing[*]}" \
      || { cat "$STATE/host-apt.log"; die "cannot install ${missing[*]} on the host"; }
  fi
  # bookworm's debootstrap knows sid, and the bookworm keyring has the current keys
  [ -e /usr/share/debootstrap/scripts/$CONDOR_SUITE ] || die "debootstrap has no script for $CONDOR_SUITE"
}

# ---------------------------------------------------------------- root filesystem
write_apt_config() {
  local R=$1
  rm -f "$R/etc/apt/sources.list"
  mkdir -p "$R/etc/apt/sources.list.d" "$R/etc/apt/apt.conf.d"
  cat > "$R/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $DEBIAN_MIRROR
Suites: $CONDOR_SUITE
Components: main
# sid's Release file expires after a week; a mirror or snapshot may be older than that
Check-Valid-Until: no
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  cat > "$R/etc/apt/apt.conf.d/90pool" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Retries "3";
Dpkg::Use-Pty "false";
EOF
  # never start services from maintainer scripts
  printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d"
  chmod 755 "$R/usr/sbin/policy-rc.d"
}

in_root() {  # run as real root inside a root fs, /proc etc. mounted, no host dirs bound
  CONDOR_ROOT=$1 CONDOR_ROOT_BINDS="" CONDOR_EXTRA_BINDS="" "$BIN/condor-root-exec" "${@:2}"
}

build_root() {
  local tmp=$CONDOR_ROOT.build
  safe_rm "$tmp"
  timed "debootstrap --variant=minbase $CONDOR_SUITE" --log "$STATE/debootstrap.log" \
    debootstrap --variant=minbase "$CONDOR_SUITE" "$tmp" "$DEBIAN_MIRROR" \
    || { tail -20 "$STATE/debootstrap.log"; die "debootstrap failed (log: $STATE/debootstrap.log)"; }
  write_apt_config "$tmp"
  cp /etc/resolv.conf "$tmp/etc/resolv.conf" 2>/dev/null || true
  local pkgs; pkgs=$(echo $ROOT_PACKAGES)   # one line
  timed "apt-get install in root" --log "$STATE/apt-install.log" in_root "$tmp" /bin/sh -c "
      apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $pkgs && apt-get clean" \
    || { tail -30 "$STATE/apt-install.log"; die "package install failed (log: $STATE/apt-install.log)"; }
  rm -rf "$tmp/var/lib/apt/lists/"*
  echo "$CONDOR_SUITE" > "$tmp/.root-complete"
  mv "$tmp" "$CONDOR_ROOT"
}

# ---------------------------------------------------------------- configuration (always re-applied)
configure_root() {
  local R=$CONDOR_ROOT
  # hosts: resolve the host name on loopback
  cp /etc/hosts "$R/etc/hosts"
  grep -qw "$(hostname)" "$R/etc/hosts" || echo "127.0.1.1 $(hostname)" >> "$R/etc/hosts"
  # the unprivileged pool user; in the pool's user namespace uid 1000 <-> host root
  if ! grep -q "^ci:" "$R/etc/passwd"; then
    in_root "$R" /bin/sh -c "groupadd -g $POOL_UID ci 2>/dev/null || true; useradd -u $POOL_UID -g $POOL_UID -M -d /var/lib/condor -s /bin/sh ci"
  fi
  # HTCondor state dirs must belong to host root (== the pool user inside the user namespace)
  mkdir -p "$R/var/log/condor" "$R/var/spool/condor" "$R/var/lib/condor/execute" "$R/etc/condor/config.d"
  chown -R 0:0 "$R/var/log/condor" "$R/var/spool/condor" "$R/var/lib/condor"
  chmod 755 "$R/var/log/condor" "$R/var/spool/condor" "$R/var/lib/condor" "$R/var/lib/condor/execute"

  cat > "$R/etc/condor/config.d/99-pool.conf.tmp" <<'EOF'
# ---- hep-productions personal pool (written by docker/condor/setup-pool.sh) -------------
# One machine, every daemon on 127.0.0.1. The daemons run as the unprivileged user "ci"
# (a personal pool) inside a user namespace that maps ci to host root, so jobs can read
# and write the host's root-owned files.
DAEMON_LIST = MASTER, COLLECTOR, NEGOTIATOR, SCHEDD, STARTD
CONDOR_HOST = 127.0.0.1
COLLECTOR_HOST = 127.0.0.1:@POOL_PORT@
SHARED_PORT_PORT = @POOL_PORT@
NETWORK_INTERFACE = 127.0.0.1
BIND_ALL_INTERFACES = False
ENABLE_IPV6 = False
UID_DOMAIN = condor.ci
FILESYSTEM_DOMAIN = condor.ci
TRUST_UID_DOMAIN = True
SOFT_UID_DOMAIN = True
# fixed names, independent of the machine's host name
SCHEDD_NAME = schedd@condor.ci
COLLECTOR_NAME = hep-productions-pool

# ---- security: FS authentication only (a local client proves its uid by creating a
# directory in /tmp). Host root maps to "ci" inside the user namespace, so only host root
# can submit or administer; other local users appear as "nobody".
SEC_DEFAULT_AUTHENTICATION = REQUIRED
SEC_DEFAULT_AUTHENTICATION_METHODS = FS
SEC_CLIENT_AUTHENTICATION_METHODS = FS
SEC_READ_AUTHENTICATION = OPTIONAL
SEC_CLIENT_AUTHENTICATION = OPTIONAL
SEC_DEFAULT_ENCRYPTION = OPTIONAL
SEC_DEFAULT_INTEGRITY = OPTIONAL
ALLOW_READ = *
ALLOW_WRITE = ci@condor.ci
ALLOW_DAEMON = ci@condor.ci
ALLOW_NEGOTIATOR = ci@condor.ci
ALLOW_ADMINISTRATOR = ci@condor.ci
ALLOW_CONFIG = ci@condor.ci

# ---- fast turnaround
SCHEDD_INTERVAL = 1
SCHEDD_MIN_INTERVAL = 0
NEGOTIATOR_INTERVAL = 1
NEGOTIATOR_MIN_INTERVAL = 1
NEGOTIATOR_CYCLE_DELAY = 1
STARTER_UPDATE_INTERVAL = 1
SHADOW_QUEUE_UPDATE_INTERVAL = 1
UPDATE_INTERVAL = 2
MASTER_UPDATE_INTERVAL = 5
JOB_START_DELAY = 0
RUNBENCHMARKS = 0
STARTD_NOCLAIM_SHUTDOWN = 0
# run jobs immediately, whatever the machine's load
START = True
SUSPEND = False
PREEMPT = False
KILL = False
WANT_SUSPEND = False
WANT_VACATE = False
# one partitionable slot; advertise 4 cpus so a few 1-cpu jobs run side by side
NUM_CPUS = 4
use FEATURE : PartitionableSlot
MAIL = /bin/true
MAX_HISTORY_ROTATIONS = 1

# ---- apptainer / container universe
SINGULARITY = /usr/bin/apptainer
EOF
  sed -i "s/@POOL_PORT@/$CONDOR_POOL_PORT/" "$R/etc/condor/config.d/99-pool.conf.tmp"
  mv "$R/etc/condor/config.d/99-pool.conf.tmp" "$R/etc/condor/config.d/99-pool.conf"

  # apptainer's default ("full") asks for every capability for root containers, and this
  # kind of VM lacks CAP_SYS_RESOURCE in root's bounding set -> use file-based capabilities
  sed -i 's/^root default capabilities = .*/root default capabilities = file/' "$R/etc/apptainer/apptainer.conf"

  # Debian's condor lacks the upstream test image exit_37.sif, which the startd runs to decide
  # whether to advertise HasSIF (container-universe .sif jobs require it). Build it.
  if [ ! -s "$R/usr/libexec/condor/exit_37.sif" ] && [ -d "$R/usr/libexec/condor/singularity_test_sandbox" ]; then
    in_root "$R" apptainer -s build /usr/libexec/condor/exit_37.sif /usr/libexec/condor/singularity_test_sandbox
  fi
}

# ---------------------------------------------------------------- host side
write_host_side() {
  local R=$CONDOR_ROOT
  cat > "$CONDOR_POOL_DIR/client/condor_config" <<EOF
# HTCondor client configuration for the host (python bindings from PyPI, htcondor2).
# export CONDOR_CONFIG=$CONDOR_POOL_DIR/client/condor_config
CONDOR_HOST = 127.0.0.1
COLLECTOR_HOST = 127.0.0.1:$CONDOR_POOL_PORT
SCHEDD_HOST = schedd@condor.ci
NETWORK_INTERFACE = 127.0.0.1
BIND_ALL_INTERFACES = False
ENABLE_IPV6 = False
UID_DOMAIN = condor.ci
FILESYSTEM_DOMAIN = condor.ci
# a root client authenticates in "condor priv": pin that to root itself, so that FS auth
# sees a root-owned dir (== user "ci" inside the pool) even if the host has a "condor" user
CONDOR_IDS = 0.0
SEC_CLIENT_AUTHENTICATION_METHODS = FS
SEC_DEFAULT_AUTHENTICATION_METHODS = FS
SEC_CLIENT_ENCRYPTION = OPTIONAL
SEC_CLIENT_INTEGRITY = OPTIONAL
SEC_FS_ENFORCE_CHANNEL_BINDING = True
# client-side logs/tmp
LOG = /tmp
EOF
  cat > "$CONDOR_POOL_DIR/env.sh" <<EOF
# source this: host environment for the hep-productions personal pool
export CONDOR_POOL_DIR=$CONDOR_POOL_DIR
export CONDOR_CONFIG=$CONDOR_POOL_DIR/client/condor_config
case ":\$PATH:" in *":$BIN:"*) ;; *) export PATH=$BIN:\$PATH ;; esac
EOF
  # host wrappers: condor CLI tools run as the pool user, apptainer as (real) root
  local t
  for t in condor_q condor_status condor_submit condor_history condor_rm condor_hold \
           condor_release condor_wait condor_version condor_config_val condor_who \
           condor_tail condor_userprio condor_reschedule condor_ping; do
    printf '#!/bin/sh\nexec "%s/condor-root-exec" --pool-user %s "$@"\n' "$BIN" "$t" > "$BIN/$t"
    chmod 755 "$BIN/$t"
  done
  printf '#!/bin/sh\nexec "%s/condor-root-exec" apptainer "$@"\n' "$BIN" > "$BIN/apptainer"
  chmod 755 "$BIN/apptainer"
  # a tiny test image: busybox in a SIF (built inside the root)
  if [ ! -s "$CONDOR_POOL_DIR/images/busybox.sif" ]; then
    local sb=$CONDOR_POOL_DIR/images/busybox.sandbox a
    rm -rf "$sb"; mkdir -p "$sb/bin" "$sb/tmp" "$sb/etc" "$sb/proc" "$sb/sys" "$sb/dev"
    cp "$R/usr/bin/busybox" "$sb/bin/busybox"
    for a in sh ash cat echo ls id env uname sleep true false touch mkdir rm cp head tail wc grep sed tr; do
      ln -sf busybox "$sb/bin/$a"
    done
    timed "apptainer build busybox.sif" --log "$STATE/build-image.log" "$BIN/condor-root-exec" \
      apptainer -s build "$CONDOR_POOL_DIR/images/busybox.sif.tmp" "$sb" \
      || { cat "$STATE/build-image.log"; die "apptainer build failed"; }
    mv "$CONDOR_POOL_DIR/images/busybox.sif.tmp" "$CONDOR_POOL_DIR/images/busybox.sif"
    rm -rf "$sb"
  fi
}

make_venv() {
  [ "$CONDOR_POOL_VENV" = 1 ] || return 0
  local v=$CONDOR_POOL_DIR/venv spec=${HTCONDOR_PIP_SPEC:-htcondor==$1}
  [ -x "$v/bin/python" ] || python3 -m venv "$v"
  timed "pip install $spec pytest" --log "$STATE/pip.log" \
    "$v/bin/pip" install -q --disable-pip-version-check "$spec" pytest \
    || { cat "$STATE/pip.log"; die "pip install failed"; }
}

write_cache() {
  mkdir -p "$(dirname "$CONDOR_ROOT_CACHE")"
  # the root only; the pool's queue, logs and job sandboxes are left out
  timed "write cache $CONDOR_ROOT_CACHE" tar --zstd -cpf "$CONDOR_ROOT_CACHE.tmp" -C "$CONDOR_ROOT" \
      --numeric-owner --one-file-system \
      --exclude='./var/spool/condor/*' --exclude='./var/log/condor/*' --exclude='./var/lib/condor/execute/*' . \
    && mv "$CONDOR_ROOT_CACHE.tmp" "$CONDOR_ROOT_CACHE"
}

# ---------------------------------------------------------------- main
T_ALL=$(now)
host_tools
write_root_exec
stop_pool_if_running() {
  if [ -s "$STATE/master.pid" ]; then "$SCRIPT_DIR/stop-pool.sh" || true; fi
}
if [ "$FORCE_REBUILD" = 1 ] && [ -e "$CONDOR_ROOT" ]; then
  stop_pool_if_running
  log "FORCE_REBUILD: removing $CONDOR_ROOT"; safe_rm "$CONDOR_ROOT"
fi
if [ "$(cat "$MARKER" 2>/dev/null)" = "$CONDOR_SUITE" ]; then
  log "root at $CONDOR_ROOT is already built"
  if [ -n "$CONDOR_ROOT_CACHE" ] && [ ! -s "$CONDOR_ROOT_CACHE" ]; then write_cache; fi
else
  if [ -e "$CONDOR_ROOT" ]; then
    stop_pool_if_running
    log "removing incomplete root $CONDOR_ROOT"; safe_rm "$CONDOR_ROOT"
  fi
  if [ -n "$CONDOR_ROOT_CACHE" ] && [ -s "$CONDOR_ROOT_CACHE" ]; then
    mkdir -p "$CONDOR_ROOT.build"
    timed "extract cache $CONDOR_ROOT_CACHE" tar --zstd -xpf "$CONDOR_ROOT_CACHE" -C "$CONDOR_ROOT.build" --numeric-owner \
      || { safe_rm "$CONDOR_ROOT.build"; die "cannot extract $CONDOR_ROOT_CACHE"; }
    [ "$(cat "$CONDOR_ROOT.build/.root-complete" 2>/dev/null)" = "$CONDOR_SUITE" ] \
      || { safe_rm "$CONDOR_ROOT.build"; die "$CONDOR_ROOT_CACHE is not a finished $CONDOR_SUITE root"; }
    mv "$CONDOR_ROOT.build" "$CONDOR_ROOT"
  else
    build_root
    if [ -n "$CONDOR_ROOT_CACHE" ]; then write_cache; fi
  fi
fi
configure_root
write_host_side
pool_version=$(in_root "$CONDOR_ROOT" condor_version | sed -n 's/^\$CondorVersion: \([0-9.]*\) .*/\1/p')
make_venv "$pool_version"
# the host bindings should match the pool (the FS-auth handshake changed between series)
for d in "$PROJECT_DIR"/.venv/lib/python3*/site-packages/htcondor-*.dist-info; do
  [ -d "$d" ] || continue
  v=${d##*/htcondor-}; v=${v%.dist-info}
  [ "$v" = "$pool_version" ] || log "WARNING: $PROJECT_DIR/.venv has htcondor $v, the pool runs $pool_version"
done
log "versions: HTCondor $pool_version / $(in_root "$CONDOR_ROOT" apptainer --version)"
TIMINGS+=("setup total: $(awk -v a="$T_ALL" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}')s")
printf '%s\n' "${TIMINGS[@]}" | tee "$STATE/setup-timings.txt"
log "done. Next: $SCRIPT_DIR/start-pool.sh ; source $CONDOR_POOL_DIR/env.sh"
