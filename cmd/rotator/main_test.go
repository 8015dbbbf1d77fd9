package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	agtypes "github.com/aws/aws-sdk-go-v2/service/apigateway/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// fakeSecrets keeps versions (value and stages) of one secret, as Secrets
// Manager does, including the staging rules the rotator relies on.
type fakeSecrets struct {
	rotation bool
	values   map[string]string   // version -> value
	stages   map[string][]string // version -> stages
	puts     int
}

func newFakeSecrets() *fakeSecrets {
	return &fakeSecrets{rotation: true,
		values: map[string]string{"v0": `{"name":"payments-t-v0","value":"initial-value-0123456789"}`},
		stages: map[string][]string{"v0": {stageCurrent}}}
}

// startRotation is what Secrets Manager does before calling createSecret:
// it stages the new token as AWSPENDING without a value.
func (f *fakeSecrets) startRotation(token string) { f.stages[token] = []string{stagePending} }

func (f *fakeSecrets) DescribeSecret(_ context.Context, in *secretsmanager.DescribeSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	copyStages := map[string][]string{}
	for v, s := range f.stages {
		copyStages[v] = slices.Clone(s)
	}
	return &secretsmanager.DescribeSecretOutput{RotationEnabled: aws.Bool(f.rotation), VersionIdsToStages: copyStages}, nil
}

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	v := aws.ToString(in.VersionId)
	value, ok := f.values[v]
	if !ok || !slices.Contains(f.stages[v], aws.ToString(in.VersionStage)) {
		return nil, &smtypes.ResourceNotFoundException{Message: aws.String("no such version")}
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: &value, VersionId: &v}, nil
}

func (f *fakeSecrets) PutSecretValue(_ context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	v := aws.ToString(in.ClientRequestToken)
	if old, ok := f.values[v]; ok && old != aws.ToString(in.SecretString) {
		return nil, &smtypes.ResourceExistsException{Message: aws.String("a version with this token has other content")}
	}
	f.puts++
	f.values[v] = aws.ToString(in.SecretString)
	f.stages[v] = in.VersionStages
	return &secretsmanager.PutSecretValueOutput{}, nil
}

func (f *fakeSecrets) UpdateSecretVersionStage(_ context.Context, in *secretsmanager.UpdateSecretVersionStageInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	to, from := aws.ToString(in.MoveToVersionId), aws.ToString(in.RemoveFromVersionId)
	if !slices.Contains(f.stages[from], stageCurrent) {
		return nil, errors.New("RemoveFromVersionId does not hold AWSCURRENT")
	}
	for v, s := range f.stages { // AWSPREVIOUS moves to the version losing AWSCURRENT
		f.stages[v] = slices.DeleteFunc(s, func(x string) bool { return x == stagePrevious })
	}
	f.stages[from] = append(slices.DeleteFunc(f.stages[from], func(x string) bool { return x == stageCurrent }), stagePrevious)
	f.stages[to] = append(slices.DeleteFunc(f.stages[to], func(x string) bool { return x == stagePending }), stageCurrent)
	return &secretsmanager.UpdateSecretVersionStageOutput{}, nil
}

// fakeGateway keeps API keys and one usage plan's members; it pages key
// listings two at a time.
type fakeGateway struct {
	keys    []agtypes.ApiKey
	members map[string]bool
	ids     int
	creates int
}

func (g *fakeGateway) GetApiKeys(_ context.Context, in *apigateway.GetApiKeysInput, _ ...func(*apigateway.Options)) (*apigateway.GetApiKeysOutput, error) {
	start := 0
	if in.Position != nil {
		fmt.Sscan(*in.Position, &start)
	}
	end := min(start+2, len(g.keys))
	out := &apigateway.GetApiKeysOutput{Items: slices.Clone(g.keys[start:end])}
	if end < len(g.keys) {
		out.Position = aws.String(fmt.Sprint(end))
	}
	return out, nil
}

// environmentTags are the tags of the test environment's keys; the fake
// enforces the rotator's IAM policy, which creates and deletes only keys
// that carry them.
var environmentTags = map[string]string{"Environment": "t"}

