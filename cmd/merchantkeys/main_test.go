package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	agtypes "github.com/aws/aws-sdk-go-v2/service/apigateway/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/fintech/payments-platform/environment"
	"github.com/fintech/payments-platform/gateway"
	"github.com/fintech/payments-platform/merchantadmin"
	"github.com/fintech/payments-platform/payments"
	"github.com/fintech/payments-platform/postgres"
	"github.com/fintech/payments-platform/postgres/pgtest"
)

var server *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.RunTests(m, &server)) }

const (
	functionArn   = "arn:aws:lambda:ap-southeast-1:123456789012:function:payments-merchant-keys-t"
	secretsKeyArn = "arn:aws:kms:ap-southeast-1:123456789012:key/secrets"
)

// fakeSecret is one secret as Secrets Manager keeps it: versions with
// values and stages, rotation, tags, a resource policy.
type fakeSecret struct {
	name, arn   string
	tags        []smtypes.Tag
	values      map[string]string   // version -> value
	stages      map[string][]string // version -> stages
	rotation    bool
	lastRotated *time.Time
	policy      string
}

// fakeSecrets enforces what the function's IAM policy allows: creating
// only secrets tagged with the environment under its prefix.
type fakeSecrets struct {
	byName    map[string]*fakeSecret
	rotations []*secretsmanager.RotateSecretInput
	puts      int
	versions  int
}

func newFakeSecrets() *fakeSecrets { return &fakeSecrets{byName: map[string]*fakeSecret{}} }

func (f *fakeSecrets) get(id string) (*fakeSecret, error) {
	for _, s := range f.byName {
		if s.name == id || s.arn == id {
			return s, nil
		}
	}
	return nil, &smtypes.ResourceNotFoundException{Message: aws.String("no secret " + id)}
}

func (f *fakeSecrets) CreateSecret(_ context.Context, in *secretsmanager.CreateSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	name := aws.ToString(in.Name)
	if !strings.HasPrefix(name, "payments/t/merchants/") || !hasTag(in.Tags, environment.TagEnvironment, "t") || aws.ToString(in.KmsKeyId) != secretsKeyArn {
		return nil, errors.New("AccessDenied: the secret's name, tags or key")
	}
	if _, ok := f.byName[name]; ok {
		return nil, &smtypes.ResourceExistsException{Message: aws.String("exists")}
	}
	f.versions++
	v := fmt.Sprint("initial-", f.versions)
	f.byName[name] = &fakeSecret{name: name, arn: "arn:aws:secretsmanager:ap-southeast-1:123456789012:secret:" + name + "-AbCdEf", tags: in.Tags,
		values: map[string]string{v: aws.ToString(in.SecretString)}, stages: map[string][]string{v: {stageCurrent}}}
	return &secretsmanager.CreateSecretOutput{Name: in.Name}, nil
}

func (f *fakeSecrets) DescribeSecret(_ context.Context, in *secretsmanager.DescribeSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	s, err := f.get(aws.ToString(in.SecretId))
	if err != nil {
		return nil, err
	}
	copyStages := map[string][]string{}
	for v, st := range s.stages {
		copyStages[v] = slices.Clone(st)
	}
	return &secretsmanager.DescribeSecretOutput{Name: &s.name, ARN: &s.arn, RotationEnabled: aws.Bool(s.rotation),
		VersionIdsToStages: copyStages, LastRotatedDate: s.lastRotated, Tags: s.tags}, nil
}

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	s, err := f.get(aws.ToString(in.SecretId))
	if err != nil {
		return nil, err
	}
	v := aws.ToString(in.VersionId)
	if v == "" {
		for version, st := range s.stages {
			if slices.Contains(st, aws.ToString(in.VersionStage)) {
				v = version
			}
		}
	}
	value, ok := s.values[v]
	if !ok || !slices.Contains(s.stages[v], aws.ToString(in.VersionStage)) {
		return nil, &smtypes.ResourceNotFoundException{Message: aws.String("no such version")}
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: &value, VersionId: &v}, nil
}

