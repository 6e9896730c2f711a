package models

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestErrors(t *testing.T) {
	wrapped := fmt.Errorf("character %q: %w", "7", ErrNotFound)
	tests := []struct {
		name     string
		err      error
		wantCode Code
		wantMsg  string
		is       error
	}{
		{"sentinel", ErrConflict, CodeConflict, "conflict", ErrConflict},
		{"wrapped sentinel", wrapped, CodeNotFound, `character "7": not found`, ErrNotFound},
		{"Errorf", Errorf(CodeForbidden, "no %s", "entry"), CodeForbidden, "no entry", ErrForbidden},
		{"Errorf with cause", Errorf(CodeBadRequest, "bind: %w", io.ErrUnexpectedEOF), CodeBadRequest, "bind: unexpected EOF", io.ErrUnexpectedEOF},
		{"plain error", io.EOF, CodeInternal, "internal error", io.EOF},
		{"wrapped plain error", fmt.Errorf("open /secret/path: %w", io.EOF), CodeInternal, "internal error", io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CodeOf(tt.err); got != tt.wantCode {
				t.Errorf("CodeOf = %q, want %q", got, tt.wantCode)
			}
			if got := MessageOf(tt.err); got != tt.wantMsg {
				t.Errorf("MessageOf = %q, want %q", got, tt.wantMsg)
			}
			if !errors.Is(tt.err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", tt.err, tt.is)
			}
		})
	}
	if errors.Is(ErrNotFound, ErrConflict) {
		t.Error("ErrNotFound is ErrConflict")
	}
	if MessageOf(nil) != "" {
		t.Error("MessageOf(nil) is not empty")
	}
}