func (g *fakeGateway) CreateApiKey(_ context.Context, in *apigateway.CreateApiKeyInput, _ ...func(*apigateway.Options)) (*apigateway.CreateApiKeyOutput, error) {
	if in.Tags["Environment"] != "t" {
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
		if *k.Id == *in.ApiKey && k.Tags["Environment"] != "t" {
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

func newRotator() (rotator, *fakeSecrets, *fakeGateway) {
	s, g := newFakeSecrets(), &fakeGateway{members: map[string]bool{}}
	// The first key, as CloudFormation creates it with the stack's tags.
	g.CreateApiKey(context.Background(), &apigateway.CreateApiKeyInput{Name: aws.String("payments-t-v0"), Value: aws.String("initial-value-0123456789"), Enabled: true, Tags: environmentTags})
	g.members["key1"] = true
	n := 0
	return rotator{secrets: s, gateway: g, usagePlanID: "plan", keyPrefix: "payments-t-", tags: environmentTags, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		newValue: func() (string, error) { n++; return fmt.Sprintf("value-%d-abcdefghijklmnopqrst", n), nil }}, s, g
}

var steps = []string{"createSecret", "setSecret", "testSecret", "finishSecret"}

// rotate runs a whole rotation, every step twice (Secrets Manager retries).
func rotate(t *testing.T, r rotator, s *fakeSecrets, token string) {
	t.Helper()
	s.startRotation(token)
	for _, step := range steps {
		for range 2 {
			if err := r.handle(context.Background(), Event{SecretID: "secret", ClientRequestToken: token, Step: step}); err != nil {
				t.Fatalf("%s %s: %v", token, step, err)
			}
		}
	}
}

func keyNames(g *fakeGateway) []string {
	var names []string
	for _, k := range g.keys {
		names = append(names, *k.Name)
	}
	slices.Sort(names)
	return names
}

func TestRotation(t *testing.T) {
	t.Run("EveryStepIsIdempotent", func(t *testing.T) {
		r, s, g := newRotator()
		rotate(t, r, s, "v1")
		if s.puts != 1 || g.creates != 2 { // the initial key and the rotated one
			t.Errorf("puts %d creates %d: a retried step repeated its work", s.puts, g.creates)
		}
		if !slices.Contains(s.stages["v1"], stageCurrent) || !slices.Contains(s.stages["v0"], stagePrevious) {
			t.Errorf("stages %v", s.stages)
		}
		for _, k := range g.keys {
			if !g.members[*k.Id] || !k.Enabled {
				t.Errorf("key %s is not an enabled member of the usage plan", *k.Name)
			}
		}
	})

	t.Run("PreviousKeyOverlapsOnePeriodThenRetires", func(t *testing.T) {
		r, s, g := newRotator()
		rotate(t, r, s, "v1")
		if got := keyNames(g); !slices.Equal(got, []string{"payments-t-v0", "payments-t-v1"}) {
			t.Errorf("after one rotation %v: the previous key must still work", got)
		}
		rotate(t, r, s, "v2")
		if got := keyNames(g); !slices.Equal(got, []string{"payments-t-v1", "payments-t-v2"}) {
			t.Errorf("after two rotations %v: the key from two rotations ago must be gone", got)
		}
		rotate(t, r, s, "v3")
		if got := keyNames(g); !slices.Equal(got, []string{"payments-t-v2", "payments-t-v3"}) {
			t.Errorf("after three rotations %v", got)
		}
	})

	// "pr1-" is a prefix of "pr1-x-": a longer suffix's keys share the name
	// prefix, and only their tags tell them apart.
	t.Run("AnotherEnvironmentsKeysAreLeftAlone", func(t *testing.T) {
		r, s, g := newRotator()
		g.keys = append(g.keys, agtypes.ApiKey{Id: aws.String("other"), Name: aws.String("payments-t-x-v9"), Value: aws.String("other-environment"),
			Enabled: true, Tags: map[string]string{"Environment": "t-x"}})
		rotate(t, r, s, "v1")
		rotate(t, r, s, "v2")
		if got := keyNames(g); !slices.Equal(got, []string{"payments-t-v1", "payments-t-v2", "payments-t-x-v9"}) {
			t.Errorf("keys %v: the other environment's key must survive", got)
		}
		for _, k := range g.keys {
			if *k.Id != "other" && k.Tags["Environment"] != "t" {
				t.Errorf("key %s created without the environment's tag: %v", *k.Name, k.Tags)
			}
		}
	})

	t.Run("AbandonedRotationIsCleanedUp", func(t *testing.T) {
		r, s, g := newRotator()
		s.startRotation("lost")
		for _, step := range steps[:2] {
			if err := r.handle(context.Background(), Event{SecretID: "secret", ClientRequestToken: "lost", Step: step}); err != nil {
				t.Fatal(err)
			}
		}
		delete(s.stages, "lost") // Secrets Manager dropped the failed version
		rotate(t, r, s, "v1")
		if got := keyNames(g); !slices.Equal(got, []string{"payments-t-v0", "payments-t-v1"}) {
			t.Errorf("keys %v: the abandoned rotation's key must be retired", got)
		}
	})

	t.Run("ErrTestSecretCatchesAWrongValue", func(t *testing.T) {
		r, s, g := newRotator()
		s.startRotation("v1")
		for _, step := range steps[:2] {
			if err := r.handle(context.Background(), Event{SecretID: "secret", ClientRequestToken: "v1", Step: step}); err != nil {
				t.Fatal(err)
			}
		}
		g.keys[len(g.keys)-1].Value = aws.String("tampered-value-0123456789")
		err := r.handle(context.Background(), Event{SecretID: "secret", ClientRequestToken: "v1", Step: "testSecret"})
		if err == nil || !strings.Contains(err.Error(), "does not hold the pending value") {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("ErrNotAUsagePlanMember", func(t *testing.T) {
		r, s, g := newRotator()
		s.startRotation("v1")
		for _, step := range steps[:2] {
			r.handle(context.Background(), Event{SecretID: "secret", ClientRequestToken: "v1", Step: step})
		}
		g.members = map[string]bool{}
		if err := r.handle(context.Background(), Event{SecretID: "secret", ClientRequestToken: "v1", Step: "testSecret"}); err == nil {
			t.Fatal("a key outside the usage plan passed the test step")
		}
	})

	t.Run("ErrRotationDisabled", func(t *testing.T) {
		r, s, _ := newRotator()
		s.rotation = false
		s.startRotation("v1")
		if err := r.handle(context.Background(), Event{SecretID: "secret", ClientRequestToken: "v1", Step: "createSecret"}); err == nil {
			t.Fatal("rotated a secret without rotation enabled")
		}
	})

	t.Run("ErrUnstagedVersion", func(t *testing.T) {
		r, _, _ := newRotator()
		if err := r.handle(context.Background(), Event{SecretID: "secret", ClientRequestToken: "nope", Step: "createSecret"}); err == nil {
			t.Fatal("accepted a version that is not staged")
		}
	})

	t.Run("ErrUnknownStep", func(t *testing.T) {
		r, s, _ := newRotator()
		s.startRotation("v1")
		if err := r.handle(context.Background(), Event{SecretID: "secret", ClientRequestToken: "v1", Step: "rollback"}); err == nil {
			t.Fatal("accepted an unknown step")
		}
	})
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
