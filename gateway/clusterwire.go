package gateway

import (
	"fmt"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/bertsync/bertsync/bert"
)

// The messages between the nodes of a cluster. protoactor's remote
// carries protobuf messages, and bertsync has no generated ones: each
// message is a BERT proplist (a clusterMsg) inside the well-known
// BytesValue.
//
// A forwarded request is a conversation between a reply actor on the
// routing node, which holds the client's connection, and the owner's
// clusterActorName actor. Each message is sent with the reply actor as
// its sender, which is how the owner tells the conversations apart:
//
//	router -> owner: req (once, first), ack (a data message has been
//	                 written to the client), cancel (the client hung up),
//	                 alive (every keep-alive interval)
//	owner -> router: data (the head in the first one, then body bytes),
//	                 end (the handler returned), alive

const (
	msgRequest = "req"
	msgAck     = "ack"
	msgCancel  = "cancel"
	msgAlive   = "alive"
	msgData    = "data"
	msgEnd     = "end"
)

// clusterMsg is every message of the conversation; Kind says which and
// which fields count.
type clusterMsg struct {
	Kind string `bert:"kind"`

	// req: the request as the client sent it, its body read whole.
	Method     string              `bert:"method,omitempty"`
	URI        string              `bert:"uri,omitempty"`
	Host       string              `bert:"host,omitempty"`
	Header     map[string][]string `bert:"header,omitempty"`
	Body       []byte              `bert:"body,omitempty"`
	RemoteAddr string              `bert:"remote,omitempty"`
	TLS        bool                `bert:"tls,omitempty"`

	// data: Seq counts the data messages from 1; the first has the
	// Status and Header (then Header is the response's); Flush asks the
	// router to flush after writing Data. ack: Seq is the data message
	// written.
	Seq    uint64 `bert:"seq,omitempty"`
	Status int    `bert:"status,omitempty"`
	Data   []byte `bert:"data,omitempty"`
	Flush  bool   `bert:"flush,omitempty"`

	// end: Err is set when the handler failed (panicked).
	Err string `bert:"err,omitempty"`
}

func (m *clusterMsg) wrap() (*wrapperspb.BytesValue, error) {
	b, err := bert.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("gateway: cluster message %s: %w", m.Kind, err)
	}
	return wrapperspb.Bytes(b), nil
}

func unwrapMsg(v *wrapperspb.BytesValue) (clusterMsg, error) {
	var m clusterMsg
	if err := (bert.UnmarshalOptions{Limits: bert.Limits{MaxSize: maxClusterMessage}}).Unmarshal(v.GetValue(), &m); err != nil {
		return m, fmt.Errorf("gateway: cluster message: %w", err)
	}
	return m, nil
}
