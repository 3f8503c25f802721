package clustertest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Nginx is an nginx of the caller's own, running a site configuration
// (such as deploy/nginx.conf) inside a minimal main configuration, in a
// temporary folder.
type Nginx struct {
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// StartNginx runs nginx with site as the http block's only server, and
// waits until addr accepts TLS.
func StartNginx(site, addr string) (*Nginx, error) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, err2 := os.Stat("/usr/sbin/nginx"); err2 != nil {
			return nil, errors.New("no nginx on $PATH or in /usr/sbin")
		}
		bin = "/usr/sbin/nginx"
	}
	dir, err := os.MkdirTemp("", "tessera-nginx")
	if err != nil {
		return nil, err
	}
	user := ""
	if os.Geteuid() == 0 {
		// Workers would otherwise switch to nobody, who cannot use this
		// root-owned temporary folder.
		user = "user root;"
	}
	main := fmt.Sprintf(`%s
daemon off;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %[2]s/client_body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    include %[2]s/site.conf;
}
`, user, dir)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(main), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "site.conf"), []byte(site), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cmd := exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"))
	out, _ := os.Create(filepath.Join(dir, "stderr"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	out.Close()
	n := &Nginx{dir: dir, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(n.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err == nil {
			c.Close()
			return n, nil
		}
		select {
		case <-n.done:
			b, _ := os.ReadFile(filepath.Join(dir, "stderr"))
			e, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			os.RemoveAll(dir)
			return nil, fmt.Errorf("nginx exited: %s%s", b, e)
		default:
		}
		if time.Now().After(deadline) {
			n.Close()
			return nil, fmt.Errorf("nginx does not accept TLS on %s after 10s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Dir is nginx's folder (for certificates the site names).
func (n *Nginx) Dir() string { return n.dir }

// Close stops nginx and removes its folder.
func (n *Nginx) Close() {
	n.cmd.Process.Signal(os.Interrupt)
	select {
	case <-n.done:
	case <-time.After(5 * time.Second):
		n.cmd.Process.Kill()
		<-n.done
	}
	os.RemoveAll(n.dir)
}

// Log is nginx's error log so far.
func (n *Nginx) Log() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "error.log"))
	return strings.TrimSpace(string(b))
}
