package cluster

import (
	"fmt"
	"net"
	"strconv"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
)

// The gRPC settings of the remote. A batch of the endpoint writer is one
// gRPC message holding up to remoteBatch messages, and gRPC refuses
// received messages above 4 MiB by default: a few forwarded POST bodies
// (up to MaxRemoteMessage each) in one batch would pass it and break the
// connection between two nodes.
const (
	// MaxRemoteMessage is the largest message the cluster's users should
	// send between nodes, in bytes.
	MaxRemoteMessage = 8 << 20
	remoteBatch      = 16
	maxRecv          = remoteBatch*MaxRemoteMessage + 1<<20
)

// StartRemote starts protoactor's remote on as, listening on addr
// (host:port; port 0 picks a free one), and returns it with the address
// the other nodes reach it at: addr's host with the port bound, or
// advertise when not empty. It raises gRPC's receive limit so that the
// cluster's messages fit (see MaxRemoteMessage), and returns an error
// where remote.Start would panic on a port that cannot be bound.
//
// Start one remote per process, before any gRPC traffic: remote.Start
// sets gRPC's global logger, which gRPC's goroutines read unguarded.
func StartRemote(as *actor.ActorSystem, addr, advertise string) (*remote.Remote, string, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, "", fmt.Errorf("cluster: remote address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return nil, "", fmt.Errorf("cluster: remote address %q: bad port", addr)
	}
	if port == 0 {
		// Bind to learn a free port, then let the remote bind it: the
		// remote takes no listener of ours.
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, "", fmt.Errorf("cluster: remote address %q: %w", addr, err)
		}
		port = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	opts := []remote.ConfigOption{
		remote.WithServerOptions(grpc.MaxRecvMsgSize(maxRecv)),
		remote.WithEndpointWriterBatchSize(remoteBatch),
	}
	if advertise != "" {
		opts = append(opts, remote.WithAdvertisedHost(advertise))
	}
	r := remote.NewRemote(as, remote.Configure(host, port, opts...))
	if err := startRemote(r); err != nil {
		return nil, "", fmt.Errorf("cluster: remote on %s: %w", net.JoinHostPort(host, strconv.Itoa(port)), err)
	}
	return r, as.Address(), nil
}

// startRemote runs r.Start, which panics when it cannot listen.
func startRemote(r *remote.Remote) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	r.Start()
	return nil
}
