package agentproc

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// recordPid writes "PID STARTTIME": field 22 of /proc/$$/stat is the start time StartTime
// reads (sh's comm, "(sh)", holds no space).
const recordPid = `read -r _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ st _ < /proc/$$/stat
echo "$$ $st" > "$pidf.tmp" && mv -f "$pidf.tmp" "$pidf"`

// procStat reads /proc/PID/stat: its state (field 3) and start time (field 22, in clock
// ticks since boot).
func procStat(pid int) (procState, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procState{}, err
	}
	// The command name (field 2) is in parentheses and may hold spaces: cut after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procState{}, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	fields := strings.Fields(s[i+1:])
	// fields[0] is field 3 (state); start time is field 22.
	if len(fields) < 20 {
		return procState{}, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(fields))
	}
	start, err := strconv.ParseInt(fields[19], 10, 64)
	if err != nil {
		return procState{}, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	ppid, _ := strconv.Atoi(fields[1]) // field 4
	return procState{start: start, zombie: fields[0] == "Z", ppid: ppid}, nil
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's start time: 100 on every Linux
// architecture Go supports (the kernel fixes it for userspace whatever its own HZ).
const clockTicks = 100

// startedAt adds a start time (clock ticks since boot) to the boot time in /proc/stat.
func startedAt(start int64) (time.Time, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			boot, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, fmt.Errorf("parse /proc/stat btime: %w", err)
			}
			return time.Unix(boot, 0).Add(time.Duration(start) * time.Second / clockTicks), nil
		}
	}
	return time.Time{}, errors.New("no btime in /proc/stat")
}

func procArgs(pid int) ([]string, error) { return nulList(fmt.Sprintf("/proc/%d/cmdline", pid)) }

func procEnviron(pid int) ([]string, error) { return nulList(fmt.Sprintf("/proc/%d/environ", pid)) }

// nulList reads a /proc file of NUL-terminated strings.
func nulList(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00"), nil
}

func listProcs() ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}
