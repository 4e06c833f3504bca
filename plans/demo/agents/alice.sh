#!/bin/sh
# alice commits her work cleanly, like a well-behaved agent.
set -e
case "$TEAMCTL_TASK_ID" in
sub)
	printf '#!/bin/sh\necho $(($1 - $2))\n' > calc/sub.sh
	git add calc/sub.sh
	git commit -q -m "calc: add sub.sh"
	;;
readme)
	# after: [mul] — carol's merged mul.sh is already in this worktree.
	{ echo; echo "Scripts:"; for f in calc/*.sh; do echo "- $f"; done; } >> README.md
	git commit -q -am "README: list the calc scripts"
	;;
esac
echo "alice: $TEAMCTL_TASK_ID done"
