// Package database is the contract between the Aurora cluster that infra
// creates and the services that connect to it: the port, the database's
// name, the roles dbinit creates, and the environment variables through
// which infra tells a function or task where to connect and as whom. It
// imports nothing outside the standard library, so infra and the services
// both use it without pulling in each other's dependencies (README,
// "Repository layout").
package database

import "strconv"

// Port is PostgreSQL's port on the cluster.
const Port = 5432

// Name is the database the cluster creates; the schema lives in it.
const Name = "payments"

// The roles dbinit creates. Each logs in with an IAM authentication token
// (rds_iam) and no password.
const (
	// AppRole is the services' role (the API, the processor).
	AppRole = "payments_app"
	// RegistrarRole is the merchant-key manager's, the only writer of the
	// merchant registry.
	RegistrarRole = "payments_registrar"
	// AuditorRole reads the payment history for the audit function.
	AuditorRole = "payments_auditor"
)

// The environment variables that carry the connection.
const (
	EnvWriterHost = "DATABASE_WRITER_HOST"
	EnvReaderHost = "DATABASE_READER_HOST" // the API only; default the writer
	EnvPort       = "DATABASE_PORT"
	EnvName       = "DATABASE_NAME"
	EnvUser       = "DATABASE_USER"
	// EnvMaxConns sizes the API's pools (per pool; the API only).
	EnvMaxConns = "DATABASE_MAX_CONNS"
	// EnvURL is a connection string with its own credentials, instead of
	// the variables above and IAM authentication: the platform on one
	// machine (package local) and tests, never AWS.
	EnvURL = "DATABASE_URL"
)

// Environment is what a function or task connecting to the writer as role
// needs in its environment.
func Environment(writerHost, role string) map[string]string {
	return map[string]string{EnvWriterHost: writerHost, EnvPort: strconv.Itoa(Port), EnvName: Name, EnvUser: role}
}
