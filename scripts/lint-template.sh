#!/usr/bin/env bash
# Validates the SAM template with cfn-lint (installed into the git-ignored .venv on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
CFN_LINT_SPEC='cfn-lint==1.58.0'
if ! .venv/bin/cfn-lint --version >/dev/null 2>&1; then
  echo "lint-template: installing cfn-lint into .venv" >&2
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check "$CFN_LINT_SPEC"
fi
exec .venv/bin/cfn-lint deploy/template.yaml
