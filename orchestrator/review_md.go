package orchestrator

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/teamctl/teamctl/internal/shorten"
)

// AgentCost is what one agent's model calls cost, as its agent CLI reported it.
type AgentCost struct {
	Agent     string  `json:"agent"`
	USD       float64 `json:"usd"`                 // to the cent
	Estimated bool    `json:"estimated,omitempty"` // priced from its tokens, not the CLI's figure
	// Unknown: its CLI ran in tmux, whose screen is no stream to count from.
	Unknown bool `json:"unknown,omitempty"`
}

// mdTailLines is how much of a failing test's output the Markdown report quotes.
const mdTailLines = 20

// WriteMarkdown writes the review as a Markdown report, for a person or a pull request:
// the leader branch and its tests, who changed which files, every task with its commits,
// merge and tests, what was refused and why, open blockers and costs. Both
// `teamctl review --format md` and the dashboard's review show it.
func (rv Review) WriteMarkdown(out io.Writer) error {
	w := bufio.NewWriter(out)
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	for _, section := range []func(printf){rv.writeSummaryMD, rv.writeAgentsMD, rv.writeTasksMD, rv.writeRefusedMD, rv.writeRepairsMD, rv.writeBlockersMD, rv.writeCostsMD} {
		section(p)
	}
	return w.Flush()
}

// printf is how a section of the review writes.
type printf func(format string, args ...any)

// writeSummaryMD writes the head of the review: the tip, its tests, the change, and whether it can be accepted.
func (rv Review) writeSummaryMD(p printf) {

	p("# Review of team %s\n\n", code(rv.Team))
	p("- Leader branch: %s at %s, over %s\n", code(rv.LeaderBranch), code(shorten.Hash(rv.Tip)), code(rv.Base))
	switch {
	case rv.Test == "":
		p("- Tests: none (the plan has no test command)\n")
	case rv.Tested:
		p("- Tests: %s **passed** on the tip\n", code(rv.Test))
	default:
		p("- Tests: %s **has not passed** on the tip\n", code(rv.Test))
	}
	p("- Change: %d commit(s), %d file(s), +%d −%d\n", rv.Commits, len(rv.Diffstat.Files), rv.Diffstat.Insertions, rv.Diffstat.Deletions)
	switch {
	case rv.Commits == 0:
		p("\nNothing merged yet.\n")
	case rv.Tested || rv.Test == "":
		p("\nAccept it onto %s with `teamctl accept %s`.\n", code(rv.Base), rv.Team)
	default:
		p("\nNot ready to accept: the tip of %s has not passed the tests.\n", code(rv.LeaderBranch))
	}
}

// writeAgentsMD writes who changed what, agent by agent.
func (rv Review) writeAgentsMD(p printf) {
	p("\n## Who changed what\n")
	for _, a := range rv.byAgent() {
		p("\n### %s\n\n", a.name)
		var tasks, merges []string
		for _, t := range a.tasks {
			tasks = append(tasks, fmt.Sprintf("%s (%s)", code(t.ID), t.State))
			if t.Merge != "" {
				merges = append(merges, fmt.Sprintf("%s (%s)", code(shorten.Hash(t.Merge)), t.ID))
			}
		}
		p("- Tasks: %s\n", strings.Join(tasks, ", "))
		if len(merges) == 0 {
			p("- Merged: nothing\n")
			continue
		}
		p("- Merge commits: %s\n", strings.Join(merges, ", "))
		p("- Commits: %d", a.commits)
		if a.auto > 0 {
			p(" (%d auto-commit(s) of work left uncommitted)", a.auto)
		}
		p("\n- Files:\n")
		for _, f := range a.files {
			p("  - %s +%d −%d\n", code(f.Path), f.Insertions, f.Deletions)
		}
	}
}

