#!/usr/bin/env bash
# Writes .env for `make api`.
#   tools/env-setup.sh local [PORT]  -> the local emulator (endpoint, dummy credentials, random
#                                       DOMAIN_PREFIX and PASSWORD)
#   tools/env-setup.sh aws           -> real AWS: asks for AWS_PROFILE, AWS_REGION, PASSWORD on a TTY
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-local}
umask 077

random_letters() { LC_ALL=C tr -dc 'a-z' </dev/urandom | head -c "$1"; }
random_password() {
  # Meets Cognito's default policy (upper, lower, digit, symbol) and is safe in make and shell.
  printf 'Aa1-%s%s' "$(LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 16)" "$(LC_ALL=C tr -dc '0-9' </dev/urandom | head -c 2)"
}

case "$mode" in
local)
  port=${2:-5000}
  cat > .env <<EOT
# Written by 'make api' for the local emulator (moto). Delete this file to start over;
# run 'make aws-env' to target your AWS account instead.
AWS_ENDPOINT_URL=http://127.0.0.1:${port}
AWS_ACCESS_KEY_ID=testing
AWS_SECRET_ACCESS_KEY=testing
AWS_REGION=us-east-1
DOMAIN_PREFIX=$(random_letters 16)
PASSWORD=$(random_password)
EOT
  echo "No .env found: wrote one for the local emulator at http://127.0.0.1:${port} (dummy credentials, random DOMAIN_PREFIX and PASSWORD)."
  ;;
aws)
  if [ ! -t 0 ]; then
    echo "make aws-env needs a terminal to ask for AWS_PROFILE, AWS_REGION and PASSWORD; or write .env yourself (see README)." >&2
    exit 1
  fi
  read -r -p "AWS profile [default]: " profile; profile=${profile:-default}
  read -r -p "AWS region [us-east-1]: " region; region=${region:-us-east-1}
  read -r -p "Cognito domain prefix [random]: " prefix; prefix=${prefix:-$(random_letters 16)}
  read -r -s -p "Test user password (8+ chars, upper, lower, digit, symbol; not \$ or #): " password; echo
  cat > .env <<EOT
# Written by 'make aws-env': the stack goes to your AWS account.
AWS_PROFILE=${profile}
AWS_REGION=${region}
DOMAIN_PREFIX=${prefix}
PASSWORD=${password}
EOT
  echo "Wrote .env for AWS (profile ${profile}, region ${region}). 'make api' now deploys to your account."
  ;;
*)
  echo "usage: $0 local [PORT] | aws" >&2; exit 2 ;;
esac
