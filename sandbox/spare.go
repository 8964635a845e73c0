package sandbox

// Spare environments: a runtime whose interpreter cannot fork (Node.js's
// V8) has a process of Lambada's client started ahead of time, in walls of
// its own but without code, that has done the interpreter's start and
// waits on its standard input. A cold start of that runtime takes it: the
// walls get the function's code, layers, /tmp and memory limit, the process
// its environment variables, and it loads the handler. Each use starts the
// next spare; the first cold start of a runtime starts its first.

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/runtimes"
	"github.com/lambada-dev/lambada/walls"
)

// spareMemoryMB is a spare's memory limit until its function's is set.
const spareMemoryMB = 1024

// spareEnv is a spare's process and walls.
type spareEnv struct {
	cmd     *exec.Cmd
	mem     *walls.Memory
	in      *os.File // its standard input, where the assignment goes
	out     *os.File // the read end of its output
	started time.Time
}

// spares are the Manager's spare environments, by runtime. Guarded by the
// Manager's mu.
type spares struct {
	ready   map[string]*spareEnv
	filling map[string]bool
	live    int // spares started and neither given an environment nor discarded
}

// Spares returns how many spare environments are ready, and how many are
// alive without an environment (the ready ones, unless one was lost).
func (m *Manager) Spares() (ready, live int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.spares.ready), m.spares.live
}

// takeSpare returns a spare of runtime, if one is ready, and starts making
// the next (nil: none for this runtime, or none yet).
func (m *Manager) takeSpare(cfg *lambada.SandboxConfig) *spareEnv {
	runtime := cfg.Runtime
	if m.Jail == nil || m.Router == nil || !runtimes.Spared(runtime) {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	if m.spares.filling == nil {
		m.spares.filling, m.spares.ready = map[string]bool{}, map[string]*spareEnv{}
	}
	var sp *spareEnv
	if startsFast(cfg) {
		if sp = m.spares.ready[runtime]; sp != nil {
			delete(m.spares.ready, runtime)
			m.spares.live--
		}
	}
	if m.spares.ready[runtime] == nil && !m.spares.filling[runtime] {
		m.spares.filling[runtime] = true
		m.provisioning.Add(1)
		go m.fillSpare(runtime)
	}
	return sp
}

// fillSpare starts a spare of runtime.
func (m *Manager) fillSpare(runtime string) {
	defer m.provisioning.Done()
	sp, err := m.startSpare(runtime)
	m.mu.Lock()
	delete(m.spares.filling, runtime)
	if err == nil {
		m.spares.live++
	}
	keep := err == nil && !m.closed && m.spares.ready[runtime] == nil // one ready spare per runtime
	if keep {
		m.spares.ready[runtime] = sp
	}
	m.mu.Unlock()
	switch {
	case err != nil:
		m.Logger.Warn("sandbox: no spare environment", "runtime", runtime, "err", err)
	case !keep:
		sp.discard(m.Logger)
		m.mu.Lock()
		m.spares.live--
		m.mu.Unlock()
	}
}

// startSpare starts a process of runtime's client, as a spare, in walls
// without code.
func (m *Manager) startSpare(runtime string) (*spareEnv, error) {
	start, ok := runtimes.Command(runtime)
	if !ok {
		return nil, fmt.Errorf("no interpreter for %s", runtime)
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	cmd := &exec.Cmd{
		Path: start.Args[0], Args: start.Args, Dir: walls.TaskRoot,
		Env:         []string{runtimes.SpareVariable, "PATH=/usr/local/bin:/usr/bin/:/bin:/opt/bin", "TZ=:UTC", "LANG=en_US.UTF-8"},
		Stdin:       inR,
		Stdout:      outW,
		Stderr:      outW,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	mem, err := m.wallsHost().Start(cmd, walls.Spec{MemoryMB: spareMemoryMB, Jail: m.Jail, Router: m.Router, Dirs: start.Dirs},
		m.Logger.With("spare", runtime), func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, err
	}
	return &spareEnv{cmd: cmd, mem: mem, in: inW, out: outR, started: time.Now()}, nil
}

// assign makes sp the environment of cfg: its walls get the code and
// limits, its process the environment variables (its Runtime API is
// AWS_LAMBDA_RUNTIME_API).
func (sp *spareEnv) assign(cfg *lambada.SandboxConfig, env []string) error {
	if err := sp.mem.Assign(walls.Assignment{Code: cfg.CodeDir, Opt: cfg.OptDir, TmpMB: cfg.TmpMB, MemoryMB: cfg.MemorySize}); err != nil {
		return err
	}
	vars := make(map[string]string, len(env))
	for _, kv := range env {
		for i := 0; i < len(kv); i++ {
			if kv[i] == '=' {
				vars[kv[:i]] = kv[i+1:]
				break
			}
		}
	}
	b, err := json.Marshal(map[string]any{"env": vars})
	if err != nil {
		return err
	}
	_, err = sp.in.Write(b)
	if cerr := sp.in.Close(); err == nil {
		err = cerr
	}
	return err
}

// discard kills an unused spare and releases its walls.
func (sp *spareEnv) discard(logger *slog.Logger) {
	_ = syscall.Kill(-sp.cmd.Process.Pid, syscall.SIGKILL)
	_ = sp.cmd.Wait()
	sp.in.Close()
	sp.out.Close()
	sp.mem.Close(logger)
}

// closeSpares discards the ready spares; those on their way discard
// themselves (the Manager is closed).
func (m *Manager) closeSpares() {
	m.mu.Lock()
	ready := m.spares.ready
	m.spares.ready = nil
	m.spares.live -= len(ready)
	m.mu.Unlock()
	for _, sp := range ready {
		sp.discard(m.Logger)
	}
}

// startsFast reports whether an environment of cfg may be forked by a
// zygote or made from a spare, whose interpreter is running already: it
// has read the variables of its own start, and its loader the library path,
// once. A function that sets such a variable (PYTHON*, NODE_OPTIONS,
// NODE_EXTRA_CA_CERTS, LD_*) or brings libraries for the loader to find
// (in /var/task or /var/task/lib, or a layer's /opt/lib) starts by exec.
func startsFast(cfg *lambada.SandboxConfig) bool {
	for k := range cfg.Environment {
		if strings.HasPrefix(k, "PYTHON") || strings.HasPrefix(k, "LD_") || k == "NODE_OPTIONS" || k == "NODE_EXTRA_CA_CERTS" {
			return false
		}
	}
	if isDir(filepath.Join(cfg.CodeDir, "lib")) || (cfg.OptDir != "" && isDir(filepath.Join(cfg.OptDir, "lib"))) {
		return false
	}
	libs, _ := filepath.Glob(filepath.Join(cfg.CodeDir, "*.so*"))
	return len(libs) == 0
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
