#!/bin/sh
# carol's first try is wrong; relaunched with the failing test's output she fixes it.
set -e
if [ "$TEAMCTL_REASON" = fix-tests ]; then
	printf '#!/bin/sh\necho $(($1 * $2))\n' > calc/mul.sh
	git commit -q -am "calc: mul.sh multiplies (the test caught an addition)"
	echo "carol: fixed mul.sh after the test failed"
	exit 0
fi
printf '#!/bin/sh\necho $(($1 + $2))\n' > calc/mul.sh
git add calc/mul.sh
git commit -q -m "calc: add mul.sh"
echo "carol: added mul.sh"
