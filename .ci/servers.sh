#!/usr/bin/env bash
# Install, start and stop the S3 servers of the compatibility matrix (moto, s3s-fs, Garage), each on
# a free 127.0.0.1 port with its data in a temp dir. See .ci/SERVERS.md for how each one behaves.
#
#   .ci/servers.sh install [moto|s3s-fs|garage|all]   idempotent; only a fresh machine pays
#   .ci/servers.sh start NAME                          writes $STATE_DIR/NAME.env
#   .ci/servers.sh stop NAME|all                       safe to call twice
#   .ci/servers.sh run-suite NAME CMD...               start, run CMD with the env, always stop
#   .ci/servers.sh env NAME                            print the path of NAME's env file
#
# Environment: S3MEND_CI_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/s3mend-ci) holds the venv,
# the cargo-installed binaries and the build dir; S3MEND_CI_STATE (default $CACHE/state) the pid,
# env and log files of running servers; S3MEND_CI_START_TIMEOUT (default 60 s) bounds a start.
set -euo pipefail

MOTO_VERSION=5.2.5
S3S_FS_VERSION=0.14.1 # 0.15+ needs rustc >= 1.96; CI has 1.95
GARAGE_VERSION=2.5.0

CACHE=${S3MEND_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/s3mend-ci}
STATE_DIR=${S3MEND_CI_STATE:-$CACHE/state}
START_TIMEOUT=${S3MEND_CI_START_TIMEOUT:-60}
CARGO_ROOT=$CACHE/cargo # cargo install --root: binaries in $CARGO_ROOT/bin
MOTO_VENV=$CACHE/moto-venv
SERVERS=(moto s3s-fs garage)

say() { printf 'servers: %s\n' "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}
now() { date +%s; }

# --- install -------------------------------------------------------------------------------------

moto_installed() {
    [[ -x $MOTO_VENV/bin/moto_server ]] &&
        [[ $("$MOTO_VENV/bin/python" -c 'import moto; print(moto.__version__)' 2>/dev/null) == "$MOTO_VERSION" ]]
}

install_moto() {
    if moto_installed; then
        say "moto $MOTO_VERSION already installed in $MOTO_VENV"
        return
    fi
    local t0
    t0=$(now)
    say "installing moto $MOTO_VERSION into $MOTO_VENV (about 1 min)"
    mkdir -p "$CACHE"
    python3 -m venv "$MOTO_VENV"
    "$MOTO_VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
    moto_installed || die "moto $MOTO_VERSION not importable after pip install"
    say "installed moto $MOTO_VERSION in $(($(now) - t0)) s"
}

# Print the path of a binary NAME whose `NAME --version` mentions VERSION: ours first, then PATH,
# then ~/.cargo/bin. Fails if there is none.
find_binary() {
    local name=$1 version=$2 candidate
    for candidate in "$CARGO_ROOT/bin/$name" "$(command -v "$name" 2>/dev/null || true)" \
        "$HOME/.cargo/bin/$name"; do
        [[ -n $candidate && -x $candidate ]] || continue
        if "$candidate" --version 2>/dev/null | grep -Eq "(^|[^0-9.])v?${version//./\\.}([^0-9.]|$)"; then
            printf '%s\n' "$candidate"
            return 0
        fi
    done
    return 1
}

# cargo install CRATE VERSION [cargo args...] into $CARGO_ROOT, building in $CACHE/target.
cargo_install() {
    local crate=$1 version=$2
    shift 2
    mkdir -p "$CACHE"
    # A build dir of our own: nothing else's target/ is touched, and an interrupted build resumes.
    CARGO_TARGET_DIR=$CACHE/target/$crate cargo install "$crate@$version" --locked \
        --root "$CARGO_ROOT" --jobs "${S3MEND_CI_JOBS:-2}" --quiet "$@"
    # Success: the intermediate artifacts (GBs for Garage) are no longer needed.
    rm -rf "${CACHE:?}/target/$crate"
}

install_s3s_fs() {
    local bin t0
    if bin=$(find_binary s3s-fs "$S3S_FS_VERSION"); then
        say "s3s-fs $S3S_FS_VERSION already installed at $bin"
        return
    fi
    t0=$(now)
    say "installing s3s-fs $S3S_FS_VERSION (about 4 min on 2 cores)"
    cargo_install s3s-fs "$S3S_FS_VERSION" --features binary
    find_binary s3s-fs "$S3S_FS_VERSION" >/dev/null || die "s3s-fs $S3S_FS_VERSION not found after cargo install"
    say "installed s3s-fs $S3S_FS_VERSION in $(($(now) - t0)) s"
}

install_garage() {
    local bin t0
    if bin=$(find_binary garage "$GARAGE_VERSION"); then
        say "garage $GARAGE_VERSION already installed at $bin"
        return
    fi
    t0=$(now)
    say "installing garage $GARAGE_VERSION (about 12 min on 2 cores)"
    cargo_install garage "$GARAGE_VERSION"
    find_binary garage "$GARAGE_VERSION" >/dev/null || die "garage $GARAGE_VERSION not found after cargo install"
    say "installed garage $GARAGE_VERSION in $(($(now) - t0)) s"
}

cmd_install() {
    local what=${1:-all}
    case $what in
    moto) install_moto ;;
    s3s-fs) install_s3s_fs ;;
    garage) install_garage ;;
    all)
        install_moto
        install_s3s_fs
        install_garage
        ;;
    *) die "install: unknown server '$what' (moto, s3s-fs, garage, all)" ;;
    esac
}

