# Shared helpers for the testcluster scripts (sourced, not executed).

# tc_bin_dir prints where `build` puts (or put) the binaries for the current
# sources: <cache>/testcluster/<key>/bin. The key covers everything that
# determines the binaries: the module files, the etcd main and the build
# script (which pins kwok/helm versions and ldflags).
tc_bin_dir() {
  local here cache key
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  cache="${SEXTANT_CACHE_DIR:-$HOME/.cache/sextant}/testcluster"
  key="$(cat "$here/go.mod" "$here/go.sum" "$here/cmd/etcd/main.go" "$here/build" | sha256sum | cut -c1-16)"
  echo "$cache/$key/bin"
}

# tc_die prints an error and exits.
tc_die() {
  echo "testcluster: $*" >&2
  exit 1
}

# tc_port_in_use PORT succeeds when something accepts TCP connections on
# 127.0.0.1:PORT.
tc_port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# tc_free_ports N prints N distinct currently-free ports from a random range
# (random so that concurrent clusters rarely pick the same ones).
tc_free_ports() {
  local n=$1 got=() p
  while ((${#got[@]} < n)); do
    p=$((20000 + RANDOM % 40000))
    [[ " ${got[*]} " == *" $p "* ]] && continue
    tc_port_in_use "$p" && continue
    got+=("$p")
  done
  echo "${got[@]}"
}

# tc_start DIR NAME ARGS... starts ARGS in the background with output in
# DIR/logs/NAME.log, records its PID in DIR/pids/NAME and its argv (NUL
# separated) in DIR/args/NAME so it can be restarted identically. Children
# get no fd 3: `up` keeps its caller's stderr there, and a long-lived process
# holding it would keep the caller's pipe open (a Rust Command::output() on
# `up` would then never return).
tc_start() {
  local dir=$1 name=$2
  shift 2
  printf '%s\0' "$@" >"$dir/args/$name"
  "$@" </dev/null >>"$dir/logs/$name.log" 2>&1 3>&- &
  echo $! >"$dir/pids/$name"
}

# tc_restart DIR NAME starts NAME again with the argv recorded by tc_start.
tc_restart() {
  local dir=$1 name=$2 args=()
  [[ -f "$dir/args/$name" ]] || tc_die "no recorded command for $name in $dir/args"
  mapfile -d '' args <"$dir/args/$name"
  "${args[@]}" </dev/null >>"$dir/logs/$name.log" 2>&1 3>&- &
  echo $! >"$dir/pids/$name"
}

# tc_is_ours DIR PID succeeds when PID is alive and its command line mentions
# DIR: every process we start gets DIR in its arguments, so a recycled PID of
# some unrelated process is never signalled.
tc_is_ours() {
  local dir=$1 pid=$2
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$dir"
}

# tc_stop DIR NAME [GRACE] stops the process recorded in DIR/pids/NAME:
# SIGTERM, wait up to GRACE seconds (default 5), then SIGKILL. Never kills by
# name. kube-apiserver stops listening at once on SIGTERM but its graceful
# shutdown can then linger for over 10 s, hence the short default.
tc_stop() {
  local dir=$1 name=$2 grace=${3:-5} pid i
  [[ -f "$dir/pids/$name" ]] || return 0
  pid="$(cat "$dir/pids/$name")"
  if tc_is_ours "$dir" "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
      tc_is_ours "$dir" "$pid" || break
      sleep 0.1
    done
    if tc_is_ours "$dir" "$pid"; then
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
    fi
  fi
  rm -f "$dir/pids/$name"
}

# tc_wait WHAT TIMEOUT_SECONDS CMD... retries CMD every 0.5 s until it
# succeeds, or fails with a message naming WHAT and the logs to look at.
tc_wait() {
  local what=$1 timeout=$2 deadline
  shift 2
  deadline=$(($(date +%s) + timeout))
  until "$@" >/dev/null 2>&1; do
    if (($(date +%s) >= deadline)); then
      echo "testcluster: timed out after ${timeout}s waiting for $what" >&2
      return 1
    fi
    sleep 0.5
  done
}
