# Makes `import brokerd` work from this checkout in the current shell:
#     source tools/python-env.sh
# Installs Debian's python3-protobuf when it is missing (apt; sudo when not root), then
# puts client/python first on PYTHONPATH. Use Debian's /usr/bin/python3.
_brokerd_root=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)
if ! /usr/bin/python3 -c 'import google.protobuf' 2>/dev/null; then
  _brokerd_sudo=""
  [[ $(id -u) -ne 0 ]] && _brokerd_sudo=sudo
  DEBIAN_FRONTEND=noninteractive $_brokerd_sudo apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $_brokerd_sudo apt-get install -y -qq --no-install-recommends python3-protobuf
  unset _brokerd_sudo
fi
case ":${PYTHONPATH:-}:" in
  *":$_brokerd_root/client/python:"*) ;;
  *) export PYTHONPATH="$_brokerd_root/client/python${PYTHONPATH:+:$PYTHONPATH}" ;;
esac
if ! python3 -c 'import google.protobuf' 2>/dev/null; then
  echo "python-env: '$(command -v python3)' cannot import protobuf; use Debian's /usr/bin/python3" \
    "(another python3 is first on PATH)" >&2
fi
unset _brokerd_root
