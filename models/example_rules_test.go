package models_test

import (
	"fmt"

	"github.com/bertsync/bertsync/models"
)

// A rules file lets anyone read messages, signed-in callers post them and
// only their authors change them; notes are private to their authors.
// Every other type is closed, since "*" names nothing else.
func ExampleParseRules() {
	rules, err := models.ParseRules([]byte(`{
		"*":       {"read": "public"},
		"message": {"create": "authenticated", "update": "owner", "delete": "owner", "subscribe": "public"},
		"note":    {"create": "owner", "read": "owner", "owner_field": "author"}
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	anonymous, ann := models.Caller{}, models.Caller{Subject: "ann"}
	for _, req := range []struct {
		model  string
		method models.Method
		caller models.Caller
	}{
		{"message", models.Read, anonymous},
		{"message", models.Create, anonymous},
		{"message", models.Create, ann},
		{"message", models.Patch, ann},
		{"note", models.Read, ann},
		{"character", models.Read, anonymous},
		{"character", models.Delete, ann},
	} {
		who := "anonymous"
		if !req.caller.Anonymous() {
			who = req.caller.Subject
		}
		err := rules.Check(req.model, req.method, req.caller)
		fmt.Printf("%s %s by %s: %s (%v)\n", req.method, req.model, who, rules.Access(req.model, req.method), err)
	}
	fmt.Println("note owner field:", rules.OwnerField("note"), rules.UsesOwner("note"))

	_, err = models.ParseRules([]byte(`{"message": {"read": "public", "read": "none"}}`))
	fmt.Println(err)
	// Output:
	// read message by anonymous: public (<nil>)
	// create message by anonymous: authenticated (unauthorized: create of "message" needs an authenticated caller)
	// create message by ann: authenticated (<nil>)
	// patch message by ann: none (forbidden: patch of "message" is not allowed)
	// read note by ann: owner (<nil>)
	// read character by anonymous: public (<nil>)
	// delete character by ann: none (forbidden: delete of "character" is not allowed)
	// note owner field: author true
	// models: rules: line 1: "message": "read" is named twice (first on line 1)
}
