// Package models is the API Go users register model types with, the
// generic document model that serves every other type, and its stores.
//
// A model type is the Go counterpart of an Erlang module with a
// sync(Method, Props) function: a [Handler] gets each create, read,
// update, patch and delete of its type as a [Request] and returns the reply
// message or an error whose [Code] the client sees.
package models
