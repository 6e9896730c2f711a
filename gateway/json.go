package gateway

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/models"
	"github.com/bertsync/bertsync/models/jsonterm"
)

// REST request bodies: JSON mapped to terms by package jsonterm, which
// must be an object, the model's attributes.

// parseJSONProps decodes a request body that must be a JSON object into
// Props, keeping the order of its keys. Empty data is an empty object.
func parseJSONProps(data []byte) (models.Props, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return models.Props{}, nil
	}
	v, err := jsonterm.Parse(data)
	if err != nil {
		return nil, badJSON(err)
	}
	l, ok := v.(bert.List)
	if !ok {
		return nil, badJSON(fmt.Errorf("the body is %s, want a JSON object", jsonKind(v)))
	}
	// Parse makes tuples of object members only: a list of anything else
	// was an array.
	if len(l) > 0 {
		if _, member := l[0].(bert.Tuple); !member {
			return nil, badJSON(errors.New("the body is an array, want a JSON object"))
		}
	}
	return models.ParseProps(l)
}

// badJSON is a bad_request error for a body the mapping refuses: the
// client sees what is wrong and where, without the package's name.
func badJSON(err error) error {
	if pe, ok := errors.AsType[*jsonterm.ParseError](err); ok {
		return &models.Error{
			Code:    models.CodeBadRequest,
			Message: fmt.Sprintf("bad JSON at offset %d: %v", pe.Offset, pe.Err),
			Err:     pe,
		}
	}
	return models.Errorf(models.CodeBadRequest, "bad JSON: %w", err)
}

// jsonKind names the JSON kind of a parsed value for error messages.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case []byte:
		return "a string"
	case bert.List:
		return "an array"
	default:
		return "a number"
	}
}
