# teamctl agent wrapper: records the agent's pid and exit status (see agentproc).
pidf=$1; exitf=$2; shift 2
read -r _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ st _ < /proc/$$/stat
echo "$$ $st" > "$pidf.tmp" && mv -f "$pidf.tmp" "$pidf"
"$@" </dev/null
rc=$?
echo "$rc" > "$exitf.tmp" && mv -f "$exitf.tmp" "$exitf"
exit $rc
