#!/bin/bash
# Measures the CPU `teamctl watch` uses while it watches a running team of N scripted agents
# (default 64), each printing a line every 2s, editing a file every 10s and committing every
# COMMIT_STEPS*2 seconds (default 30s). It runs the team with `teamctl run`, the dashboard in
# a 120x40 tmux session, and reads /proc/PID/stat (utime+stime, and its children's: the git
# commands it ran) over SECS seconds (default 60). Needs tmux and python3.
#   make build && dashboard/testdata/measure-cpu.sh $PWD/bin/teamctl 64 60
set -euo pipefail
BIN=$1; N=${2:-64}; SECS=${3:-60}; COMMIT_STEPS=${COMMIT_STEPS:-15}
W=${TMPDIR:-/tmp}/teamctl-cpu; rm -rf $W $W.teamctl; mkdir -p $W/home $W/agents
export HOME=$W/home GIT_CONFIG_GLOBAL=$W/home/.gitconfig GIT_CONFIG_NOSYSTEM=1 NO_COLOR=
printf '[init]\n\tdefaultBranch = main\n[gc]\n\tauto = 0\n[user]\n\tname = o\n\temail = o@x\n' > $GIT_CONFIG_GLOBAL
git init -q $W/repo && cd $W/repo && echo hi > README.md && git add -A && git commit -qm init
cat > $W/agents/busy.sh <<AG
#!/bin/sh
# A busy agent: a line of output every 2s, a file edit every 10s, a commit now and then.
i=0
while [ \$i -lt 1000 ]; do
  i=\$((i+1)); echo "step \$i: thinking about \$TEAMCTL_TASK_ID"
  if [ \$((i % 5)) -eq 0 ]; then echo "\$i" >> "work-\$TEAMCTL_AGENT.txt"; fi
  if [ \$((i % $COMMIT_STEPS)) -eq 0 ]; then git add -A && git commit -qm "step \$i"; fi
  sleep 2
done
AG
chmod +x $W/agents/busy.sh
{ echo "version: 1"; echo "team: big"; echo "repo: $W/repo"; echo "base: main"
  echo "defaults: {timeout: 30m, command: [$W/agents/busy.sh]}"; echo "agents:"
  for i in $(seq -w 1 $N); do echo "  - {name: dev-$i, tasks: [{id: t$i, prompt: p}]}"; done; } > $W/plan.yaml
$BIN run $W/plan.yaml > $W/run.log 2>&1 &
RUN=$!
running() { $BIN -C $W/repo status big --json 2>/dev/null | python3 -c 'import json,sys; print(sum(a["state"]=="running" for a in json.load(sys.stdin)["agents"]))' 2>/dev/null || echo 0; }
until [ "$(running)" = "$N" ]; do sleep 1; done
echo "all $N agents running"
tmux -L cpu-measure kill-server 2>/dev/null || true
tmux -L cpu-measure -f /dev/null new-session -d -s w -x 120 -y 40 "$BIN -C $W/repo watch big"
sleep 15  # let it settle (first counts of every agent)
PID=$(tmux -L cpu-measure display -p -t w '#{pane_pid}')
cat /proc/$PID/comm
t() { awk '{print $14+$15}' /proc/$PID/stat; }
c() { awk '{print $16+$17}' /proc/$PID/stat; }
a=$(t); ca=$(c); sleep $SECS; b=$(t); cb=$(c)
HZ=$(getconf CLK_TCK)
echo "watch pid $PID: own $((b-a)) ticks, its git children $((cb-ca)) ticks, in ${SECS}s at $HZ Hz"
echo "= $(awk "BEGIN{printf \"%.2f\", ($b-$a)/$HZ/$SECS*100}")% of one core (own), $(awk "BEGIN{printf \"%.2f\", ($b-$a+$cb-$ca)/$HZ/$SECS*100}")% with git"
tmux -L cpu-measure capture-pane -p -t w | head -12
tmux -L cpu-measure kill-server
kill -TERM $RUN; wait $RUN || true