// writeTasksMD writes each task: its merge, tests, commits, files and the agent's report.
func (rv Review) writeTasksMD(p printf) {
	p("\n## Tasks\n")
	for _, t := range rv.Tasks {
		p("\n### %s — %s — %s\n\n", code(t.ID), t.Agent, t.State)
		if t.Into != "" {
			p("- A worker: merged into %s, its spawner's branch\n", code(t.Into))
		}
		if t.Merge != "" {
			p("- Merge commit: %s\n", code(shorten.Hash(t.Merge)))
		}
		p("- Tests: %s", t.Tests)
		if t.TestRuns > 0 {
			p(" (%d run(s))", t.TestRuns)
		}
		p("\n")
		if t.Detail != "" {
			p("- Why: %s\n", oneLineMD(t.Detail))
		}
		if len(t.Commits) > 0 {
			p("- Commits:\n")
			for _, c := range t.Commits {
				auto := ""
				if c.Auto {
					auto = " *(auto-commit)*"
				}
				p("  - %s %s — %s%s\n", code(shorten.Hash(c.Hash)), escapeMD(c.Subject), c.Author, auto)
			}
		}
		if t.LandedBy != "" {
			p("- Landed by %s, with %d commit(s) of its own:\n", t.LandedBy, len(t.Fix))
			for _, c := range t.Fix {
				p("  - %s %s — %s\n", code(shorten.Hash(c.Hash)), escapeMD(c.Subject), c.Author)
			}
		}
		if len(t.Diffstat.Files) > 0 {
			p("- Files: ")
			for i, f := range t.Diffstat.Files {
				if i > 0 {
					p(", ")
				}
				p("%s +%d −%d", code(f.Path), f.Insertions, f.Deletions)
			}
			p("\n")
		}
		if s := strings.TrimSpace(t.Summary); s != "" {
			p("\nThe agent's report:\n\n")
			for _, l := range strings.Split(s, "\n") {
				p("> %s\n", l)
			}
		}
	}
}

// writeRefusedMD writes the merges refused or failed, with the tail of why.
func (rv Review) writeRefusedMD(p printf) {
	merged := map[string]bool{}
	for _, t := range rv.Tasks {
		merged[t.ID] = t.State == Merged
	}
	p("\n## Refused and failed merges\n\n")
	if len(rv.Refused) == 0 {
		p("None.\n")
	}
	for _, r := range rv.Refused {
		p("- %s (%s): **%s**", code(r.Task), r.Agent, r.Outcome)
		if !r.At.IsZero() {
			p(" at %s", r.At.UTC().Format("2006-01-02 15:04:05Z"))
		}
		if merged[r.Task] {
			p(", merged since")
		}
		why := tailLines(strings.TrimSpace(r.Why), mdTailLines)
		if why == "" {
			p("\n")
			continue
		}
		f := fence(why)
		p("\n\n  %s\n", f)
		for _, l := range strings.Split(why, "\n") {
			if l == "" {
				p("\n")
				continue
			}
			p("  %s\n", l)
		}
		p("  %s\n", f)
	}
}

// writeRepairsMD writes what was made again, and what was lost, when there is any.
func (rv Review) writeRepairsMD(p printf) {
	if len(rv.Incidents) > 0 {
		p("\n## Incidents\n\nAttempts teamctl refused or undid:\n\n")
		for _, in := range rv.Incidents {
			who := in.Agent
			if who == "" {
				who = "an unknown process"
			}
			p("- %s: %s\n", code(who), oneLineMD(in.What))
		}
	}
	if len(rv.Repairs) == 0 {
		return
	}
	p("\n## Repaired\n\n")
	for _, r := range rv.Repairs {
		p("- %s: %s\n", code(r.Agent), oneLineMD(r.Text))
	}
}

// writeBlockersMD writes the blockers still open.
func (rv Review) writeBlockersMD(p printf) {
	p("\n## Open blockers\n\n")
	if len(rv.Blockers) == 0 {
		p("None.\n")
	}
	for _, b := range rv.Blockers {
		who := "the leader"
		if b.Human || b.State == "escalated" {
			who = "the human"
		}
		p("- #%d from %s", b.ID, b.Agent)
		if b.Task != "" {
			p(" (task %s)", code(b.Task))
		}
		p(", waiting on %s: %s\n", who, oneLineMD(b.Text))
	}
}

// writeCostsMD writes what each agent's CLI reported spending.
func (rv Review) writeCostsMD(p printf) {
	p("\n## Costs\n\n")
	if len(rv.Costs) == 0 {
		p("None recorded: only agent CLIs that report their cost (e.g. Claude Code's stream-json result) are counted.\n")
	} else {
		total, est, unknown := 0.0, "", ""
		p("| Agent | Cost (USD) |\n| --- | ---: |\n")
		for _, c := range rv.Costs {
			switch {
			case c.Unknown:
				p("| %s | unknown (tmux) |\n", c.Agent)
				unknown = " + unknown"
				continue
			case c.Estimated:
				p("| %s | ~%.2f |\n", c.Agent, c.USD)
				est = "~"
			default:
				p("| %s | %.2f |\n", c.Agent, c.USD)
			}
			total += c.USD
		}
		p("| **total** | **%s%.2f%s** |\n", est, total, unknown)
	}
}