func (f *fakeSecrets) PutSecretValue(_ context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	s, err := f.get(aws.ToString(in.SecretId))
	if err != nil {
		return nil, err
	}
	v := aws.ToString(in.ClientRequestToken)
	if old, ok := s.values[v]; ok && old != aws.ToString(in.SecretString) {
		return nil, &smtypes.ResourceExistsException{Message: aws.String("a version with this token has other content")}
	}
	f.puts++
	s.values[v] = aws.ToString(in.SecretString)
	s.stages[v] = in.VersionStages
	return &secretsmanager.PutSecretValueOutput{}, nil
}

func (f *fakeSecrets) UpdateSecretVersionStage(_ context.Context, in *secretsmanager.UpdateSecretVersionStageInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	s, err := f.get(aws.ToString(in.SecretId))
	if err != nil {
		return nil, err
	}
	to, from := aws.ToString(in.MoveToVersionId), aws.ToString(in.RemoveFromVersionId)
	if !slices.Contains(s.stages[from], stageCurrent) {
		return nil, errors.New("RemoveFromVersionId does not hold AWSCURRENT")
	}
	for v, st := range s.stages { // AWSPREVIOUS moves to the version losing AWSCURRENT
		s.stages[v] = slices.DeleteFunc(st, func(x string) bool { return x == stagePrevious })
	}
	s.stages[from] = append(slices.DeleteFunc(s.stages[from], func(x string) bool { return x == stageCurrent }), stagePrevious)
	s.stages[to] = append(slices.DeleteFunc(s.stages[to], func(x string) bool { return x == stagePending }), stageCurrent)
	now := time.Now()
	s.lastRotated = &now
	return &secretsmanager.UpdateSecretVersionStageOutput{}, nil
}

func (f *fakeSecrets) RotateSecret(_ context.Context, in *secretsmanager.RotateSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.RotateSecretOutput, error) {
	s, err := f.get(aws.ToString(in.SecretId))
	if err != nil {
		return nil, err
	}
	s.rotation = true
	f.rotations = append(f.rotations, in)
	return &secretsmanager.RotateSecretOutput{}, nil
}

func (f *fakeSecrets) PutResourcePolicy(_ context.Context, in *secretsmanager.PutResourcePolicyInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutResourcePolicyOutput, error) {
	s, err := f.get(aws.ToString(in.SecretId))
	if err != nil {
		return nil, err
	}
	if !aws.ToBool(in.BlockPublicPolicy) {
		return nil, errors.New("the test wants public policies blocked")
	}
	s.policy = aws.ToString(in.ResourcePolicy)
	return &secretsmanager.PutResourcePolicyOutput{}, nil
}

func (f *fakeSecrets) DeleteSecret(_ context.Context, in *secretsmanager.DeleteSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error) {
	s, err := f.get(aws.ToString(in.SecretId))
	if err != nil {
		return nil, err
	}
	delete(f.byName, s.name)
	return &secretsmanager.DeleteSecretOutput{}, nil
}

func (f *fakeSecrets) ListSecrets(_ context.Context, in *secretsmanager.ListSecretsInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error) {
	var out []smtypes.SecretListEntry
	for _, s := range f.byName {
		if strings.HasPrefix(s.name, in.Filters[0].Values[0]) {
			out = append(out, smtypes.SecretListEntry{Name: aws.String(s.name), ARN: aws.String(s.arn), Tags: s.tags, LastRotatedDate: s.lastRotated})
		}
	}
	return &secretsmanager.ListSecretsOutput{SecretList: out}, nil
}

// fakeGateway keeps API keys and one usage plan's members; it pages key
// listings two at a time and enforces the tag conditions of the function's
// IAM policy.
type fakeGateway struct {
	keys    []agtypes.ApiKey
	members map[string]bool
	ids     int
	creates int
}

