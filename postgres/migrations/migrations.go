// Package migrations holds the schema migrations (goose, SQL), embedded:
// dbinit applies them, the services' tests bootstrap throwaway databases
// with them, and infra hashes them into the schema custom resource so that
// a changed migration runs dbinit again. It imports only the standard
// library, so infra reads them without pulling in the database driver.
package migrations

import "embed"

// FS holds the migration files at its root, as goose expects them.
//
//go:embed *.sql
var FS embed.FS
