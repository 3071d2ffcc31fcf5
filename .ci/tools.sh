#!/usr/bin/env bash
# Tools that tests/examples.rs checks examples/ with, and tests/shell.rs the completion scripts and
# the manual page (idempotent; only a fresh machine pays):
#   systemd-analyze      Debian's systemd: `verify` and `security` on the units. The machine image
#                        has it; installed here only if it is missing.
#   kubernetes-validate  PyPI, pinned, in a venv in the CI cache: the CronJob against Kubernetes'
#                        own JSON schemas, offline (about 10 s, 145 MB).
#   shellcheck           Debian's: the GitHub Action's scripts (tests/github_action.rs).
#   zsh, fish, groff     Debian's and Ubuntu's packages zsh, fish and groff-base, each only if its
#                        command is missing: `zsh -n` and `fish --no-execute` on the completion
#                        scripts, groff renders `s3mend man`. bash is always there.
#
#   .ci/tools.sh install
#
# S3MEND_CI_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/s3mend-ci), as in .ci/servers.sh; the
# test looks for kubernetes-validate at $S3MEND_CI_CACHE/kubernetes-validate-venv/bin.
set -euo pipefail

KUBERNETES_VALIDATE_VERSION=1.37.0

CACHE=${S3MEND_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/s3mend-ci}
VENV=$CACHE/kubernetes-validate-venv

say() { printf 'tools: %s\n' "$*" >&2; }

install_systemd_analyze() {
    if command -v systemd-analyze >/dev/null; then
        say "systemd-analyze: $(systemd-analyze --version | head -n1)"
        return
    fi
    say "installing Debian's systemd for systemd-analyze"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null
}

install_shellcheck() {
    if command -v shellcheck >/dev/null; then
        say "shellcheck: $(shellcheck --version | sed -n 2p)"
        return
    fi
    say "installing Debian's shellcheck"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends shellcheck >/dev/null
}

install_shells_and_groff() {
    local missing=()
    command -v zsh >/dev/null || missing+=(zsh)
    command -v fish >/dev/null || missing+=(fish)
    command -v groff >/dev/null || missing+=(groff-base)
    if ((${#missing[@]} == 0)); then
        say "zsh, fish and groff: present"
        return
    fi
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_kubernetes_validate() {
    if [[ -x $VENV/bin/kubernetes-validate ]] &&
        [[ $("$VENV/bin/kubernetes-validate" --version 2>/dev/null) == *"$KUBERNETES_VALIDATE_VERSION"* ]]; then
        say "kubernetes-validate $KUBERNETES_VALIDATE_VERSION already installed in $VENV"
        return
    fi
    say "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION into $VENV"
    mkdir -p "$CACHE"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
}

case ${1:-} in
install)
    install_systemd_analyze
    install_shellcheck
    install_shells_and_groff
    install_kubernetes_validate
    ;;
*)
    echo "usage: $0 install" >&2
    exit 2
    ;;
esac
