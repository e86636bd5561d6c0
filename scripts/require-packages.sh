# shellcheck shell=bash
# Sourced by the scripts in this folder: require_packages <debian package>...
# installs what is missing when run as root, otherwise prints the command and exits.

require_packages() {
    if ! command -v dpkg-query >/dev/null 2>&1; then
        echo "note: not a Debian-based system, skipping the package check (needs: $*)" >&2
        return 0
    fi
    local missing=() package
    for package in "$@"; do
        if [[ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null)" != "install ok installed" ]]; then
            missing+=("$package")
        fi
    done
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    if [[ "$(id -u)" == 0 ]]; then
        echo "installing missing packages: ${missing[*]}"
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
    else
        echo "missing packages: ${missing[*]}" >&2
        echo "install them with:" >&2
        echo "    sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
}

require_cmake_workflow() {
    local version
    version="$(cmake --version | sed -n 's/^cmake version \([0-9]*\.[0-9]*\).*/\1/p')"
    if [[ "$(printf '%s\n' 3.25 "$version" | sort -V | head -n1)" != 3.25 ]]; then
        echo "cmake $version is too old: workflow presets need cmake >= 3.25" >&2
        exit 1
    fi
}