# --- start / stop --------------------------------------------------------------------------------

# Print N distinct free TCP ports on 127.0.0.1 (all sockets held open together, so they differ).
free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

ms() { date +%s%3N; }
elapsed() { # since a $(ms) stamp, as seconds with one decimal
    local d=$(($(ms) - $1))
    printf '%d.%d' $((d / 1000)) $((d % 1000 / 100))
}

log_tail() {
    local log=$1
    [[ -f $log ]] || return 0
    say "last lines of $log:"
    tail -n "${2:-25}" "$log" | sed -e $'s/\e\\[[0-9;]*m//g' -e 's/^/    /' >&2
}

# Is the pid in NAME's pid file alive and still the server we started (not a recycled pid)?
server_pid() {
    local name=$1 pid
    [[ -f $STATE_DIR/$name.pid ]] || return 1
    pid=$(<"$STATE_DIR/$name.pid")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$(<"$STATE_DIR/$name.bin")" || return 1
    printf '%s\n' "$pid"
}

# While NAME starts: is the process we spawned still running? It is our child, so its pid cannot
# be recycled, and its command line may still be this script's until setsid has exec'd: checking
# the command line here (as server_pid does) failed a start that was fine.
spawned_alive() {
    local pid stat state
    pid=$(<"$STATE_DIR/$1.pid")
    stat=$(<"/proc/$pid/stat") 2>/dev/null || return 1
    state=${stat##*) } # the process name, in parentheses, may hold spaces
    state=${state%% *}
    [[ -n $state && $state != Z && $state != X ]]
}

# Run a server in the background, in its own session, output to LOG; record its pid and binary.
spawn() {
    local name=$1 log=$2
    shift 2
    printf '%s\n' "$1" >"$STATE_DIR/$name.bin"
    NO_COLOR=1 setsid "$@" </dev/null >>"$log" 2>&1 &
    printf '%s\n' "$!" >"$STATE_DIR/$name.pid"
}

# Between two tries of a start: fail, with the server's log, if NAME exited or DEADLINE passed
# (then with MESSAGE).
still_starting() { # NAME LOG DEADLINE MESSAGE
    if ! spawned_alive "$1"; then
        log_tail "$2"
        die "$1 exited while starting"
    fi
    if (($(now) >= $3)); then
        log_tail "$2"
        die "$4"
    fi
}

# Wait until 127.0.0.1:PORT accepts connections while NAME's process lives; bounded by
# START_TIMEOUT. (A TCP connect, not a request: it leaves no error in the server's log.)
wait_port() {
    local name=$1 port=$2 log=$3 deadline=$(($(now) + START_TIMEOUT))
    while :; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        still_starting "$name" "$log" "$deadline" \
            "$name did not listen on 127.0.0.1:$port within ${START_TIMEOUT}s (S3MEND_CI_START_TIMEOUT)"
        sleep 0.2
    done
}

# Wait until a SigV4-signed ListBuckets with the key answers 200: the server is up, the key and the
# region are right and (Garage) the layout is live. The key goes to curl on stdin, not in argv.
wait_signed() { # NAME ENDPOINT ACCESS SECRET REGION LOG
    local name=$1 endpoint=$2 access=$3 secret=$4 region=$5 log=$6 code deadline
    deadline=$(($(now) + START_TIMEOUT))
    while :; do
        code=$(printf 'user = "%s:%s"\n' "$access" "$secret" |
            curl -s -o /dev/null -w '%{http_code}' --max-time 5 -K - \
                -H "x-amz-content-sha256: $EMPTY_SHA256" \
                --aws-sigv4 "aws:amz:$region:s3" "$endpoint/" || true)
        [[ $code == 200 ]] && return 0
        still_starting "$name" "$log" "$deadline" \
            "$name: signed ListBuckets on $endpoint answers '$code', not 200, after ${START_TIMEOUT}s"
        sleep 0.2
    done
}

EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

write_env() { # NAME ENDPOINT ACCESS SECRET REGION
    local file=$STATE_DIR/$1.env
    (
        umask 077 # the secret key is in it
        cat >"$file.tmp" <<EOF
S3MEND_COMPAT_SERVER=$1
S3MEND_COMPAT_ENDPOINT=$2
S3MEND_COMPAT_ACCESS_KEY=$3
S3MEND_COMPAT_SECRET_KEY=$4
S3MEND_COMPAT_REGION=$5
EOF
    )
    mv "$file.tmp" "$file"
}

start_moto() {
    local dir=$1 port
    moto_installed || die "moto $MOTO_VERSION is not installed: run '$0 install moto'"
    port=$(free_ports 1)
    # State is in memory; the dir only holds the log. Any credentials are accepted.
    spawn moto "$dir/server.log" "$MOTO_VENV/bin/moto_server" -H 127.0.0.1 -p "$port"
    wait_port moto "$port" "$dir/server.log"
    wait_signed moto "http://127.0.0.1:$port" s3mend-ci-access s3mend-ci-secret us-east-1 "$dir/server.log"
    write_env moto "http://127.0.0.1:$port" s3mend-ci-access s3mend-ci-secret us-east-1
}

start_s3s_fs() {
    local dir=$1 port bin access secret
    bin=$(find_binary s3s-fs "$S3S_FS_VERSION") ||
        die "s3s-fs $S3S_FS_VERSION is not installed: run '$0 install s3s-fs'"
    port=$(free_ports 1)
    access=s3mend-ci
    secret=$(openssl rand -hex 20)
    mkdir -p "$dir/root"
    # SigV4 is checked against this one key pair; every bucket is a directory under root. (The
    # secret is in argv, s3s-fs takes it no other way: a throwaway key on 127.0.0.1.)
    spawn s3s-fs "$dir/server.log" "$bin" --host 127.0.0.1 --port "$port" \
        --access-key "$access" --secret-key "$secret" "$dir/root"
    wait_port s3s-fs "$port" "$dir/server.log"
    wait_signed s3s-fs "http://127.0.0.1:$port" "$access" "$secret" us-east-1 "$dir/server.log"
    write_env s3s-fs "http://127.0.0.1:$port" "$access" "$secret" us-east-1
}

GARAGE_REGION=garage

start_garage() {
    local dir=$1 bin rpc s3 admin conf node out access secret
    bin=$(find_binary garage "$GARAGE_VERSION") ||
        die "garage $GARAGE_VERSION is not installed: run '$0 install garage'"
    read -r rpc s3 admin < <(free_ports 3)
    conf=$dir/garage.toml
    mkdir -p "$dir/meta" "$dir/data"
    (
        umask 077
        cat >"$conf" <<EOF
metadata_dir = "$dir/meta"
data_dir = "$dir/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "$(openssl rand -hex 32)"

[s3_api]
s3_region = "$GARAGE_REGION"
api_bind_addr = "127.0.0.1:$s3"

[admin]
api_bind_addr = "127.0.0.1:$admin"
EOF
    )
    spawn garage "$dir/server.log" "$bin" -c "$conf" server
    wait_port garage "$s3" "$dir/server.log"
    garage_cli() {
        local out
        if ! out=$("$bin" -c "$conf" "$@" 2>&1); then
            printf '%s\n' "$out" | sed 's/^/    /' >&2
            log_tail "$dir/server.log"
            die "garage $* failed"
        fi
        printf '%s\n' "$out"
    }
    # A single node holding all the data: assign it a role in the cluster layout and apply it.
    node=$(garage_cli node id -q | cut -d@ -f1)
    [[ $node =~ ^[0-9a-f]{64}$ ]] || die "garage node id: unexpected output '$node'"
    garage_cli layout assign -z dc1 -c 1G "$node" >/dev/null
    garage_cli layout apply --version 1 >/dev/null
    # One key, allowed to create buckets; the key creating a bucket over S3 owns it (read/write/owner).
    out=$(garage_cli key create s3mend-ci)
    access=$(sed -n 's/^Key ID:[[:space:]]*//p' <<<"$out" | head -n1)
    secret=$(sed -n 's/^Secret key:[[:space:]]*//p' <<<"$out" | head -n1)
    [[ -n $access && -n $secret ]] || die "garage key create: could not parse key id/secret from its output"
    garage_cli key allow --create-bucket "$access" >/dev/null
    wait_signed garage "http://127.0.0.1:$s3" "$access" "$secret" "$GARAGE_REGION" "$dir/server.log"
    write_env garage "http://127.0.0.1:$s3" "$access" "$secret" "$GARAGE_REGION"
}

cmd_start() {
    local name=${1:-} dir t0
    [[ " ${SERVERS[*]} " == *" $name "* ]] || die "start: unknown server '$name' (${SERVERS[*]})"
    mkdir -p "$STATE_DIR"
    if server_pid "$name" >/dev/null && [[ -f $STATE_DIR/$name.env ]]; then
        say "$name already running: $(sed -n 's/^S3MEND_COMPAT_ENDPOINT=//p' "$STATE_DIR/$name.env")"
        return
    fi
    stop_one "$name" quiet # leftovers of a crashed run
    t0=$(ms)
    dir=$(mktemp -d "${TMPDIR:-/tmp}/s3mend-ci-$name.XXXXXX")
    printf '%s\n' "$dir" >"$STATE_DIR/$name.dir"
    STARTING=$name # a failed start must not leave a server behind: see on_exit
    case $name in
    moto) start_moto "$dir" ;;
    s3s-fs) start_s3s_fs "$dir" ;;
    garage) start_garage "$dir" ;;
    esac
    STARTING=
    say "$name on $(sed -n 's/^S3MEND_COMPAT_ENDPOINT=//p' "$STATE_DIR/$name.env") (started in $(elapsed "$t0") s, env in $STATE_DIR/$name.env)"
}

