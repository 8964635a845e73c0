// Package lambada is the vocabulary of Lambada, a self-hosted, AWS
// Lambda-compatible function platform.
//
// A tour of the system, from the outside in:
//
//   - lambdaapi serves the Lambda REST API (2015-03-31 …). It decodes and
//     validates requests with the parsers in this package, calls the control
//     plane or the invocation service, and is the one place that turns an
//     [Error] into an HTTP status, an x-amzn-ErrorType header and a JSON body.
//   - invoke runs one synchronous invocation: resolve the qualifier, admit it,
//     acquire an execution environment, deliver the event, await the result,
//     release.
//   - sandbox owns execution environments: one process group each, started with
//     Lambda's environment, serving its own Runtime API (package runtimeapi),
//     with its output captured per invocation, and a pool per function version.
//     An environment's life is a pure state machine under a thin shell; it
//     reports when an invocation no longer holds it, and invoke frees the
//     invocation's concurrency then. walls keeps each one in (its memory).
//   - jetstream stores functions in a NATS JetStream key-value bucket and code
//     archives in an object store; inmem is the in-memory fake used by unit
//     tests; codecache checks an archive and unpacks it once per SHA-256.
//   - deploy finishes what the control plane starts: a new function is
//     Pending, an update InProgress, until its code is ready on the node
//     (see Status for the states and their transitions).
//   - In a cluster, nodes share one JetStream store. Each admits its share
//     of every limit ([Members], [LeaseUntil]) while its heartbeats keep its
//     lease (jetstream.Members), and relay carries an invocation to the node
//     with a warm environment, or to one with a share left ([RunTarget]).
//   - cmd/lambada wires it all: `lambada serve`, `lambada invoke`.
//
// This package holds the nouns (Function, FunctionConfig, Status, FunctionRef,
// Invocation, Result, tags), their validation, the store interfaces the adapters
// implement, and Error. It uses the standard library only, starts no
// goroutines and does no I/O.
package lambada
