package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"

	"github.com/bertsync/bertsync/actors"
	"github.com/bertsync/bertsync/internal/cluster"
	"github.com/bertsync/bertsync/internal/metrics"
	"github.com/bertsync/bertsync/models"
)

// The store of [ListenAndServe], and with a PostgreSQL one the node's
// place among the others (DESIGN §7): its remote at ClusterAddr, its row
// in the nodes table, the signed session ids, and the tail that brings
// the other nodes' events to this node's subscribers.

// servedStore is the store ListenAndServe serves from.
type servedStore struct {
	docs models.DocumentStore
	// pg is the PostgreSQL store, nil for bbolt.
	pg *models.PGStore
	// where names the store in logs: the bbolt file, or the database.
	where string
}

// openServedStore opens the store cfg names: PostgreSQL at cfg.Store, or
// the bbolt file in cfg.DataDir.
func openServedStore(ctx context.Context, cfg ServeConfig, scfg models.StoreConfig) (*servedStore, error) {
	if cfg.Store == "" {
		path := filepath.Join(cfg.DataDir, storeFile)
		store, err := models.OpenStoreWith(path, scfg)
		if err != nil {
			return nil, err
		}
		return &servedStore{docs: store, where: path}, nil
	}
	pg, err := models.OpenPostgres(ctx, cfg.Store, models.PGConfig{StoreConfig: scfg})
	if err != nil {
		return nil, err
	}
	return &servedStore{docs: pg, pg: pg, where: "postgresql"}, nil
}

// clusterSeat is this node's part in the cluster, while it serves.
type clusterSeat struct {
	remote  *remote.Remote
	members *cluster.Membership
	gw      *Cluster
	log     *slog.Logger

	stopTail context.CancelFunc
	tailDone chan struct{}
}

// joinCluster starts the remote at cfg.ClusterAddr, joins the nodes table
// as this node, and makes the gateway's cluster side; the caller sets
// Gateway.Cluster and Gateway.Files from it.
func joinCluster(ctx context.Context, cfg ServeConfig, pg *models.PGStore, httpAddr net.Addr, m *metrics.Metrics) (*clusterSeat, error) {
	log := cfg.Logger
	as := actor.NewActorSystem(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return log.With("part", "cluster") }),
		actor.WithMetricProviders(nil),
		actor.WithDeadLetterRequestLogging(false),
	)
	r, addr, err := cluster.StartRemote(as, cfg.ClusterAddr, "")
	if err != nil {
		return nil, fmt.Errorf("gateway: cluster: %w", err)
	}
	n := &clusterSeat{remote: r, log: log}
	members, err := cluster.Join(ctx, pg.Pool(), cluster.Node{ID: pg.Node(), ClusterAddr: addr, HTTPAddr: httpAddr.String()},
		cluster.Config{Logger: log, OnView: m.SetNodesAlive})
	if err != nil {
		r.Shutdown(false)
		return nil, fmt.Errorf("gateway: cluster: %w", err)
	}
	n.members = members
	key, err := cluster.SessionKey(ctx, pg.Pool())
	if err == nil {
		n.gw, err = NewCluster(as, ClusterConfig{Members: members, Key: key, Logger: log})
	}
	if err != nil {
		n.leave()
		return nil, fmt.Errorf("gateway: cluster: %w", err)
	}
	return n, nil
}

// tail delivers the other nodes' events after start to sys's subscribers
// until stop.
func (n *clusterSeat) tail(pg *models.PGStore, start models.TailStart, sys *actors.System) {
	ctx, cancel := context.WithCancel(context.Background())
	n.stopTail, n.tailDone = cancel, make(chan struct{})
	go func() {
		defer close(n.tailDone)
		err := pg.Tail(ctx, start, func(model string, events []models.Event, lost int64) {
			if lost > 0 {
				sys.StreamLost(model, lost)
			}
			sys.DeliverEvents(model, events)
		})
		if err != nil && !errors.Is(err, context.Canceled) {
			n.log.Error("cluster: the tail of the other nodes' events stopped", "err", err)
		}
	}()
}

// leave ends this node's part: after the gateway and the actors have shut
// down, before the store closes.
func (n *clusterSeat) leave() {
	if n.stopTail != nil {
		n.stopTail()
		<-n.tailDone
	}
	if n.gw != nil {
		n.gw.Close()
	}
	if n.members != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := n.members.Leave(ctx); err != nil {
			n.log.Warn("cluster: leaving the nodes table", "err", err)
		}
		cancel()
	}
	n.remote.Shutdown(false) // a graceful gRPC stop waits for connected peers, up to 10 s
}