// agentWork is what one agent got merged.
type agentWork struct {
	name          string
	tasks         []ReviewTask
	commits, auto int
	files         []FileStat // summed over its merged tasks, by path
}

// byAgent groups the tasks by agent, in the order agents first appear in the plan. A
// spawner's merge brings its workers' work too (merged into its branch first): that work is
// counted under the workers, not again under the spawner — their commits are left out of
// the spawner's, their lines taken off its files'.
func (rv Review) byAgent() []agentWork {
	var out []agentWork
	index := map[string]int{}
	files := map[string]map[string]*FileStat{}
	workers := map[string][]ReviewTask{} // spawner's branch → its workers' merged tasks
	reduced := map[string]bool{}         // agent NUL path: a file its workers' lines were taken off
	for _, t := range rv.Tasks {
		if t.Into != "" && t.Merge != "" {
			workers[t.Into] = append(workers[t.Into], t)
		}
	}
	for _, t := range rv.Tasks {
		i, ok := index[t.Agent]
		if !ok {
			i = len(out)
			index[t.Agent] = i
			out = append(out, agentWork{name: t.Agent})
			files[t.Agent] = map[string]*FileStat{}
		}
		a := &out[i]
		a.tasks = append(a.tasks, t)
		if t.Merge == "" {
			continue
		}
		// Its workers whose merge into its branch this merge brought.
		var brought []ReviewTask
		for _, w := range workers[BranchName(rv.Team, t.Agent)] {
			if slices.ContainsFunc(t.Commits, func(c ReviewCommit) bool { return c.Hash == w.Merge }) {
				brought = append(brought, w)
			}
		}
		theirs := map[string]bool{}
		for _, w := range brought {
			theirs[w.Merge] = true
			for _, c := range w.Commits {
				theirs[c.Hash] = true
			}
		}
		for _, c := range t.Commits {
			if theirs[c.Hash] {
				continue
			}
			a.commits++
			if c.Auto {
				a.auto++
			}
		}
		add := func(f FileStat, sign int) {
			fs := files[t.Agent][f.Path]
			if fs == nil {
				fs = &FileStat{Path: f.Path}
				files[t.Agent][f.Path] = fs
			}
			fs.Insertions += sign * f.Insertions
			fs.Deletions += sign * f.Deletions
		}
		for _, f := range t.Diffstat.Files {
			add(f, 1)
		}
		for _, w := range brought {
			for _, f := range w.Diffstat.Files {
				if files[t.Agent][f.Path] != nil {
					add(f, -1)
					reduced[t.Agent+"\x00"+f.Path] = true
				}
			}
		}
	}
	for i := range out {
		for _, f := range files[out[i].name] {
			if !reduced[out[i].name+"\x00"+f.Path] || f.Insertions > 0 || f.Deletions > 0 {
				out[i].files = append(out[i].files, *f)
			}
		}
		sort.Slice(out[i].files, func(a, b int) bool { return out[i].files[a].Path < out[i].files[b].Path })
	}
	return out
}

// code is s as a Markdown code span, whatever backticks it holds.
func code(s string) string {
	if s == "" {
		return "` `"
	}
	ticks := "`"
	for strings.Contains(s, ticks) {
		ticks += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || ticks != "`" {
		return ticks + " " + s + " " + ticks
	}
	return ticks + s + ticks
}

// fence is a code fence longer than any run of backticks in s.
func fence(s string) string {
	f := "```"
	for strings.Contains(s, f) {
		f += "`"
	}
	return f
}

// escapeMD keeps text (a commit subject, an agent's words) from being read as Markdown.
func escapeMD(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "<", `\<`, "#", `\#`, "|", `\|`)
	return r.Replace(s)
}

func oneLineMD(s string) string { return escapeMD(shorten.Fold(s)) }

func tailLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) <= n {
		return s
	}
	return fmt.Sprintf("… (%d lines before)\n", len(lines)-n) + strings.Join(lines[len(lines)-n:], "\n")
}
