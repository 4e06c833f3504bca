package fakeopenai

import (
	"encoding/json"
	"strings"

	"github.com/teamctl/teamctl/internal/testsupport/fakeanthropic"
)

// Tools returns the toolset of a CLI that speaks the Responses API:
//
//   - "codex" (Codex CLI 0.169 with model gpt-5.5): Bash is its exec_command function
//     {"cmd": command}; Write its apply_patch, a custom (freeform) tool whose input is a
//     patch, so the ToolUse's Input is {"input": patch}. A model that gets codex's
//     "code mode" instead (its default gpt-6.1-sol, and gpt-6-sol, gpt-5.6-sol: one
//     JavaScript tool, exec, in an additional_tools input item) is offered neither:
//     the server turns these calls into an exec of JavaScript that makes them.
//   - "opencode" (opencode 1.18's openai provider with a gpt-5 model): Bash is its bash
//     function {"command": command} (no description, unlike its anthropic schema);
//     Write its apply_patch function {"patchText": patch}.
//
// Write adds the file rel under the agent's working directory dir (relative to its
// working directory when dir is ""), with content's lines; content should end in a
// newline, as the patch's lines do.
func Tools(cli string) fakeanthropic.Toolset {
	path := func(dir, rel string) string {
		if dir == "" {
			return rel
		}
		return dir + "/" + rel
	}
	switch cli {
	case "opencode":
		return fakeanthropic.Toolset{
			Write: func(dir, rel, content string) fakeanthropic.ToolUse {
				return fakeanthropic.ToolUse{Name: "apply_patch", Input: map[string]any{"patchText": AddFile(path(dir, rel), content)}}
			},
			Bash: func(command string) fakeanthropic.ToolUse {
				return fakeanthropic.ToolUse{Name: "bash", Input: map[string]any{"command": command}}
			},
		}
	}
	return fakeanthropic.Toolset{
		Write: func(dir, rel, content string) fakeanthropic.ToolUse {
			return fakeanthropic.ToolUse{Name: "apply_patch", Input: map[string]any{"input": AddFile(path(dir, rel), content)}}
		},
		Bash: func(command string) fakeanthropic.ToolUse {
			return fakeanthropic.ToolUse{Name: "exec_command", Input: map[string]any{"cmd": command}}
		},
	}
}

// AddFile is an apply_patch patch (the format codex and opencode share) that adds the
// file path with content.
func AddFile(path, content string) string {
	var b strings.Builder
	b.WriteString("*** Begin Patch\n*** Add File: " + path + "\n")
	for _, line := range strings.SplitAfter(content, "\n") {
		if line == "" {
			continue
		}
		b.WriteString("+" + strings.TrimSuffix(line, "\n") + "\n")
	}
	b.WriteString("*** End Patch\n")
	return b.String()
}

// adapt makes a call of a tool the request does not offer into one it does, where one
// stands for the other: codex in code mode offers one custom tool, exec, that runs
// JavaScript with the other tools on its global `tools` object, so a call of
// exec_command or apply_patch becomes an exec of a script that makes the call and
// prints what it returns.
func adapt(tu fakeanthropic.ToolUse, tools map[string]offered) fakeanthropic.ToolUse {
	if _, ok := tools[tu.Name]; ok {
		return tu
	}
	if o, ok := tools["exec"]; !ok || o.typ != "custom" {
		return tu
	}
	var arg []byte
	switch tu.Name {
	case "apply_patch":
		arg, _ = json.Marshal(tu.Input["input"])
	case "exec_command":
		arg, _ = json.Marshal(tu.Input)
	default:
		return tu
	}
	js := "const r = await tools." + tu.Name + "(" + string(arg) + ");\n" +
		"text(typeof r === \"string\" ? r : JSON.stringify(r));\n"
	return fakeanthropic.ToolUse{Name: "exec", Input: map[string]any{"input": js}}
}
