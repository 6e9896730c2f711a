package models

import "context"

// Caller is who sent a request, as the server's authentication found out
// (DESIGN §6). The zero Caller is anonymous: a client that presented no
// credentials.
type Caller struct {
	// Subject is the caller's identity: a JWT's sub claim, or whatever a
	// program's own authentication names its users by. Empty means
	// anonymous.
	Subject string
	// Claims are the verified token's claims, or what a program's own
	// authentication attached; nil for anonymous callers. They are
	// shared: handlers must not modify them.
	Claims map[string]any
}

// Anonymous reports whether c has no identity.
func (c Caller) Anonymous() bool { return c.Subject == "" }

// Guard is a [Handler] that also decides who may call its model type.
// The model actor asks Allow before every request of every method,
// subscribe, unsubscribe and broadcast included (which never reach
// Sync), after the access rules allowed it. An error refuses the request
// with its code ([ErrForbidden], [ErrUnauthorized], [ErrNotFound] …);
// unsubscribe is always allowed whatever Allow says, so that a client
// can always stop listening.
type Guard interface {
	Handler
	Allow(ctx context.Context, req Request) error
}
