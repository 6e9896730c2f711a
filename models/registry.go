package models

import (
	"fmt"
	"slices"
	"sync"
)

// Registry maps model type names to the Go handlers that serve them.
//
// A Registry is safe for concurrent use: Register may be called while
// other goroutines call Lookup or Names, though the usual pattern is to
// register every type at startup and only look them up afterwards.
type Registry struct {
	mu       sync.RWMutex
	handlers map[string]Handler
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry {
	return &Registry{handlers: make(map[string]Handler)}
}

// Register makes h the handler of model type name. It is an error to
// register an empty name, a name longer than [MaxModelNameSize], a nil
// handler, or a name twice.
func (r *Registry) Register(name string, h Handler) error {
	if err := checkModelName(name); err != nil {
		return fmt.Errorf("models: register %q: %w", name, err)
	}
	if h == nil {
		return fmt.Errorf("models: register %q: nil handler", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.handlers[name]; dup {
		return fmt.Errorf("models: register %q: already registered", name)
	}
	r.handlers[name] = h
	return nil
}

// Lookup returns the handler of model type name and whether there is one.
// A nil *Registry has no handlers.
func (r *Registry) Lookup(name string) (Handler, bool) {
	if r == nil {
		return nil, false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	h, ok := r.handlers[name]
	return h, ok
}

// Names returns the registered model type names in sorted order.
func (r *Registry) Names() []string {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	names := make([]string, 0, len(r.handlers))
	for name := range r.handlers {
		names = append(names, name)
	}
	r.mu.RUnlock()
	slices.Sort(names)
	return names
}
