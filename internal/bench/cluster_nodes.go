package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// clusterNode is one `bertsync serve` child process of the cluster phase.
type clusterNode struct {
	name    string // "node 1", for messages
	addr    string // HTTP host:port, from its listening line
	cluster string // its --cluster-addr
	data    string // its --data directory (removed by stop)
	cmd     *exec.Cmd
	log     *logWatch
	done    chan struct{} // closed when the process has exited
	waitErr error
}

// url is the node's Bullet endpoint.
func (n *clusterNode) url() string { return "ws://" + n.addr + "/bullet" }

// nodeShutdown is the --shutdown-timeout of the nodes: the bench has
// closed its connections before it stops them, so there is nothing to
// wait for.
const nodeShutdown = "2s"

// startNode runs `exe serve` on 127.0.0.1:0 with its own temporary data
// directory and cluster address, on the PostgreSQL database store, and
// waits for its listening line.
func startNode(ctx context.Context, cfg Config, name, store string) (*clusterNode, error) {
	data, err := os.MkdirTemp("", "bertsync-bench-node-")
	if err != nil {
		return nil, err
	}
	clusterAddr, err := freeAddr()
	if err != nil {
		os.RemoveAll(data)
		return nil, err
	}
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--store", store,
		"--cluster-addr", clusterAddr, "--shutdown-timeout", nodeShutdown}, cfg.NodeArgs...)
	n := &clusterNode{name: name, cluster: clusterAddr, data: data, log: newLogWatch(), done: make(chan struct{})}
	// Not CommandContext: stop ends the node, gently first.
	n.cmd = exec.Command(cfg.Executable, args...)
	n.cmd.Env = cleanEnv()
	n.cmd.Stdout = n.log
	n.cmd.Stderr = n.log
	// No node outlives a bench that dies, where the system can see to it.
	n.cmd.SysProcAttr = childProcAttr()
	if err := n.cmd.Start(); err != nil {
		os.RemoveAll(data)
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	go func() {
		n.waitErr = n.cmd.Wait()
		close(n.done)
	}()
	select {
	case n.addr = <-n.log.addr:
		return n, nil
	case <-n.done:
		n.stop()
		return nil, fmt.Errorf("%s exited before listening (%v): %s\n%s", name, n.waitErr, strings.Join(n.cmd.Args, " "), n.log.tail())
	case <-ctx.Done():
		n.stop()
		return nil, ctx.Err()
	case <-time.After(phaseTimeout):
		n.stop()
		return nil, fmt.Errorf("%s did not log msg=listening within %v: %s", name, phaseTimeout, n.log.tail())
	}
}

// stop ends the node with SIGTERM, or SIGKILL after phaseTimeout, and
// removes its data directory. It returns the node's failure, if it exited
// with one.
func (n *clusterNode) stop() error {
	defer os.RemoveAll(n.data)
	select {
	case <-n.done:
	default:
		n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.done:
		case <-time.After(phaseTimeout):
			n.cmd.Process.Kill()
			<-n.done
			return fmt.Errorf("%s did not stop within %v of SIGTERM", n.name, phaseTimeout)
		}
	}
	if n.waitErr != nil {
		return fmt.Errorf("%s: %w: %s", n.name, n.waitErr, n.log.tail())
	}
	return nil
}

// exited reports, without waiting, why the node is gone (nil: running),
// for error messages of a run that lost a node.
func (n *clusterNode) exited() error {
	select {
	case <-n.done:
		return fmt.Errorf("%s exited (%v): %s", n.name, n.waitErr, n.log.tail())
	default:
		return nil
	}
}

// startNodes starts count nodes on store, named prefix 1 … prefix count,
// one after the other.
func startNodes(ctx context.Context, cfg Config, prefix, store string, count int) ([]*clusterNode, error) {
	var nodes []*clusterNode
	for i := range count {
		n, err := startNode(ctx, cfg, fmt.Sprintf("%s%d", prefix, i+1), store)
		if err != nil {
			stopNodes(nodes)
			return nil, err
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}

// stopNodes stops every node and joins their failures.
func stopNodes(nodes []*clusterNode) error {
	var errs []error
	for _, n := range nodes {
		errs = append(errs, n.stop())
	}
	return errors.Join(errs...)
}

// nodesGone joins what exited() says of each node: why a run against
// them failed, when a node died.
func nodesGone(nodes []*clusterNode) error {
	var errs []error
	for _, n := range nodes {
		errs = append(errs, n.exited())
	}
	return errors.Join(errs...)
}

// freeAddr is a 127.0.0.1 address whose port was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// cleanEnv is this process's environment without BERTSYNC_* variables,
// so that the caller's settings do not change the nodes' flags.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BERTSYNC_") {
			env = append(env, kv)
		}
	}
	return env
}
