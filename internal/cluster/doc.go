// Package cluster is what the nodes of one bertsync service know of each
// other (docs/cluster.md, DESIGN.md §7): which nodes are alive, where
// their protoactor remotes listen, and the key that signs session ids so
// that any node can tell which node holds a session.
//
// Membership lives in the database every node already shares: each node
// keeps a row of the table nodes up to date with a heartbeat, and a node
// whose heartbeat is older than [Config].Timeout, by the database's clock,
// is dead. No list of peers is configured and no consensus protocol runs:
// the database is the one place every node agrees on. A node that stops
// gracefully deletes its row ([Membership.Leave]); the row of one that
// died is deleted by whichever node sees it dead for long.
//
// A session id ([NewSessionID]) names its node and carries an HMAC-SHA256
// under the key all nodes share ([SessionKey]), so a client can neither
// forge one nor point its session at another node.
//
// The package uses only pgx and protoactor-go; it knows nothing of the
// gateway, the actors or the models.
package cluster
