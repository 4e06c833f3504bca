package plan

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// humanName is who the person running the team is to teamctl (TEAMCTL_AGENT in their
// shell); an agent by that name would receive the human's messages and blockers.
const humanName = "human"

// check does what needs the whole plan: names against each other, task ids across agents,
// after: references and cycles, and a command for every dev agent once defaults apply.
func (d *decoder) check(def, leader *spec, devs []*spec) {
	leaderName := DefaultLeader
	if leader.named {
		leaderName = leader.name
		d.checkName(leader.nameNode, "leader name", leader.name)
	}
	agents := map[string]*yaml.Node{}
	for i, s := range devs {
		if s.node == nil || s.node.Kind != yaml.MappingNode {
			continue // already reported as not a mapping
		}
		label := fmt.Sprintf("agents[%d]", i)
		if s.named {
			label = fmt.Sprintf("agent %q", s.name)
			d.checkName(s.nameNode, "agent name", s.name)
			if first, dup := agents[s.name]; dup {
				d.errorf(s.nameNode, "duplicate agent name %q (first at %s)", s.name, at(first))
			} else {
				agents[s.name] = s.nameNode
			}
			if s.name == leaderName {
				d.errorf(s.nameNode, "agent name %q is the leader's name: rename the agent or set leader.name", s.name)
			}
		}
		if !s.launcher && !def.launcher {
			d.errorf(s.node, "%s has no command: set command or preset on it, or under defaults", label)
		}
	}
	d.checkTasks(devs)
}

func (d *decoder) checkName(n *yaml.Node, label, name string) {
	switch {
	case !ValidName(name):
		d.errorf(n, "%s %q: must match %s", label, name, namePattern)
	case name == humanName:
		d.errorf(n, "%s %q is reserved for the person running the team: choose another", label, name)
	}
}

// checkTasks checks task ids, which are unique across the team since `after:` may name a
// task of any agent, then every after: reference and the graph they form.
func (d *decoder) checkTasks(devs []*spec) {
	var tasks []*taskSpec
	index := map[string]int{} // id → its first task in tasks
	n := 0
	for _, s := range devs {
		for i := range s.tasks {
			t := &s.tasks[i]
			if n++; n == MaxTasks+1 {
				d.errorf(t.node, "task %d of the plan: a plan has at most %d tasks", n, MaxTasks)
			}
			if t.idNode == nil || t.idNode.Kind != yaml.ScalarNode {
				continue
			}
			if !ValidName(t.id) {
				d.errorf(t.idNode, "task id %q: must match %s", t.id, namePattern)
			} else if ReservedTaskID(t.id) {
				d.errorf(t.idNode, "task id %q is reserved for the leader's own tasks (%s, %s, %s*, %s*): choose another",
					t.id, LeaderStartTask, LeaderReviewTask, LeaderBlockerPrefix, LeaderFixPrefix)
			}
			if first, dup := index[t.id]; dup {
				d.errorf(t.idNode, "duplicate task id %q (first at %s)", t.id, at(tasks[first].idNode))
				continue
			}
			index[t.id] = len(tasks)
			tasks = append(tasks, t)
		}
	}
	deps := make([][]int, len(tasks))
	for i, t := range tasks {
		for k, id := range t.after {
			j, ok := index[id]
			if !ok {
				d.errorf(t.afterIDs[k], "after: unknown task id %q", id)
				continue
			}
			deps[i] = append(deps[i], j)
		}
	}
	for _, cycle := range cycles(deps) {
		ids := make([]string, 0, len(cycle)+1)
		for _, i := range cycle {
			ids = append(ids, tasks[i].id)
		}
		why := "these tasks would wait for each other forever"
		if len(cycle) == 1 {
			why = "a task cannot wait for itself"
		}
		ids = append(ids, ids[0])
		d.errorf(tasks[cycle[0]].afterNode, "after: cycle %s: %s", strings.Join(ids, " -> "), why)
	}
}

// cycles finds cycles in a graph where deps[i] lists what i waits for: at least one per
// group of tasks that wait on each other, each starting at its task that comes first in
// the file, so the message and its position do not depend on map order.
func cycles(deps [][]int) [][]int {
	const (
		unseen = iota
		onPath
		done
	)
	state := make([]int, len(deps))
	var path []int
	var found [][]int
	seen := map[string]bool{}
	var visit func(i int)
	visit = func(i int) {
		state[i] = onPath
		path = append(path, i)
		for _, j := range deps[i] {
			switch state[j] {
			case unseen:
				visit(j)
			case onPath:
				start := len(path) - 1
				for path[start] != j {
					start--
				}
				c := rotateToMin(path[start:])
				if key := fmt.Sprint(c); !seen[key] {
					seen[key] = true
					found = append(found, c)
				}
			}
		}
		path = path[:len(path)-1]
		state[i] = done
	}
	for i := range deps {
		if state[i] == unseen {
			visit(i)
		}
	}
	return found
}

// rotateToMin returns a copy of cycle starting at its smallest element.
func rotateToMin(cycle []int) []int {
	m := 0
	for i, v := range cycle {
		if v < cycle[m] {
			m = i
		}
	}
	return append(append([]int(nil), cycle[m:]...), cycle[:m]...)
}
