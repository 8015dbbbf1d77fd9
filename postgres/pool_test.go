package postgres_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/fintech/payments-platform/database"
	"github.com/fintech/payments-platform/postgres"
)

// What infra writes into a function's environment (database.Environment,
// through infra's Database.Environment) is what the function's pool reads.
func TestIAMPoolConfigReadsTheContract(t *testing.T) {
	env := database.Environment("writer.cluster.example", database.AuditorRole)
	got, err := postgres.IAMPoolConfig(func(k string) string { return env[k] }, "ap-southeast-1", aws.AnonymousCredentials{}, 4)
	if err != nil {
		t.Fatal(err)
	}
	if got.Host != "writer.cluster.example" || got.Port != database.Port || got.Database != database.Name || got.User != database.AuditorRole || got.MaxConns != 4 {
		t.Errorf("got %+v", got)
	}
	t.Run("ErrIncomplete", func(t *testing.T) {
		delete(env, database.EnvName)
		if _, err := postgres.IAMPoolConfig(func(k string) string { return env[k] }, "ap-southeast-1", aws.AnonymousCredentials{}, 4); err == nil {
			t.Fatal("accepted an environment without the database name")
		}
	})
}
