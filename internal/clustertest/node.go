package clustertest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Node is one `tessera serve` process. Its ports stay the same across
// restarts, as a node behind a load balancer keeps its address.
type Node struct {
	Name          string
	Public, Admin string // base URLs, http://127.0.0.1:PORT
	// Banner is what serve printed on stdout at its last start, up to
	// "ready".
	Banner string

	bin, data string
	env, args []string
	log       *os.File

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// NodeConfig is what every node of a cluster shares.
type NodeConfig struct {
	Binary string
	// Dir holds the nodes' data folders and logs.
	Dir string
	// Env is added to the process environment: TESSERA_* settings such as
	// TESSERA_STORE, TESSERA_ADMIN_TOKEN, TESSERA_MASTER_KEY.
	Env []string
	// Args are added to `tessera serve`'s command line, such as
	// --config FILE.
	Args []string
}

var addrRE = regexp.MustCompile(`(public|admin) API\s+https?://(\S+)`)

// StartNode starts a node named name on free loopback ports and waits
// until it says it is ready.
func StartNode(cfg NodeConfig, name string) (*Node, error) {
	// Both listeners stay open until both ports are known, so the two
	// cannot be the same port.
	l1, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		l1.Close()
		return nil, err
	}
	pub, adm := l1.Addr().String(), l2.Addr().String()
	l1.Close()
	l2.Close()
	data := filepath.Join(cfg.Dir, name)
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	log, err := os.OpenFile(filepath.Join(cfg.Dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	n := &Node{Name: name, Public: "http://" + pub, Admin: "http://" + adm, bin: cfg.Binary, data: data, env: cfg.Env, args: cfg.Args, log: log}
	if err := n.Start(); err != nil {
		log.Close()
		return nil, err
	}
	return n, nil
}

// Start starts the node's process again (after Kill or Stop) on its ports.
func (n *Node) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		return fmt.Errorf("%s is running", n.Name)
	}
	var err error
	// A port freed by a killed process can take a moment to bind again.
	for try := 0; try < 20; try++ {
		if err = n.start(); err == nil || !strings.Contains(err.Error(), "address already in use") {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

func (n *Node) start() error {
	cmd := exec.Command(n.bin, "serve", "--data", n.data,
		"--listen", strings.TrimPrefix(n.Public, "http://"),
		"--admin-listen", strings.TrimPrefix(n.Admin, "http://"))
	cmd.Args = append(cmd.Args, n.args...)
	cmd.Env = append(os.Environ(), n.env...)
	fmt.Fprintf(n.log, "=== %s: start %s\n", time.Now().UTC().Format(time.RFC3339Nano), n.Name)
	from, _ := n.log.Seek(0, io.SeekCurrent)
	cmd.Stderr = n.log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	ready := make(chan bool, 1)
	var banner bytes.Buffer
	go func() {
		sc := bufio.NewScanner(stdout)
		said := false
		for sc.Scan() {
			line := sc.Text()
			if !said {
				banner.WriteString(line + "\n")
				if strings.HasPrefix(line, "  ready") {
					said = true
					ready <- true
				}
			}
		}
		if !said {
			ready <- false
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() { cmd.Wait(); close(done) }()
	select {
	case ok := <-ready:
		if !ok {
			<-done
			b, _ := os.ReadFile(n.log.Name())
			return fmt.Errorf("%s exited before it was ready: %s\n%s%s", n.Name, cmd.ProcessState, banner.String(), b[min(int(from), len(b)):])
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("%s not ready after 30s (log: %s)", n.Name, n.log.Name())
	}
	// The banner names the addresses the node listens on: they must be ours.
	for _, m := range addrRE.FindAllStringSubmatch(banner.String(), -1) {
		want := n.Public
		if m[1] == "admin" {
			want = n.Admin
		}
		if "http://"+m[2] != want {
			cmd.Process.Kill()
			<-done
			return fmt.Errorf("%s listens on %s, want %s", n.Name, m[2], want)
		}
	}
	n.cmd, n.done, n.Banner = cmd, done, banner.String()
	return nil
}

// Kill ends the process with SIGKILL (kill -9: no shutdown, no flush) and
// waits until it is gone.
func (n *Node) Kill() error {
	return n.signal(func(p *os.Process) error { return p.Kill() })
}

// Stop ends the process with SIGTERM (graceful) and waits until it is gone.
func (n *Node) Stop() error {
	return n.signal(func(p *os.Process) error { return p.Signal(os.Interrupt) })
}

func (n *Node) signal(send func(*os.Process) error) error {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.cmd, n.done = nil, nil
	n.mu.Unlock()
	if cmd == nil {
		return nil
	}
	if err := send(cmd.Process); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-done:
		return nil
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("%s did not stop within 15s", n.Name)
	}
}

// Close kills the process if it runs and closes its log.
func (n *Node) Close() {
	n.Kill()
	n.log.Close()
}

// LogFile is the path of the node's stderr (its JSON log).
func (n *Node) LogFile() string { return n.log.Name() }

// FreePort returns a loopback host:port nothing listens on right now.
func FreePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