func (g *fakeGateway) GetApiKeys(_ context.Context, in *apigateway.GetApiKeysInput, _ ...func(*apigateway.Options)) (*apigateway.GetApiKeysOutput, error) {
	var matching []agtypes.ApiKey
	for _, k := range g.keys {
		if strings.HasPrefix(aws.ToString(k.Name), aws.ToString(in.NameQuery)) {
			matching = append(matching, k)
		}
	}
	start := 0
	if in.Position != nil {
		fmt.Sscan(*in.Position, &start)
	}
	end := min(start+2, len(matching))
	out := &apigateway.GetApiKeysOutput{Items: slices.Clone(matching[start:end])}
	if end < len(matching) {
		out.Position = aws.String(fmt.Sprint(end))
	}
	return out, nil
}

func (g *fakeGateway) CreateApiKey(_ context.Context, in *apigateway.CreateApiKeyInput, _ ...func(*apigateway.Options)) (*apigateway.CreateApiKeyOutput, error) {
	if in.Tags[environment.TagEnvironment] != "t" {
		return nil, &agtypes.UnauthorizedException{Message: aws.String("AccessDenied: aws:RequestTag/Environment")}
	}
	g.ids++
	g.creates++
	id := fmt.Sprint("key", g.ids)
	g.keys = append(g.keys, agtypes.ApiKey{Id: &id, Name: in.Name, Value: in.Value, Enabled: in.Enabled, Tags: in.Tags})
	return &apigateway.CreateApiKeyOutput{Id: &id, Name: in.Name}, nil
}

func (g *fakeGateway) DeleteApiKey(_ context.Context, in *apigateway.DeleteApiKeyInput, _ ...func(*apigateway.Options)) (*apigateway.DeleteApiKeyOutput, error) {
	for _, k := range g.keys {
		if *k.Id == *in.ApiKey && k.Tags[environment.TagEnvironment] != "t" {
			return nil, &agtypes.UnauthorizedException{Message: aws.String("AccessDenied: aws:ResourceTag/Environment")}
		}
	}
	g.keys = slices.DeleteFunc(g.keys, func(k agtypes.ApiKey) bool { return *k.Id == *in.ApiKey })
	delete(g.members, *in.ApiKey)
	return &apigateway.DeleteApiKeyOutput{}, nil
}

func (g *fakeGateway) CreateUsagePlanKey(_ context.Context, in *apigateway.CreateUsagePlanKeyInput, _ ...func(*apigateway.Options)) (*apigateway.CreateUsagePlanKeyOutput, error) {
	if g.members[*in.KeyId] {
		return nil, &agtypes.ConflictException{Message: aws.String("already in the plan")}
	}
	g.members[*in.KeyId] = true
	return &apigateway.CreateUsagePlanKeyOutput{}, nil
}

func (g *fakeGateway) GetUsagePlanKey(_ context.Context, in *apigateway.GetUsagePlanKeyInput, _ ...func(*apigateway.Options)) (*apigateway.GetUsagePlanKeyOutput, error) {
	if !g.members[*in.KeyId] {
		return nil, &agtypes.NotFoundException{Message: aws.String("not in the plan")}
	}
	return &apigateway.GetUsagePlanKeyOutput{}, nil
}

// fakeKMS keeps the secrets key's grants; a grant with the same name and
// grantee is not created twice.
type fakeKMS struct{ grants []kmstypes.GrantListEntry }

func (k *fakeKMS) CreateGrant(_ context.Context, in *kms.CreateGrantInput, _ ...func(*kms.Options)) (*kms.CreateGrantOutput, error) {
	for _, g := range k.grants {
		if aws.ToString(g.Name) == aws.ToString(in.Name) && aws.ToString(g.GranteePrincipal) == aws.ToString(in.GranteePrincipal) {
			return &kms.CreateGrantOutput{GrantId: g.GrantId}, nil
		}
	}
	id := fmt.Sprint("grant-", len(k.grants)+1)
	k.grants = append(k.grants, kmstypes.GrantListEntry{GrantId: &id, Name: in.Name, GranteePrincipal: in.GranteePrincipal,
		Operations: in.Operations, Constraints: in.Constraints})
	return &kms.CreateGrantOutput{GrantId: &id}, nil
}

