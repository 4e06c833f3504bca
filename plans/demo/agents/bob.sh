#!/bin/sh
# bob does the work but never commits it: teamctl nudges him, then auto-commits it.
set -e
mkdir -p docs
cat > docs/USAGE.md <<'MD'
# Using calc

Run a script with two numbers: `sh calc/add.sh 2 3` prints 5.
MD
echo "bob: wrote docs/USAGE.md (launch $TEAMCTL_ATTEMPT, reason $TEAMCTL_REASON) and forgot to commit"
