#!/usr/bin/env bash
# The providers' own Python SDKs, from PyPI, in a virtual environment at target/sdk-venv: the
# local stand-ins of their OpenAPIs (tests/standin/) sign-check requests and build answers with
# them, and tests/standin/sign_vectors.py gives the SDKs' exact signatures for the Rust side.
# Idempotent: when the venv holds exactly these pins (a stamp file) it returns at once.
# Prints the venv's python path on its last line of stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/sdk-venv
# Every package pinned, the dependencies too (pip freeze of a fresh install), so a run next
# year installs the same code.
pins=(
  alibabacloud-live20161101==3.0.2
  alibabacloud-tea-openapi==0.4.6
  alibabacloud-openapi-util==0.2.4
  alibabacloud-tea-util==0.3.15
  alibabacloud-tea==0.4.3
  alibabacloud-credentials==1.0.12
  alibabacloud-credentials-api==1.0.1
  alibabacloud-gateway-spi==0.0.4
  darabonba-core==1.0.9
  tencentcloud-sdk-python-live==3.1.195
  tencentcloud-sdk-python-common==3.1.195
  aiofiles==24.1.0
  aiohappyeyeballs==2.7.1
  aiohttp==3.14.5
  aiosignal==1.4.0
  APScheduler==3.11.3
  attrs==26.1.0
  certifi==2026.10.19.post1
  cffi==2.1.1
  charset-normalizer==3.5.3
  cryptography==50.0.2
  frozenlist==1.8.0
  idna==3.20
  multidict==7.2.1
  propcache==0.5.4
  pycparser==3.12
  requests==2.34.2
  typing_extensions==4.16.0
  tzlocal==5.4.5
  urllib3==2.8.0
  websocket-client==1.9.2
  yarl==1.25.1
)
stamp="$venv/.recmon-pins"
want=$(printf '%s\n' "${pins[@]}")

if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
  && "$venv/bin/python" -c 'import alibabacloud_live20161101, alibabacloud_openapi_util, tencentcloud.live.v20180801' 2>/dev/null; then
  echo "$PWD/$venv/bin/python"
  exit 0
fi

python=${PYTHON:-python3}
rm -rf "$venv"
mkdir -p target
"$python" -m venv "$venv" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "${pins[@]}" >&2
"$venv/bin/python" -c 'import alibabacloud_live20161101, alibabacloud_openapi_util, tencentcloud.live.v20180801'
printf '%s\n' "$want" >"$stamp"
echo "$PWD/$venv/bin/python"
