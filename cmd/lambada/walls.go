package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/lambada-dev/lambada/walls"
)

// The values of --isolation.
const (
	IsolationAuto     = "auto"
	IsolationRequired = "required"
	IsolationOff      = "off"
)

// The default range of environments' host uids: above any usual user's
// and any subordinate range a container runtime hands out by default, and
// large enough that no uid is handed out twice (walls.Jail) in years of
// cold starts.
const (
	DefaultFirstUID = 2_000_000_000
	DefaultLastUID  = 3_999_999_999
)

// spareRanges counts the uid ranges handed out by spareUIDs.
var spareRanges atomic.Uint32

// spareUIDs returns a range of 100,000 uids, past the default range, for
// a node this process starts beside others (lambada bench's, a test's): two
// nodes on one host must not share environments' uids. Ranges differ by
// this process's pid and a count of the ranges it handed out.
func spareUIDs() (first, last uint32) {
	n := uint32(os.Getpid()%29)*100 + spareRanges.Add(1)%100 // < 2900: the last range ends below 4,290,000,000
	first = DefaultLastUID + 1 + n*100_000
	return first, first + 99_999
}

// openJail makes the walls of environments besides memory, once a probe
// shows the kernel allows them: where it does not, the node runs without
// them (saying so at start), or refuses to start when they are required.
func (m *Main) openJail() error {
	switch m.Isolation {
	case IsolationOff:
		m.noJail = errors.New("--isolation " + IsolationOff)
		return nil
	case "", IsolationAuto, IsolationRequired:
	default:
		return fmt.Errorf("--isolation %q: want %s, %s or %s", m.Isolation, IsolationAuto, IsolationRequired, IsolationOff)
	}
	first, last := m.FirstUID, m.LastUID
	if first == 0 {
		first, last = DefaultFirstUID, DefaultLastUID
	}
	j, err := walls.NewJail(filepath.Join(m.Data, "jail"), first, last)
	if err == nil {
		if killed := j.Sweep(); len(killed) > 0 {
			m.Logger.Info("killed what a node that was killed left running of its environments", "pids", killed)
		}
		err = j.Probe(walls.Detect(m.Logger), m.Logger)
	}
	if err != nil {
		if m.Isolation == IsolationRequired {
			return fmt.Errorf("--isolation %s: functions cannot be walled in on this host: %w", IsolationRequired, err)
		}
		m.noJail = err
		return nil
	}
	// The Runtime APIs' one address, bound before any function runs, so
	// that none can hold it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("runtime api listener: %w", err)
	}
	m.jail, m.router = j, walls.NewRouter(ln, m.Logger.With("component", "runtimeapi"))
	return nil
}

// logWalls says at start what keeps functions in, and what is missing.
func (m *Main) logWalls() {
	memory := walls.Detect(m.Logger).String()
	if m.jail != nil {
		m.Logger.Info("functions are walled in", "memory", memory, "walls", m.jail.String(),
			"not_isolated", "the network: functions share the host's, as they would reach anything from AWS; only their own Runtime API is closed to others")
		return
	}
	m.Logger.Warn("functions are not isolated from each other: they run as this node's user, in its PID and mount namespaces, so a function can signal the node, read its data directory and other functions' code, and reach other environments' Runtime API; each is limited only in memory ("+
		memory+") and to 1024 open files", "why", m.noJail.Error())
}