func (k *fakeKMS) ListGrants(context.Context, *kms.ListGrantsInput, ...func(*kms.Options)) (*kms.ListGrantsOutput, error) {
	return &kms.ListGrantsOutput{Grants: slices.Clone(k.grants)}, nil
}

func (k *fakeKMS) RevokeGrant(_ context.Context, in *kms.RevokeGrantInput, _ ...func(*kms.Options)) (*kms.RevokeGrantOutput, error) {
	k.grants = slices.DeleteFunc(k.grants, func(g kmstypes.GrantListEntry) bool { return *g.GrantId == *in.GrantId })
	return &kms.RevokeGrantOutput{}, nil
}

type fixture struct {
	m        manager
	secrets  *fakeSecrets
	gateway  *fakeGateway
	kms      *fakeKMS
	registry *postgres.MerchantRegistry
}

func newFixture(t *testing.T, production bool) fixture {
	t.Helper()
	cfg, err := environment.Load(func(key string) any {
		switch key {
		case environment.KeyEnvironmentSuffix:
			return "t"
		case environment.KeyProduction:
			return production
		}
		return nil
	}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	dsn := server.NewDatabase(t)
	if _, err := postgres.Bootstrap(context.Background(), pgtest.Open(t, dsn), postgres.Migrations(), postgres.DefaultRoles); err != nil {
		t.Fatal(err)
	}
	pool, err := postgres.NewPool(context.Background(), postgres.PoolConfig{DSN: dsn, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	f := fixture{secrets: newFakeSecrets(), gateway: &fakeGateway{members: map[string]bool{}}, kms: &fakeKMS{},
		registry: postgres.NewMerchantRegistry(pool, 0)}
	n := 0
	f.m = manager{cfg: cfg, secrets: f.secrets, gateway: f.gateway, kms: f.kms, registry: f.registry, usagePlanID: "plan",
		secretsKeyArn: secretsKeyArn, functionArn: func(context.Context) string { return functionArn },
		log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		newValue: func() (string, error) { n++; return fmt.Sprintf("value-%d-abcdefghijklmnopqrst", n), nil }}
	return f
}

// certificate is a client certificate for the merchant, in PEM, and its
// names.
func certificate(t *testing.T, merchant string) (string, gateway.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: merchant, Organization: []string{"test"}},
		Issuer: pkix.Name{CommonName: merchant}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	text := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	names, err := gateway.ParseCertificatePEM([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return text, names
}

var steps = []string{"createSecret", "setSecret", "testSecret", "finishSecret"}

// rotate runs a whole rotation of the merchant's secret as Secrets Manager
// does, every step twice (it retries).
func (f fixture) rotate(t *testing.T, merchant, token string) {
	t.Helper()
	s, err := f.secrets.get(f.m.cfg.MerchantSecretName(merchant))
	if err != nil {
		t.Fatal(err)
	}
	s.stages[token] = []string{stagePending}
	for _, step := range steps {
		for range 2 {
			if err := f.step(token, s.arn, step); err != nil {
				t.Fatalf("%s %s: %v", token, step, err)
			}
		}
	}
}

func (f fixture) step(token, secret, step string) error {
	raw, _ := json.Marshal(RotationEvent{SecretID: secret, ClientRequestToken: token, Step: step})
	_, err := f.m.handle(context.Background(), raw)
	return err
}

func (f fixture) onboard(t *testing.T, merchant, pemText, reader string) merchantadmin.Merchant {
	t.Helper()
	raw, _ := json.Marshal(merchantadmin.Request{Action: "onboard", MerchantID: merchant, CertificatePEM: pemText, Reader: reader})
	out, err := f.m.handle(context.Background(), raw)
	if err != nil {
		t.Fatalf("onboard %s: %v", merchant, err)
	}
	return out.(merchantadmin.Response).Merchants[0]
}

func (f fixture) keyNames(merchant string) []string {
	var names []string
	for _, k := range f.gateway.keys {
		if k.Tags[environment.TagMerchant] == merchant {
			names = append(names, strings.TrimPrefix(*k.Name, "payments-t-"+merchant+"-"))
		}
	}
	slices.Sort(names)
	return names
}

// callerOf is a request with the merchant's certificate and the API key of
// the named version.
func (f fixture) callerOf(t *testing.T, merchant, version string, cert gateway.Certificate) payments.Caller {
	t.Helper()
	for _, k := range f.gateway.keys {
		if *k.Name == f.m.cfg.APIKeyName(merchant, version) {
			return payments.Caller{APIKeyID: *k.Id, CertificateSubject: cert.Subject, CertificateIssuer: cert.Issuer}
		}
	}
	t.Fatalf("no key for %s %s", merchant, version)
	return payments.Caller{}
}

// Onboarding registers the merchant, creates its secret and starts the
// rotation; the rotation creates a key the API then takes for the merchant.
func TestOnboarding(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, false)
	pemText, cert := certificate(t, "acme")
	got := f.onboard(t, "acme", pemText, "arn:aws:iam::210987654321:role/acme-payments")
	name := "payments/t/merchants/acme/api-key"
	if got.Rotation != "started" || !strings.Contains(got.SecretArn, name) {
		t.Errorf("onboarded %+v", got)
	}
	if len(f.secrets.rotations) != 1 || aws.ToString(f.secrets.rotations[0].RotationLambdaARN) != functionArn ||
		aws.ToInt64(f.secrets.rotations[0].RotationRules.AutomaticallyAfterDays) != merchantadmin.RotationDays || !aws.ToBool(f.secrets.rotations[0].RotateImmediately) {
		t.Errorf("rotations %+v, want one, by this function, every %d days, starting now", f.secrets.rotations, merchantadmin.RotationDays)
	}
	s, _ := f.secrets.get(name)
	if !hasTag(s.tags, environment.TagMerchant, "acme") || !strings.Contains(s.policy, `"AWS":"arn:aws:iam::210987654321:role/acme-payments"`) {
		t.Errorf("secret tags %v, policy %s", s.tags, s.policy)
	}
	if len(f.kms.grants) != 1 || f.kms.grants[0].Constraints.EncryptionContextSubset["SecretARN"] != s.arn ||
		!slices.Equal(f.kms.grants[0].Operations, []kmstypes.GrantOperation{kmstypes.GrantOperationDecrypt}) {
		t.Errorf("grants %+v, want the reader to decrypt this secret only", f.kms.grants)
	}

	f.rotate(t, "acme", "v1")
	if got, err := f.registry.Merchant(ctx, f.callerOf(t, "acme", "v1", cert)); err != nil || got != "acme" {
		t.Fatalf("the first key: %q, %v; want acme's", got, err)
	}
	var secret merchantSecret
	value, _ := f.secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &name, VersionStage: aws.String(stageCurrent)})
	if json.Unmarshal([]byte(aws.ToString(value.SecretString)), &secret); secret.MerchantID != "acme" || len(secret.Value) < 20 {
		t.Errorf("current secret %+v: a client reads the key here", secret)
	}

	// Onboarding again changes nothing and starts no second rotation.
	again := f.onboard(t, "acme", pemText, "arn:aws:iam::210987654321:role/acme-payments")
	if again.Rotation != "enabled" || len(f.secrets.rotations) != 1 || len(f.kms.grants) != 1 {
		t.Errorf("second onboarding: %+v, %d rotations, %d grants", again, len(f.secrets.rotations), len(f.kms.grants))
	}

	t.Run("AnotherReaderReplacesTheFirst", func(t *testing.T) {
		f.onboard(t, "acme", pemText, "arn:aws:iam::210987654321:role/acme-payments-v2")
		if len(f.kms.grants) != 1 || aws.ToString(f.kms.grants[0].GranteePrincipal) != "arn:aws:iam::210987654321:role/acme-payments-v2" {
			t.Errorf("grants %+v, want only the new reader's", f.kms.grants)
		}
	})
	t.Run("ErrCertificateOfAnotherMerchant", func(t *testing.T) {
		raw, _ := json.Marshal(merchantadmin.Request{Action: "onboard", MerchantID: "globex", CertificatePEM: pemText})
		if _, err := f.m.handle(ctx, raw); err == nil || !strings.Contains(err.Error(), "certificate_in_use") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("ErrBadRequests", func(t *testing.T) {
		for _, req := range []merchantadmin.Request{
			{Action: "onboard", MerchantID: "bad id", CertificatePEM: pemText},
			{Action: "onboard", MerchantID: "x", CertificatePEM: "not a certificate"},
			{Action: "onboard", MerchantID: "x", CertificatePEM: pemText, Reader: "*"},
			{Action: "promote"},
		} {
			raw, _ := json.Marshal(req)
			if _, err := f.m.handle(ctx, raw); err == nil {
				t.Errorf("%+v accepted", req)
			}
		}
	})
}

func TestRotation(t *testing.T) {
	ctx := context.Background()
	onboarded := func(t *testing.T) (fixture, gateway.Certificate) {
		f := newFixture(t, false)
		pemText, cert := certificate(t, "acme")
		f.onboard(t, "acme", pemText, "")
		return f, cert
	}
	// pendingThroughSetSecret is acme's key rotation run to its
	// testSecret step: version v1 pending, createSecret and setSecret done.
	pendingThroughSetSecret := func(t *testing.T) (fixture, *fakeSecret) {
		t.Helper()
		f, _ := onboarded(t)
		s, _ := f.secrets.get("payments/t/merchants/acme/api-key")
		s.stages["v1"] = []string{stagePending}
		for _, step := range steps[:2] {
			if err := f.step("v1", s.arn, step); err != nil {
				t.Fatal(err)
			}
		}
		return f, s
	}

	t.Run("EveryStepIsIdempotent", func(t *testing.T) {
		f, _ := onboarded(t)
		f.rotate(t, "acme", "v1")
		if f.secrets.puts != 1 || f.gateway.creates != 1 {
			t.Errorf("puts %d creates %d: a retried step repeated its work", f.secrets.puts, f.gateway.creates)
		}
		for _, k := range f.gateway.keys {
			if !f.gateway.members[*k.Id] || !k.Enabled {
				t.Errorf("key %s is not an enabled member of the usage plan", *k.Name)
			}
		}
	})

	t.Run("PreviousKeyOverlapsOnePeriodThenRetires", func(t *testing.T) {
		f, cert := onboarded(t)
		f.rotate(t, "acme", "v1")
		v1 := f.callerOf(t, "acme", "v1", cert)
		f.rotate(t, "acme", "v2")
		if got := f.keyNames("acme"); !slices.Equal(got, []string{"v1", "v2"}) {
			t.Errorf("after two rotations %v: the previous key must still work", got)
		}
		if _, err := f.registry.Merchant(ctx, v1); err != nil {
			t.Errorf("the previous key is refused: %v", err)
		}
		f.rotate(t, "acme", "v3")
		if got := f.keyNames("acme"); !slices.Equal(got, []string{"v2", "v3"}) {
			t.Errorf("after three rotations %v: the key from two rotations ago must be gone", got)
		}
		if _, err := f.registry.Merchant(ctx, v1); err == nil {
			t.Error("the retired key is still registered")
		}
	})

	// Names only narrow listings: "acme-" starts "acme-2-"'s key names, and
	// "t-" the keys of environment "t-x"; the tags tell them apart.
	t.Run("OtherMerchantsAndEnvironmentsAreLeftAlone", func(t *testing.T) {
		f, _ := onboarded(t)
		pem2, _ := certificate(t, "acme-2")
		f.onboard(t, "acme-2", pem2, "")
		f.rotate(t, "acme-2", "w1")
		f.gateway.keys = append(f.gateway.keys, agtypes.ApiKey{Id: aws.String("other-env"), Name: aws.String("payments-t-acme-x9"),
			Value: aws.String("other-environment"), Enabled: true, Tags: map[string]string{environment.TagEnvironment: "t-x", environment.TagMerchant: "acme"}})
		for _, v := range []string{"v1", "v2", "v3"} {
			f.rotate(t, "acme", v)
		}
		if got := f.keyNames("acme-2"); !slices.Equal(got, []string{"w1"}) {
			t.Errorf("acme-2's keys %v", got)
		}
		if !slices.ContainsFunc(f.gateway.keys, func(k agtypes.ApiKey) bool { return *k.Id == "other-env" }) {
			t.Error("another environment's key was deleted")
		}
	})

	t.Run("AbandonedRotationIsCleanedUp", func(t *testing.T) {
		f, _ := onboarded(t)
		s, _ := f.secrets.get("payments/t/merchants/acme/api-key")
		s.stages["lost"] = []string{stagePending}
		for _, step := range steps[:2] {
			if err := f.step("lost", s.arn, step); err != nil {
				t.Fatal(err)
			}
		}
		delete(s.stages, "lost") // Secrets Manager dropped the failed version
		f.rotate(t, "acme", "v1")
		if got := f.keyNames("acme"); !slices.Equal(got, []string{"v1"}) {
			t.Errorf("keys %v: the abandoned rotation's key must be retired", got)
		}
	})

	t.Run("ErrTestSecretCatchesAWrongValue", func(t *testing.T) {
		f, s := pendingThroughSetSecret(t)
		f.gateway.keys[len(f.gateway.keys)-1].Value = aws.String("tampered-value-0123456789")
		if err := f.step("v1", s.arn, "testSecret"); err == nil || !strings.Contains(err.Error(), "does not hold the pending value") {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("ErrTestSecretCatchesAnUnregisteredKey", func(t *testing.T) {
		f, s := pendingThroughSetSecret(t)
		if _, err := f.registry.RetainAPIKeys(ctx, "acme", nil); err != nil {
			t.Fatal(err)
		}
		if err := f.step("v1", s.arn, "testSecret"); err == nil || !strings.Contains(err.Error(), "not registered") {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("ErrNotAMerchantSecret", func(t *testing.T) {
		f, _ := onboarded(t)
		f.secrets.byName["payments/t/api-key"] = &fakeSecret{name: "payments/t/api-key", arn: "arn:other", rotation: true,
			values: map[string]string{}, stages: map[string][]string{"v1": {stagePending}}}
		if err := f.step("v1", "arn:other", "createSecret"); err == nil {
			t.Fatal("rotated a secret that is no merchant's")
		}
	})

	t.Run("ErrRotationDisabledOrVersionUnstaged", func(t *testing.T) {
		f, _ := onboarded(t)
		s, _ := f.secrets.get("payments/t/merchants/acme/api-key")
		if err := f.step("nope", s.arn, "createSecret"); err == nil {
			t.Error("accepted a version that is not staged")
		}
		s.stages["v1"] = []string{stagePending}
		if err := f.step("v1", s.arn, "rollback"); err == nil {
			t.Error("accepted an unknown step")
		}
		s.rotation = false
		if err := f.step("v1", s.arn, "createSecret"); err == nil {
			t.Error("rotated a secret without rotation enabled")
		}
	})
}

// Offboarding revokes everything of the merchant: registry first, then its
// keys, its reader's grant and its secret; its payments stay.
func TestOffboarding(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, false)
	pemText, cert := certificate(t, "acme")
	f.onboard(t, "acme", pemText, "arn:aws:iam::210987654321:role/acme-payments")
	f.rotate(t, "acme", "v1")
	caller := f.callerOf(t, "acme", "v1", cert)
	pem2, _ := certificate(t, "globex")
	f.onboard(t, "globex", pem2, "")
	f.rotate(t, "globex", "g1")

	raw, _ := json.Marshal(merchantadmin.Request{Action: "offboard", MerchantID: "acme"})
	out, err := f.m.handle(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.(merchantadmin.Response).Merchants[0]; !strings.HasPrefix(got.SecretArn, "arn:aws:secretsmanager:") || got.Rotation != merchantadmin.Deleted {
		t.Errorf("offboarded %+v, want the deleted secret's ARN", got)
	}
	if _, err := f.registry.Merchant(ctx, caller); err == nil {
		t.Error("the offboarded merchant's key still works")
	}
	if len(f.keyNames("acme")) != 0 || len(f.kms.grants) != 0 {
		t.Errorf("left behind: keys %v, grants %v", f.keyNames("acme"), f.kms.grants)
	}
	if _, err := f.secrets.get("payments/t/merchants/acme/api-key"); err == nil {
		t.Error("the secret was not deleted")
	}
	if got := f.keyNames("globex"); len(got) != 1 {
		t.Errorf("globex's keys %v, want its one", got)
	}
	if _, err := f.m.handle(ctx, raw); err != nil {
		t.Errorf("offboarding again: %v", err)
	}

	list, _ := json.Marshal(merchantadmin.Request{Action: "list"})
	out, err = f.m.handle(ctx, list)
	if merchants := out.(merchantadmin.Response).Merchants; err != nil || len(merchants) != 1 || merchants[0].MerchantID != "globex" {
		t.Errorf("list: %+v, %v", out, err)
	}
}

// Deleting a non-production stack deletes every merchant's keys and
// secrets of the environment; a production stack keeps them.
func TestStackDeletion(t *testing.T) {
	for _, production := range []bool{false, true} {
		f := newFixture(t, production)
		for _, merchant := range []string{"acme", "globex"} {
			pemText, _ := certificate(t, merchant)
			f.onboard(t, merchant, pemText, "arn:aws:iam::210987654321:role/"+merchant)
			f.rotate(t, merchant, merchant+"-v1")
		}
		f.gateway.keys = append(f.gateway.keys, agtypes.ApiKey{Id: aws.String("other-env"), Name: aws.String("payments-t-x-acme-1"),
			Tags: map[string]string{environment.TagEnvironment: "t-x", environment.TagMerchant: "acme"}})
		raw, _ := json.Marshal(cfn.Event{RequestType: cfn.RequestDelete, ResponseURL: "http://127.0.0.1:1/unreachable"})
		// The response cannot be delivered here; what matters is what was
		// deleted before it was sent.
		_, _ = f.m.handle(context.Background(), raw)
		keys, secrets, grants := len(f.gateway.keys), len(f.secrets.byName), len(f.kms.grants)
		switch {
		case !production && (keys != 1 || secrets != 0 || grants != 0):
			t.Errorf("non-production: %d keys (want only the other environment's), %d secrets and %d grants left", keys, secrets, grants)
		case production && (keys != 3 || secrets != 2 || grants != 2):
			t.Errorf("production: %d keys, %d secrets, %d grants left, want everything kept", keys, secrets, grants)
		}
	}
}

func TestRandomValue(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		v, err := randomValue()
		if err != nil || len(v) != 40 || strings.Trim(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") != "" || seen[v] {
			t.Fatalf("value %q, %v", v, err)
		}
		seen[v] = true
	}
}

func TestUnqualified(t *testing.T) {
	for in, want := range map[string]string{functionArn: functionArn, functionArn + ":live": functionArn, functionArn + ":$LATEST": functionArn} {
		if got := unqualified(in); got != want {
			t.Errorf("unqualified(%s) = %s", in, got)
		}
	}
}