stop_one() {
    local name=$1 quiet=${2:-} pid dir i
    if pid=$(server_pid "$name"); then
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        say "$name stopped (pid $pid)"
    elif [[ -z $quiet ]]; then
        say "$name not running"
    fi
    if [[ -f $STATE_DIR/$name.dir ]]; then
        dir=$(<"$STATE_DIR/$name.dir")
        # Only ever remove a dir this script made.
        [[ $dir == */s3mend-ci-"$name".* ]] && rm -rf -- "$dir"
    fi
    rm -f "$STATE_DIR/$name".{pid,bin,dir,env}
}

cmd_stop() {
    local name=${1:-} n
    if [[ $name == all ]]; then
        for n in "${SERVERS[@]}"; do stop_one "$n" quiet; done
        return
    fi
    [[ " ${SERVERS[*]} " == *" $name "* ]] || die "stop: unknown server '$name' (${SERVERS[*]} all)"
    stop_one "$name"
}

# --- run-suite -----------------------------------------------------------------------------------

cmd_run_suite() {
    local name=${1:-} rc=0 t0
    shift || true
    (($# > 0)) || die "usage: $0 run-suite NAME CMD..."
    SUITE=$name # stopped however we leave: normal end, failure, Ctrl-C or TERM (see on_exit)
    cmd_start "$name"
    set -a
    # shellcheck source=/dev/null
    . "$STATE_DIR/$name.env"
    set +a
    t0=$(ms)
    "$@" || rc=$?
    if ((rc != 0)) && [[ -f $STATE_DIR/$name.dir ]]; then
        say "$name suite failed (exit $rc) after $(elapsed "$t0") s"
        log_tail "$(<"$STATE_DIR/$name.dir")/server.log" 15
    else
        say "$name suite passed in $(elapsed "$t0") s"
    fi
    return "$rc"
}

STARTING= # the server being started, stopped on exit if its start did not finish
SUITE=    # the server of run-suite, stopped on exit
on_exit() {
    local rc=$?
    [[ -z $STARTING ]] || stop_one "$STARTING" quiet
    [[ -z $SUITE ]] || stop_one "$SUITE" quiet
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

usage() {
    sed -n '2,14s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

main() {
    local cmd=${1:-}
    shift || true
    case $cmd in
    install) cmd_install "$@" ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    run-suite) cmd_run_suite "$@" ;;
    env) printf '%s\n' "$STATE_DIR/${1:?usage: $0 env NAME}.env" ;;
    *) usage ;;
    esac
}

main "$@"
